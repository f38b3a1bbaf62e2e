"""What an operator sees: structured logs with correlation ids and metrics, and never a key or secret."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from pathlib import Path

import pytest

from devstack.lambda_events import signed_webhook_event
from devstack.stripe_events import stripe_event, stripe_object
from tests.support.api import call
from tests.support.invoke import invoke
from tests.support.records import given_order_with_payment, metadata

SECRET_PATTERNS = re.compile(r"(sk_test_[A-Za-z0-9]+|sk_live_|whsec_[A-Za-z0-9_]+|_secret_[A-Za-z0-9]+)")
LAYER = Path(__file__).resolve().parents[2] / "layers" / "common" / "payments"


@pytest.fixture
def log_lines():
    """Everything the product logs, down to DEBUG, formatted exactly as in Lambda (JSON lines)."""
    from payments.core.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.addHandler(handler)
    logger.setLevel("DEBUG")
    yield lambda: buffer.getvalue()
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.mark.emulator
def test_a_payment_flow_logs_no_key_secret_or_client_secret(live, catalog, orders_handler, checkout_handler,
                                                             payment_callback_handler, log_lines):
    price = catalog.price(700, name="Cap")
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id}]}).body
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    assert "_secret_" in checkout["clientSecret"]  # the client gets it; the logs must not
    bad = signed_webhook_event(stripe_event("payment_intent.succeeded", stripe_object("payment_intent")),
                               "whsec_wrong_secret_value")
    assert invoke(payment_callback_handler, bad).status == 400
    output = log_lines()
    assert "webhook rejected" in output  # the capture sees the handlers' logs
    assert SECRET_PATTERNS.findall(output) == []


def test_webhook_logs_carry_the_stripe_event_id_as_correlation_id(aws, payment_callback_handler, log_lines):
    order, payment = given_order_with_payment()
    event = stripe_event("payment_intent.succeeded", stripe_object(
        "payment_intent", id=payment.stripe_payment_intent_id, amount=order.amount, amount_received=order.amount,
        currency="usd", metadata=metadata(order, payment)))
    invoke(payment_callback_handler, signed_webhook_event(event, "whsec_local_payment"))
    lines = [json.loads(line) for line in log_lines().splitlines()]
    handled = [line for line in lines if line.get("message") == "webhook handled"]
    assert handled and handled[0]["correlation_id"] == event["id"] and handled[0]["result"] == "processed"
    assert handled[0]["stripe_event_type"] == "payment_intent.succeeded"


def test_no_request_path_can_scan_a_table():
    # The product's code never calls scan(); the tests' own inspection helpers live under tests/.
    sources = list(LAYER.rglob("*.py"))
    offenders = [str(p.relative_to(LAYER)) for p in sources if re.search(r"\.scan\(|\bScan\b", p.read_text())]
    assert len(sources) > 20 and offenders == []


class _RecordingSegment:
    def __init__(self, recorded: list[tuple[str, str, object]]):
        self.recorded = recorded

    def put_metadata(self, key, value, namespace="default"):
        self.recorded.append(("metadata", key, value))

    def put_annotation(self, key, value):
        self.recorded.append(("annotation", key, value))

    def add_exception(self, *args, **kwargs):
        self.recorded.append(("exception", "", args))


class _RecordingProvider:
    """An X-Ray provider that keeps what the tracer would send, as tracing does in Lambda."""

    def __init__(self):
        self.recorded: list[tuple[str, str, object]] = []

    @contextlib.contextmanager
    def in_subsegment(self, name=None, **kwargs):
        self.recorded.append(("subsegment", name, None))
        yield _RecordingSegment(self.recorded)


@pytest.mark.emulator
def test_no_trace_can_hold_a_client_secret(aws, catalog, orders_handler, checkout_handler, subscribe_handler,
                                           monkeypatch):
    from payments.core.observability import tracer

    recording = _RecordingProvider()
    monkeypatch.setattr(tracer, "provider", recording)
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price(700).id}]}).body
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert "_secret_" in checkout.body["clientSecret"]
    assert ("subsegment", "## lambda_handler", None) in recording.recorded  # the tracer did run around each call
    traced = json.dumps([entry for entry in recording.recorded if entry[0] != "subsegment"], default=str)
    assert "_secret_" not in traced and checkout.body["clientSecret"] not in traced
    assert "sk_" not in traced and "pk_test" not in traced and "whsec_" not in traced


def test_the_template_turns_response_capture_off_for_every_function():
    from devstack.template import load_template

    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"

"""Stripe's events through EventBridge: a direct invocation by a rule carries the event in ``detail`` and is applied
without a signature, through the same rules and ledger as a webhook; an HTTP request that merely looks like one
is still a webhook delivery and needs its signature."""

from __future__ import annotations

import json

import pytest

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import function_url_event, signed_webhook_event, stripe_eventbridge_event
from devstack.stripe_events import stripe_event, stripe_object
from payments.core.errors import UpstreamUnavailable
from payments.data import store
from tests.support.invoke import invoke
from tests.support.records import given_order_with_payment, ledger_entries, metadata, reload

SOURCE = "aws.partner/stripe.com/ed_61RtestDestination000000000000"


def intent_event(event_type, order, payment):
    intent = stripe_object("payment_intent", id=payment.stripe_payment_intent_id, amount=order.amount,
                           amount_received=order.amount, currency=order.currency, status="succeeded",
                           metadata=metadata(order, payment))
    return stripe_event(event_type, intent)


@pytest.fixture
def partner_source(monkeypatch):
    monkeypatch.setenv("STRIPE_EVENT_SOURCE_NAME", SOURCE)
    from tests.support import reset_clients

    reset_clients()
    yield SOURCE
    reset_clients()


@pytest.fixture
def paid(aws, partner_source):
    order, payment = given_order_with_payment()
    return order, payment, intent_event("payment_intent.succeeded", order, payment)


def from_eventbridge(handler, envelope):
    return handler.lambda_handler(envelope, LambdaContext(function_name="payment_callback"))


def test_an_envelope_from_the_partner_source_is_applied_and_the_same_event_by_webhook_is_a_duplicate(
        payment_callback_handler, paid):
    order, payment, event = paid

    answer = from_eventbridge(payment_callback_handler, stripe_eventbridge_event(event, source=SOURCE))

    assert answer == {"received": True, "result": "processed"}
    assert reload(order).status == "paid" and reload(payment).status == "succeeded"
    assert [(e.event_id, e.via) for e in ledger_entries()] == [(event["id"], "eventbridge")]
    by_webhook = invoke(payment_callback_handler, signed_webhook_event(event, "whsec_local_payment"))
    assert (by_webhook.status, by_webhook.body["result"]) == (200, "duplicate")
    assert from_eventbridge(payment_callback_handler, stripe_eventbridge_event(event, source=SOURCE))["result"] \
        == "duplicate"


def test_an_unsigned_function_url_post_with_an_envelope_body_is_a_400_and_writes_nothing(
        payment_callback_handler, paid):
    order, _payment, event = paid
    body = json.dumps(stripe_eventbridge_event(event, source=SOURCE))

    answer = invoke(payment_callback_handler, function_url_event(body, headers={"content-type": "application/json"}))

    assert (answer.status, answer.error_code) == (400, "missing_signature")
    assert ledger_entries() == [] and reload(order).status == "pending"


def test_an_envelope_from_another_source_is_ignored_and_logged(payment_callback_handler, paid, caplog):
    order, _, event = paid

    answer = from_eventbridge(payment_callback_handler,
                              stripe_eventbridge_event(event, source="aws.partner/stripe.com/ed_someone_else"))

    assert answer == {"received": True, "result": "ignored"}
    assert ledger_entries() == [] and reload(order).status == "pending"
    assert "not our Stripe partner source" in caplog.text


def test_without_a_configured_source_no_envelope_is_taken(payment_callback_handler, aws):
    order, payment = given_order_with_payment()
    event = intent_event("payment_intent.succeeded", order, payment)

    answer = from_eventbridge(payment_callback_handler, stripe_eventbridge_event(event, source=SOURCE))

    assert answer["result"] == "ignored" and reload(order).status == "pending"


def test_an_envelope_without_a_stripe_event_is_ignored(payment_callback_handler, paid):
    envelope = stripe_eventbridge_event({"id": "evt_1", "type": "payment_intent.succeeded"}, source=SOURCE)
    envelope["detail"] = {"thin": True}

    assert from_eventbridge(payment_callback_handler, envelope) == {"received": True, "result": "ignored"}
    assert ledger_entries() == []


def test_a_transient_fault_raises_so_eventbridge_retries(payment_callback_handler, paid, monkeypatch):
    order, _, event = paid

    def unavailable(keys):
        raise UpstreamUnavailable("the database is busy")

    with monkeypatch.context() as patched, pytest.raises(UpstreamUnavailable):
        patched.setattr(store, "read_items", unavailable)
        from_eventbridge(payment_callback_handler, stripe_eventbridge_event(event, source=SOURCE))
    assert reload(order).status == "pending"
    assert from_eventbridge(payment_callback_handler, stripe_eventbridge_event(event, source=SOURCE))["result"] \
        == "processed"

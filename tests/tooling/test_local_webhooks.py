"""The local stack's webhooks and schedules (``devstack.local_webhooks``, ``devstack.local_schedules``): endpoints
registered at the emulator by the product's registration code, one forwarding route for ``stripe listen``, an
endpoint taken down, and the reconciler on a schedule recovering what was lost."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import stripe

from devstack.stack_process import StackProcess
from devstack.template import REPO_ROOT
from payments.webhooks import endpoints
from tests.support.local_stack import request, stack_process

pytestmark = pytest.mark.emulator


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[StackProcess]:
    with stack_process(tmp_path_factory.mktemp("state"), None, "--schedule-seconds", "2") as running:
        yield running


def emulator_client(stack: StackProcess) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_stripe_emulator", base_addresses={"api": stack.config["stripe"]})


def test_the_callbacks_endpoints_are_registered_at_the_emulator_with_their_rules_event_types(stack):
    webhooks = stack.config["webhooks"]
    at_stripe = {e.id: e for e in emulator_client(stack).v1.webhook_endpoints.list({"limit": 100}).data}
    assert set(webhooks) == set(endpoints.NAMES) | set(endpoints.THIN_DESTINATIONS)
    for name in endpoints.THIN_DESTINATIONS:  # an event destination with thin payloads, registered at the emulator
        assert webhooks[name]["thin"] and webhooks[name]["events"] == ["v1.billing.meter.error_report_triggered"]
    for spec in endpoints.ENDPOINTS:
        hook = webhooks[spec.name]
        endpoint = at_stripe[hook["id"]]
        assert hook["function"] == spec.function
        assert tuple(sorted(endpoint.enabled_events)) == spec.event_types() == tuple(hook["events"])
        assert endpoint.url == stack.config["functionUrls"][spec.function]
        assert endpoint.api_version == stripe.api_version and endpoint.metadata["stack"] == "local"


def test_one_stripe_listen_route_hands_each_event_to_the_callback_for_its_type(stack):
    url = stack.config["stripeListenUrl"]
    for event_type, function in (("payment_intent.succeeded", "PaymentCallbackFunction"),
                                 ("charge.refunded", "RefundCallbackFunction"),
                                 ("invoice.paid", "RenewalCallbackFunction")):
        body = json.dumps({"id": "evt_forwarded", "object": "event", "type": event_type}).encode()
        status, answer, _ = request("POST", url, body=body, headers={"stripe-signature": "t=1,v1=bad"})
        # the callback itself verifies: a bad signature is its 400
        assert (status, answer["error"]["code"]) == (400, "invalid_signature"), (event_type, answer)
        assert stack.wait_for_output(rf"POST /_local/stripe-events 400 \d+ms -> {function}"), function
    body = json.dumps({"id": "evt_other", "object": "event", "type": "customer.created"}).encode()
    status, answer, _ = request("POST", url, body=body)
    assert status == 200 and answer["result"] == "ignored"


def test_a_payment_whose_endpoint_was_down_is_paid_by_the_scheduled_reconciler(stack):
    client = emulator_client(stack)
    token = request("GET", f"{stack.api}/_local/token?user=alice")[1]["token"]
    status, _, _ = request("POST", f"{stack.api}/_local/webhooks/payment/down")
    assert status == 200
    try:
        price = next(p for p in stack.config["catalog"] if not p["recurring"])
        _, order, _ = request("POST", f"{stack.api}/orders", token=token,
                              body={"items": [{"priceId": price["priceId"]}]})
        _, pay, _ = request("POST", f"{stack.api}/checkout", token=token, body={"orderId": order["orderId"]})
        intent = pay["clientSecret"].split("_secret_")[0]
        client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
        client.v1.payment_intents.confirm(intent)
        endpoint_id = stack.config["webhooks"]["payment"]["id"]
        deadline = time.monotonic() + 20
        while not any(d["status"] == "down" for d in json.loads(client.raw_request(
                "get", f"/_test/webhook_endpoints/{endpoint_id}/deliveries").body)["deliveries"]):
            assert time.monotonic() < deadline, "the delivery was never lost"
            time.sleep(0.1)
    finally:
        request("POST", f"{stack.api}/_local/webhooks/payment/up")
    found = stack.wait_for_output(r"ReconcileFunction \(Schedule, every 2 s locally\): (\{[^\n]*'eventsApplied': 1)",
                                  timeout=30)
    assert found, stack.output[-3000:]
    _, paid, _ = request("GET", f"{stack.api}/orders/{order['orderId']}", token=token)
    assert paid["status"] == "paid"


def test_only_loopback_clients_and_known_endpoints_are_switched(stack):
    status, answer, _ = request("POST", f"{stack.api}/_local/webhooks/nonesuch/down")
    assert status == 404 and "payment" in answer["message"]
    status, _, _ = request("POST", f"{stack.api}/_local/webhooks/payment/down?seconds=-1")
    assert status == 400


# --- make trigger and make smoke, against the local stack -----------------------------------------------------


def run_module(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True,  # noqa: S603
                          timeout=180, check=False)


def test_make_trigger_emits_an_event_shows_the_callbacks_answer_and_sends_it_again(stack):
    emitted = run_module("devstack.trigger", "payment_intent.succeeded", "--api", stack.api)
    assert emitted.returncode == 0, emitted.stdout + emitted.stderr
    event_id = re.search(r"(evt_\w+) \(payment_intent.succeeded\) emitted", emitted.stdout).group(1)
    assert "payment: 200 ignored" in emitted.stdout  # a Stripe object we never created, as stripe trigger's

    again = run_module("devstack.trigger", event_id, "--api", stack.api)
    assert again.returncode == 0 and "payment: 200 ignored" in again.stdout, again.stdout + again.stderr
    unknown = run_module("devstack.trigger", "customer.created", "--api", stack.api)
    assert unknown.returncode == 2 and "these can" in unknown.stderr


def test_make_smoke_walks_a_payment_and_its_refund_and_says_what_is_wrong(stack):
    passed = run_module("devstack.smoke", "--api", stack.api)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Smoke test passed" in passed.stdout and "the refund webhook landed" in passed.stdout

    refused = run_module("devstack.smoke", "--api", stack.api, "--token", "a.b.c")
    assert refused.returncode == 1 and "the JWT authorizer refused the token" in refused.stdout

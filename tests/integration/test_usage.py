"""Usage-based billing against the emulator's Billing Meters: a usage report is written first and sent as a meter
event whose identifier comes from the caller's idempotencyKey, so however often and however concurrently it is
sent, the meter counts it once; and the meters' error reports (thin events) are logged and counted once."""

from __future__ import annotations

import json
import time

import pytest

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, function_url_event
from devstack.stripe_emulator import received_meter_events, trigger_meter_error_report
from devstack.stripe_events import encode_event, sign_payload
from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import CustomerRecord, UsageRecord
from tests.support import reset_clients
from tests.support.api import ADMIN, ALICE, BOB, call
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.races import race
from tests.support.stub_http import closed_port_url

pytestmark = pytest.mark.emulator

METER = "api_calls"


@pytest.fixture
def meter(stripe_env):
    return stripe_env.client().v1.billing.meters.create(
        {"display_name": "API calls", "event_name": METER, "default_aggregation": {"formula": "sum"}})


@pytest.fixture
def customer(aws, stripe_env):
    """Alice's Stripe customer, as a first subscription leaves it."""
    stripe_customer = stripe_env.client().v1.customers.create({"metadata": {"userId": ALICE}})
    store.put(CustomerRecord(ALICE, stripe_customer_id=stripe_customer.id, created_at=now_iso()))
    return stripe_customer


def report(usage_handler, key, value=5, *, user=ALICE, caller=ADMIN, admin=True):
    return call(usage_handler, "POST", "/usage", user=caller, admin=admin,
                body={"userId": user, "meter": METER, "value": value, "idempotencyKey": key})


def total(stripe_env, meter, customer) -> float:
    now = int(time.time())
    summary = stripe_env.client().v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - 3600, "end_time": now + 3600})
    return summary.data[0].aggregated_value


def test_a_report_is_sent_once_and_the_same_report_again_is_answered_without_sending(
        stripe_env, meter, customer, usage_handler):
    first = report(usage_handler, "req-1")
    assert first.status == 202, first.body
    assert (first.body["status"], first.body["value"]) == ("sent", 5)
    assert first.body["identifier"].startswith("usage_") and first.body["usageId"].startswith("use_")
    again = report(usage_handler, "req-1")
    assert (again.status, again.body) == (202, first.body)
    events = received_meter_events(stripe_env, METER)
    assert [(e["identifier"], e["counted"], e["repeats"]) for e in events] == [(first.body["identifier"], True, 0)]
    assert events[0]["payload"] == {"stripe_customer_id": customer.id, "value": "5"}
    assert total(stripe_env, meter, customer) == 5


def test_eight_concurrent_sends_of_one_report_count_once(stripe_env, meter, customer, usage_handler):
    with SerializedRequests():
        answers = race(8, lambda _: report(usage_handler, "req-race", 7))
    assert {a.status for a in answers} == {202}, [a.body for a in answers]
    assert len({a.body["identifier"] for a in answers}) == 1
    counted = [e for e in received_meter_events(stripe_env, METER) if e["counted"]]
    assert len(counted) == 1 and total(stripe_env, meter, customer) == 7


def test_a_report_that_stripe_could_not_take_is_sent_again_with_the_same_identifier(
        stripe_env, meter, customer, usage_handler, monkeypatch):
    monkeypatch.setenv("STRIPE_API_BASE", closed_port_url())
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    reset_clients()
    down = report(usage_handler, "req-down", 3)
    assert (down.status, down.error_code) == (503, "stripe_unavailable")
    pending = store.get(UsageRecord, "use_" + _usage_hash("req-down"))
    assert pending is not None and pending.status == "pending"

    monkeypatch.setenv("STRIPE_API_BASE", stripe_env.url)
    reset_clients()
    retried = report(usage_handler, "req-down", 3)
    assert (retried.status, retried.body["status"], retried.body["identifier"]) == (202, "sent", pending.identifier)
    assert total(stripe_env, meter, customer) == 3


def test_the_same_key_for_another_report_is_422_and_who_may_report(stripe_env, meter, customer, usage_handler):
    assert report(usage_handler, "req-2", 5).status == 202
    reused = report(usage_handler, "req-2", 6)
    assert (reused.status, reused.error_code) == (422, "idempotency_key_reused")
    user = report(usage_handler, "req-3", caller=ALICE, admin=False)
    assert (user.status, user.error_code) == (403, "admin_only")
    nobody = report(usage_handler, "req-4", user=BOB)
    assert (nobody.status, nobody.error_code) == (409, "no_billing_customer")
    assert store.get(UsageRecord, "use_" + _usage_hash("req-4")) is None
    bad = call(usage_handler, "POST", "/usage", user=ADMIN, admin=True,
               body={"userId": ALICE, "meter": METER, "value": -1, "idempotencyKey": "k"})
    assert bad.status == 400 and "value" in bad.body["error"]["message"]
    assert total(stripe_env, meter, customer) == 5


def _usage_hash(key: str) -> str:
    import hashlib

    return hashlib.sha256(f"usage:{key}".encode()).hexdigest()[:48]


# --- error reports --------------------------------------------------------------------------------------------------


def test_a_meters_error_report_is_logged_and_counted_once(live, stripe_env, meter, customer, usage_callback_handler,
                                                          capsys, caplog):
    # An event Stripe cannot bill (no such customer), then Stripe's error report about the meter
    stripe_env.client().v1.billing.meter_events.create(
        {"event_name": METER, "payload": {"stripe_customer_id": "cus_gone", "value": "1"}})
    report_event = trigger_meter_error_report(stripe_env, meter.id)
    assert live.wait_for(lambda d: any(x.path == "/usage" for x in d)), "the report never arrived"
    delivery = next(x for x in live.deliveries if x.path == "/usage")
    assert (delivery.status, json.loads(delivery.body)["result"]) == (200, "processed")
    logged = [r for r in caplog.records if r.getMessage() == "MeterErrorReport"]
    assert len(logged) == 1
    assert logged[0].errors == {"meter_event_customer_not_found": 1} and logged[0].meter == meter.id
    assert '"MeterErrorReports":[1.0]' in capsys.readouterr().out.replace(" ", "")  # the metric (EMF)

    # Stripe delivering the same notification again counts nothing
    thin = {k: report_event[k] for k in ("id", "object", "type", "livemode", "created", "context", "related_object",
                                         "reason")}
    raw = encode_event(thin)
    again = invoke(usage_callback_handler, function_url_event(raw, headers={
        "stripe-signature": sign_payload(raw, LOCAL_WEBHOOK_SECRETS["usage"])}))
    assert (again.status, again.body["result"]) == (200, "duplicate")
    assert len([r for r in caplog.records if r.getMessage() == "MeterErrorReport"]) == 1
    assert "MeterErrorReports" not in capsys.readouterr().out


def test_a_thin_event_with_a_bad_signature_is_400_and_other_thin_events_are_ignored(aws, usage_callback_handler):
    thin = {"id": "evt_test_65R9", "object": "v2.core.event", "type": "v1.billing.meter.no_meter_found",
            "livemode": False, "created": "2026-12-01T10:00:00.000Z", "context": None, "reason": None,
            "related_object": None}
    raw = encode_event(thin)
    bad = invoke(usage_callback_handler, function_url_event(raw, headers={"stripe-signature": sign_payload(raw,
                                                                                                          "whsec_x")}))
    assert (bad.status, bad.error_code) == (400, "invalid_signature")
    good = invoke(usage_callback_handler, function_url_event(raw, headers={
        "stripe-signature": sign_payload(raw, LOCAL_WEBHOOK_SECRETS["usage"])}))
    assert (good.status, good.body["result"]) == (200, "ignored")
    malformed = encode_event({**thin, "created": "yesterday"})
    answer = invoke(usage_callback_handler, function_url_event(malformed, headers={
        "stripe-signature": sign_payload(malformed, LOCAL_WEBHOOK_SECRETS["usage"])}))
    assert (answer.status, answer.error_code) == (400, "malformed_event")

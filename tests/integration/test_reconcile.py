"""The reconciler: Stripe's events the webhooks missed land exactly once, through the callbacks' own rules, in
Stripe's order, within a time budget; what is stuck pending is settled from Stripe's state.

Webhooks are "lost" by taking the emulator's endpoint down: its deliveries are dropped, as when Stripe gives up.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest

from devstack.lambda_context import LambdaContext
from payments.core.clock import iso, utc_now
from payments.data import store
from payments.data.models import PaymentRecord, ProcessedEventRecord, RefundRecord
from payments.reconcile import events as reconcile_events
from payments.webhooks.pipeline import PROCESSED
from tests.support.api import ADMIN, ALICE, admin_order, call, get_order
from tests.support.records import given_second_tab

pytestmark = pytest.mark.emulator

SCHEDULED = {"reconcile": "scheduled"}


def run(reconcile_handler, *, remaining_ms: int = 120_000) -> dict:
    """One scheduled run, as EventBridge Scheduler invokes it; its summary."""
    return reconcile_handler.lambda_handler(dict(SCHEDULED), LambdaContext(function_name="reconcile",
                                                                           remaining_ms=remaining_ms))


@contextmanager
def lost(emulator, *endpoints):
    """The emulator's endpoints for these callbacks are down: their deliveries are lost."""
    for name in endpoints:
        emulator.webhook_down(name)
    try:
        yield
    finally:
        for name in endpoints:
            emulator.webhook_up(name)


def wait_lost(emulator, endpoint: str, event_type: str, count: int = 1, timeout: float = 30) -> list[str]:
    """The ids of the ``event_type`` events whose delivery to ``endpoint`` was lost (at least ``count``)."""
    deadline = time.monotonic() + timeout
    while True:
        ids = [d["event"] for d in emulator.deliveries(endpoint) if d["type"] == event_type and d["status"] == "down"]
        if len(set(ids)) >= count or time.monotonic() > deadline:
            return list(dict.fromkeys(ids))
        time.sleep(0.1)


def pay(orders_handler, checkout_handler, client, *, user=ALICE):
    order = admin_order(orders_handler, user=user)
    checkout = call(checkout_handler, "POST", "/checkout", user=user, body={"orderId": order["orderId"]}).body
    intent = checkout["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent)
    return order, checkout, intent


def subscribe_and_pay(emulator, catalog, orders_handler, subscribe_handler, live):
    """A subscription whose first invoice is paid, its order paid by the webhooks."""
    client = emulator.client()
    pro = catalog.price(999, name="Pro", interval="month")
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": pro.id}]}).body
    started = call(subscribe_handler, "POST", "/subscriptions",
                   body={"orderId": order["orderId"], "priceId": pro.id}).body
    first = started["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(first, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(first)
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["status"] == "paid")
    return started, order


def ledger_entry(event_id: str) -> ProcessedEventRecord | None:
    return store.get(ProcessedEventRecord, event_id)


# --- events the webhooks missed -----------------------------------------------------------------------------


def test_a_payment_whose_webhook_was_lost_lands_through_the_reconciler_once(
        live, stripe_env, orders_handler, checkout_handler, reconcile_handler, capsys):
    client = stripe_env.client()
    with lost(stripe_env, "payment"):
        order, _, _intent = pay(orders_handler, checkout_handler, client)
        [event_id] = wait_lost(stripe_env, "payment", "payment_intent.succeeded")
    assert get_order(orders_handler, order["orderId"]).body["status"] == "pending"
    capsys.readouterr()

    summary = run(reconcile_handler)

    assert summary["eventsApplied"] == 1 and summary["eventsSeen"] >= 1 and summary["complete"] is True
    assert summary["checkpoint"] == client.v1.events.retrieve(event_id).created
    assert get_order(orders_handler, order["orderId"]).body["status"] == "paid"
    assert ledger_entry(event_id).via == "reconciler"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    recovered = [m for m in metrics if "EventsRecovered" in m]
    assert recovered and recovered[0]["EventsRecovered"] in (1, 1.0, [1.0])
    assert recovered[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "PaymentsTests"

    again = run(reconcile_handler)
    assert again["eventsApplied"] == 0 and again["eventsSeen"] >= 1

    late = stripe_env.resend_event(event_id, "payment")
    assert [(d["status"], d["body"]["result"]) for d in late] == [(200, "duplicate")]
    assert get_order(orders_handler, order["orderId"]).body["status"] == "paid"


def test_an_event_the_webhook_applied_first_is_a_duplicate_for_the_reconciler(
        live, stripe_env, orders_handler, checkout_handler, reconcile_handler):
    client = stripe_env.client()
    order, _, _ = pay(orders_handler, checkout_handler, client)
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["status"] == "paid")

    summary = run(reconcile_handler)

    assert summary["eventsApplied"] == 0 and summary["eventsSeen"] >= 1
    payments = get_order(orders_handler, order["orderId"]).body["payments"]
    assert [p["status"] for p in payments] == ["succeeded"]


def test_a_refund_and_a_renewal_whose_webhooks_were_lost_land_the_same_way(
        live, stripe_env, catalog, orders_handler, checkout_handler, refund_handler, subscribe_handler,
        reconcile_handler):
    from devstack.stripe_emulator import advance_subscription

    client = stripe_env.client()
    order, checkout, _ = pay(orders_handler, checkout_handler, client)
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["status"] == "paid")
    started, sub_order = subscribe_and_pay(stripe_env, catalog, orders_handler, subscribe_handler, live)
    run(reconcile_handler)  # catch up on what was delivered: the checkpoint is now past it

    with lost(stripe_env, "refund", "renewal"):
        refund = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                      body={"paymentId": checkout["paymentId"], "refundAmount": 500})
        assert refund.status == 202, refund.body
        advance_subscription(stripe_env, started["stripeSubscriptionId"])
        wait_lost(stripe_env, "refund", "charge.refunded")
        wait_lost(stripe_env, "renewal", "invoice.paid")
    assert get_order(orders_handler, order["orderId"]).body["status"] == "paid"  # the refund still pending

    summary = run(reconcile_handler)

    refunded = get_order(orders_handler, order["orderId"]).body
    assert refunded["status"] == "partially_refunded"
    assert [(r["amount"], r["status"]) for r in refunded["refunds"]] == [(500, "succeeded")]
    [payment] = refunded["payments"]
    assert payment["amountRefunded"] == 500
    renewals = [o for o in call(orders_handler, "GET", "/orders").body["orders"]
                if o.get("parentOrderId") == sub_order["orderId"]]
    assert [(r["kind"], r["status"]) for r in renewals] == [("renewal", "paid")]
    assert summary["eventsApplied"] >= 2  # charge.refunded and refund.created (one of them changes nothing new)
    assert run(reconcile_handler)["eventsApplied"] == 0


def test_events_of_more_than_one_page_are_applied_in_stripes_order_and_a_cut_short_run_resumes(
        live, stripe_env, orders_handler, checkout_handler, monkeypatch):
    client = stripe_env.client()
    with lost(stripe_env, "payment"):
        orders = [pay(orders_handler, checkout_handler, client)[0] for _ in range(7)]
        wait_lost(stripe_env, "payment", "payment_intent.succeeded", count=7)
    listed = list(reversed([e.id for e in client.v1.events.list({"types": ["payment_intent.succeeded"],
                                                                "limit": 100}).data]))
    monkeypatch.setattr(reconcile_events, "PAGE_SIZE", 3)  # seven events: three pages
    applied: list[str] = []
    real_apply = reconcile_events._apply

    def recording(payload, *, already):
        result = real_apply(payload, already=already)
        if result == PROCESSED:
            applied.append(payload["id"])
        return result

    monkeypatch.setattr(reconcile_events, "_apply", recording)
    ticks = iter(range(8, -10_000, -1))  # one tick per check: the budget runs out after a few events
    first = reconcile_events.apply_events(lambda: next(ticks))

    assert first.complete is False and 0 < len(applied) < 7
    assert applied == listed[:len(applied)]  # oldest first, no gap
    second = reconcile_events.apply_events(lambda: 60.0)

    assert second.complete is True
    assert applied == listed  # every event once, in Stripe's order
    assert {get_order(orders_handler, o["orderId"]).body["status"] for o in orders} == {"paid"}
    assert second.checkpoint == client.v1.events.retrieve(listed[-1]).created


# --- what is stuck ------------------------------------------------------------------------------------------


def make_old(model, key: str, minutes: int = 60) -> None:
    record = store.get(model, key)
    record.pending_since = iso(utc_now() - timedelta(minutes=minutes))
    store.put(record)


def test_an_automatic_refund_never_sent_is_sent_and_settled_once(
        live, stripe_env, orders_handler, checkout_handler, payment_callback_handler, reconcile_handler,
        monkeypatch):
    from payments.refunds import automatic

    client = stripe_env.client()
    order, _, _ = pay(orders_handler, checkout_handler, client)
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["status"] == "paid")
    # A second payment for the paid order (another tab), while Stripe cannot be reached for its refund
    tab = given_second_tab(client, order["orderId"], "pay_second_tab")
    monkeypatch.setattr(automatic, "send", lambda refund, intent_id: None)  # Stripe unreachable: never sent
    client.v1.payment_intents.confirm(tab)
    refund_id = automatic.refund_id_for("pay_second_tab")
    assert live.wait_for(lambda _: store.get(RefundRecord, refund_id) is not None)
    monkeypatch.undo()
    pending = store.get(RefundRecord, refund_id)
    assert (pending.status, pending.stripe_refund_id, pending.pending_mark) == ("pending", None, "pending")
    assert store.get(PaymentRecord, "pay_second_tab").amount_reserved == 1999

    assert run(reconcile_handler)["stuckSettled"] == 0  # not stuck yet: younger than StuckAfterMinutes
    make_old(RefundRecord, refund_id)
    summary = run(reconcile_handler)

    settled = store.get(RefundRecord, refund_id)
    payment = store.get(PaymentRecord, "pay_second_tab")
    assert summary["stuckSettled"] == 1 and settled.status == "succeeded" and settled.stripe_refund_id
    assert (payment.amount_reserved, payment.amount_refunded) == (0, 1999)  # counted, not also released
    assert settled.pending_mark is None and settled.pending_since is None  # off the watch list
    at_stripe = client.v1.refunds.list({"payment_intent": tab}).data
    assert [r.id for r in at_stripe] == [settled.stripe_refund_id]  # sent once
    assert run(reconcile_handler)["stuckSettled"] == 0
    assert len(client.v1.refunds.list({"payment_intent": tab}).data) == 1


def given_reserved_refund(orders_handler, client, *, confirmed: bool, stripe_refund_id: str | None = None):
    """A succeeded (or not) PaymentIntent, our payment of it and a refund of 700 reserved on it an hour ago."""
    from payments.refunds.api import new_refund

    order = admin_order(orders_handler)
    if confirmed:
        intent = client.v1.payment_intents.create({"amount": 1999, "currency": "usd",
                                                   "payment_method": "pm_card_visa"})
        client.v1.payment_intents.confirm(intent.id)
    else:  # Stripe refuses to refund it (a 400: no successful charge)
        intent = client.v1.payment_intents.create({"amount": 1999, "currency": "usd"})
    now = iso(utc_now())
    payment = PaymentRecord("pay_refunded", order_id=order["orderId"], user_id=ALICE, amount=1999, currency="usd",
                            mode="payment_intent", status="succeeded", amount_received=1999,
                            stripe_payment_intent_id=intent.id, created_at=now, updated_at=now)
    refund = new_refund("ref_stuck", payment, 700, origin="api", reason=None, requested_by=ADMIN)
    refund.stripe_refund_id = stripe_refund_id
    payment.amount_reserved = 700
    store.Transaction().save(payment).save(refund).commit()
    make_old(RefundRecord, "ref_stuck")
    return intent


def test_a_stuck_refund_that_stripe_refuses_when_it_is_finally_sent_is_released_not_counted(
        aws, stripe_env, orders_handler, reconcile_handler):
    client = stripe_env.client()
    intent = given_reserved_refund(orders_handler, client, confirmed=False)  # nothing to refund at Stripe

    summary = run(reconcile_handler)

    refund, payment = store.get(RefundRecord, "ref_stuck"), store.get(PaymentRecord, "pay_refunded")
    assert summary["stuckSettled"] == 1 and refund.status == "failed" and refund.pending_mark is None
    assert (payment.amount_reserved, payment.amount_refunded) == (0, 0)  # given back, never counted
    assert client.v1.refunds.list({"payment_intent": intent.id}).data == []


def test_a_stuck_refund_that_stripe_holds_is_settled_from_its_state(aws, stripe_env, orders_handler,
                                                                     reconcile_handler):
    client = stripe_env.client()
    intent = given_reserved_refund(orders_handler, client, confirmed=True)
    at_stripe = client.v1.refunds.create({"payment_intent": intent.id, "amount": 700,
                                          "metadata": {"refundId": "ref_stuck"}})  # its answer was lost
    from payments.reconcile.stuck import settle_stuck

    # Its events could be gone (older than Stripe's 30 days): the second pass alone finds it at Stripe
    settled = settle_stuck(lambda: 60.0)

    refund, payment = store.get(RefundRecord, "ref_stuck"), store.get(PaymentRecord, "pay_refunded")
    assert settled == 1
    assert (refund.status, refund.stripe_refund_id) == ("succeeded", at_stripe.id)
    assert (payment.amount_reserved, payment.amount_refunded) == (0, 700)
    assert len(client.v1.refunds.list({"payment_intent": intent.id}).data) == 1  # not sent again


def test_a_stuck_refund_stripe_does_not_know_stays_pending_and_watched(aws, stripe_env, orders_handler,
                                                                        reconcile_handler):
    given_reserved_refund(orders_handler, stripe_env.client(), confirmed=True, stripe_refund_id="re_unknown0000")

    assert run(reconcile_handler)["stuckSettled"] == 0

    refund = store.get(RefundRecord, "ref_stuck")
    assert (refund.status, refund.pending_checks, refund.pending_mark) == ("pending", 1, "pending")
    assert store.get(PaymentRecord, "pay_refunded").amount_reserved == 700


def test_a_payment_stuck_pending_settles_from_its_payment_intent(
        aws, stripe_env, orders_handler, checkout_handler, reconcile_handler):
    client = stripe_env.client()
    order = admin_order(orders_handler)
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    intent = checkout["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent)  # no webhook reaches anything (no live fixture)
    record = store.get(PaymentRecord, checkout["paymentId"])
    record.created_at = record.pending_since = iso(utc_now() - timedelta(hours=2))
    store.put(record)
    from payments.reconcile.stuck import settle_stuck

    # Its events could be gone (older than Stripe's 30 days): the second pass alone reads the PaymentIntent
    assert settle_stuck(lambda: 60.0) == 1
    assert get_order(orders_handler, order["orderId"]).body["status"] == "paid"
    payment = store.get(PaymentRecord, checkout["paymentId"])
    assert payment.status == "succeeded" and payment.pending_mark is None


def test_post_admin_reconcile_is_for_admins(aws, stripe_env, reconcile_handler):
    forbidden = call(reconcile_handler, "POST", "/admin/reconcile", user=ALICE)
    assert (forbidden.status, forbidden.error_code) == (403, "admin_only")
    answered = call(reconcile_handler, "POST", "/admin/reconcile", user=ADMIN, admin=True)
    assert answered.status == 200
    assert set(answered.body) == {"eventsSeen", "eventsApplied", "stuckSettled", "checkpoint", "complete"}


def test_a_web_checkout_stuck_pending_follows_its_session(aws, stripe_env, orders_handler, checkout_handler):
    from payments.reconcile.stuck import settle_stuck

    client = stripe_env.client()
    paid_order, expired_order = admin_order(orders_handler), admin_order(orders_handler)
    web = {"mode": "checkout_session", "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no"}
    paid = call(checkout_handler, "POST", "/checkout", body={"orderId": paid_order["orderId"], **web}).body
    expired = call(checkout_handler, "POST", "/checkout", body={"orderId": expired_order["orderId"], **web}).body
    stripe_env.complete_checkout_session(store.get(PaymentRecord, paid["paymentId"]).stripe_checkout_session_id)
    client.v1.checkout.sessions.expire(store.get(PaymentRecord, expired["paymentId"]).stripe_checkout_session_id)
    for payment_id in (paid["paymentId"], expired["paymentId"]):  # no webhook reached them; an hour went by
        record = store.get(PaymentRecord, payment_id)
        record.created_at = record.pending_since = iso(utc_now() - timedelta(hours=1))
        store.put(record)

    assert settle_stuck(lambda: 60.0) == 2

    settled = store.get(PaymentRecord, paid["paymentId"])
    assert settled.status == "succeeded" and settled.stripe_payment_intent_id  # the Session's PaymentIntent learnt
    assert get_order(orders_handler, paid_order["orderId"]).body["status"] == "paid"
    assert store.get(PaymentRecord, expired["paymentId"]).status == "canceled"
    freed = get_order(orders_handler, expired_order["orderId"]).body
    assert freed["status"] == "pending" and freed["payments"][0]["status"] == "canceled"

"""Refunds: admins refund from our API, refunds made anywhere land too, and the sum never exceeds what was paid."""

from __future__ import annotations

import time

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devstack.lambda_events import signed_webhook_event
from devstack.stripe_events import stripe_event, stripe_object
from devstack.template import create_tables
from payments.core.clock import now_iso
from payments.core.ids import new_id
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord, RefundRecord
from tests.support import reset_clients
from tests.support.api import ADMIN, ALICE, call, get_order
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.races import race
from tests.support.records import ledger_entries, reload
from tests.support.stub_http import FixedAnswerServer

SECRET = "whsec_local_refund"


def given_paid_order(emulator=None, *, amount=1999, currency="usd", user=ALICE):
    """An order paid by a succeeded payment (a real, confirmed PaymentIntent when an emulator is given)."""
    order_id, payment_id = new_id("ord"), new_id("pay")
    intent_id = "pi_3QTEST" + payment_id[-16:]
    if emulator is not None:
        client = emulator.client()
        intent = client.v1.payment_intents.create({"amount": amount, "currency": currency,
                                                   "payment_method": "pm_card_visa",
                                                   "metadata": {"orderId": order_id, "paymentId": payment_id}})
        intent_id = client.v1.payment_intents.confirm(intent.id).id
    now = now_iso()
    payment = PaymentRecord(payment_id, order_id=order_id, user_id=user, amount=amount, currency=currency,
                            mode="payment_intent", status="succeeded", stripe_payment_intent_id=intent_id,
                            amount_received=amount, currency_received=currency, created_at=now, updated_at=now)
    order = OrderRecord(order_id, user_id=user, kind="one_time", amount=amount, currency=currency, status="paid",
                        paid_by_payment_id=payment_id, payment_ids=[payment_id], created_at=now, updated_at=now,
                        created_sort=f"{now}#{order_id}")
    store.Transaction().save(payment).save(order).commit()
    return order, payment


def refund(handler, payment_id, amount=None, *, user=ADMIN, admin=True, **extra):
    body = {"paymentId": payment_id, **({"refundAmount": amount} if amount is not None else {}), **extra}
    return call(handler, "POST", "/refunds", user=user, admin=admin, body=body)


def refund_event(event_type, payment, *, refund_id, stripe_id="re_1", amount=500, status="succeeded", created=None,
                 metadata=True):
    obj = stripe_object("refund", id=stripe_id, amount=amount, currency=payment.currency, status=status,
                        payment_intent=payment.stripe_payment_intent_id, charge="ch_1",
                        metadata={"refundId": refund_id, "paymentId": payment.payment_id,
                                  "orderId": payment.order_id} if metadata else {})
    return stripe_event(event_type, obj, created=created)


def charge_refunded(payment, refunds, *, created=None):
    charge = stripe_object("charge", id="ch_1", payment_intent=payment.stripe_payment_intent_id,
                           amount=payment.amount, amount_refunded=sum(r["amount"] for r in refunds), refunded=True,
                           refunds={"object": "list", "data": refunds, "has_more": False})
    return stripe_event("charge.refunded", charge, created=created)


def deliver(handler, event, secret=SECRET):
    return invoke(handler, signed_webhook_event(event, secret))


def wait_for_order(live, orders_handler, order_id, status):
    def read():
        return get_order(orders_handler, order_id, user=ADMIN, admin=True).body

    if not live.wait_for(lambda _: read()["status"] == status):
        pytest.fail(f"the order never became {status}:\n{describe(read())}")
    return read()


def describe(order: dict) -> str:
    """The order's state in a few short lines, so a failure shows what it found."""
    lines = [f"order {order['orderId']}: {order['status']}"]
    lines += [f"  payment {p['paymentId']}: {p['status']}, refunded {p['amountRefunded']}" for p in order["payments"]]
    lines += [f"  refund {r['refundId']}: {r['status']} {r['amount']} ({r['stripeRefundId']})"
              for r in order["refunds"]]
    return "\n".join(lines)


# --- who may refund what -----------------------------------------------------------------------------------


def test_a_non_admin_gets_403_and_nothing_is_reserved(aws, refund_handler):
    _, payment = given_paid_order()
    answer = refund(refund_handler, payment.payment_id, 100, user=ALICE, admin=False)
    assert (answer.status, answer.error_code) == (403, "admin_only")
    assert reload(payment).amount_reserved == 0


def test_an_unknown_payment_is_404(aws, refund_handler):
    answer = refund(refund_handler, "pay_unknown", 100)
    assert (answer.status, answer.error_code) == (404, "payment_not_found")


def test_a_payment_that_has_not_succeeded_is_409(aws, refund_handler):
    _, payment = given_paid_order()
    payment.status = "pending"
    store.Transaction().save(payment).commit()
    answer = refund(refund_handler, payment.payment_id, 100)
    assert (answer.status, answer.error_code) == (409, "payment_not_refundable")


@pytest.mark.parametrize(("body", "code"), [
    ({"refundAmount": 0}, "invalid_field"), ({"refundAmount": -5}, "invalid_field"),
    ({"refundAmount": 1.5}, "invalid_field"), ({"refundAmount": "100"}, "invalid_field"),
    ({"reason": "because"}, "invalid_field"), ({"paymentId": None}, "missing_field")])
def test_bad_refund_requests_are_400(aws, refund_handler, body, code):
    _, payment = given_paid_order()
    answer = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                  body={"paymentId": payment.payment_id, **body})
    assert (answer.status, answer.error_code) == (400, code)
    assert reload(payment).amount_reserved == 0


def test_no_identity_is_401(aws, refund_handler):
    assert call(refund_handler, "POST", "/refunds", user=None, body={"paymentId": "pay_x"}).status == 401


# --- the whole flow against the emulator -------------------------------------------------------------------


@pytest.mark.emulator
def test_partial_then_over_then_exact_remainder(live, stripe_env, refund_handler, orders_handler):
    order, payment = given_paid_order(stripe_env, amount=1999)
    # When an admin refunds 500 of 1999
    first = refund(refund_handler, payment.payment_id, 500, reason="requested_by_customer")
    assert first.status == 202, first.body
    assert (first.body["amount"], first.body["status"]) == (500, "pending")
    assert first.body["stripeRefundId"].startswith("re_")
    # Then Stripe's events settle it: refund succeeded, payment refunded 500, order partially refunded
    after = wait_for_order(live, orders_handler, order.order_id, "partially_refunded")
    assert [(r["refundId"], r["status"], r["amount"]) for r in after["refunds"]] == [
        (first.body["refundId"], "succeeded", 500)]
    assert after["payments"][0]["amountRefunded"] == 500
    # And a refund over the remainder is refused
    over = refund(refund_handler, payment.payment_id, 1500)
    assert (over.status, over.error_code) == (422, "refund_exceeds_remaining")
    # And the exact remainder (the default) refunds the order
    rest = refund(refund_handler, payment.payment_id)
    assert rest.status == 202 and rest.body["amount"] == 1499
    done = wait_for_order(live, orders_handler, order.order_id, "refunded")
    assert done["payments"][0]["amountRefunded"] == 1999
    assert refund(refund_handler, payment.payment_id).error_code == "refund_exceeds_remaining"
    # Stripe agrees: exactly what we recorded was refunded
    at_stripe = stripe_env.client().v1.refunds.list({"payment_intent": payment.stripe_payment_intent_id}).data
    assert sorted(r.amount for r in at_stripe) == [500, 1499]


@pytest.fixture
def moto_endpoint(monkeypatch):
    """A real DynamoDB endpoint (moto's server) with the template's tables; each request served atomically."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://{host}:{port}")
    reset_clients()
    create_tables(boto3.client("dynamodb", region_name="us-east-1"))
    yield
    server.stop()
    reset_clients()


@pytest.mark.emulator
def test_eight_concurrent_refunds_of_60_percent_accept_exactly_one(moto_endpoint, stripe_env, refund_handler,
                                                                     ddb_calls):
    _, payment = given_paid_order(stripe_env, amount=10_000)
    assert ddb_calls.operations  # the requests really go to the server endpoint
    with SerializedRequests():
        answers = race(8, lambda _: refund(refund_handler, payment.payment_id, 6_000))
    assert sorted(a.status for a in answers) == [202] + [422] * 7
    assert {a.error_code for a in answers if a.status == 422} == {"refund_exceeds_remaining"}
    after = reload(payment)
    assert after.amount_reserved + after.amount_refunded == 6_000 <= after.amount
    assert len(stripe_env.client().v1.refunds.list({"payment_intent": payment.stripe_payment_intent_id}).data) == 1


def test_stripe_failing_the_refund_releases_the_reservation(aws, refund_handler, monkeypatch):
    order, payment = given_paid_order()
    with FixedAnswerServer(500, {"error": {"type": "api_error", "message": "boom"}}) as stripe_stub:
        monkeypatch.setenv("STRIPE_API_BASE", stripe_stub.url)
        monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
        reset_clients()
        answer = refund(refund_handler, payment.payment_id, 1000)
    assert (answer.status, answer.error_code) == (502, "stripe_error")
    assert reload(payment).amount_reserved == 0
    failed = store.get(RefundRecord, reload(order).refund_ids[0])
    assert failed.status == "failed" and failed.failure_reason.startswith("stripe_error")


@pytest.mark.emulator
def test_after_a_failed_refund_the_full_remainder_can_still_be_refunded(aws, stripe_env, refund_handler, monkeypatch):
    _, payment = given_paid_order(stripe_env, amount=1999)
    with FixedAnswerServer(500, {"error": {"type": "api_error", "message": "boom"}}) as stripe_stub:
        monkeypatch.setenv("STRIPE_API_BASE", stripe_stub.url)
        monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
        reset_clients()
        assert refund(refund_handler, payment.payment_id).status == 502
    monkeypatch.setenv("STRIPE_API_BASE", stripe_env.url)
    reset_clients()
    again = refund(refund_handler, payment.payment_id)
    assert again.status == 202 and again.body["amount"] == 1999


# --- refund events: exactly once, forward only, made anywhere ------------------------------------------------


def given_pending_refund(payment, amount=500):
    record = RefundRecord(new_id("ref"), payment_id=payment.payment_id, order_id=payment.order_id, amount=amount,
                          currency=payment.currency, status="pending", created_at=now_iso(), updated_at=now_iso())
    payment.amount_reserved = amount
    order = store.get(OrderRecord, payment.order_id)
    order.refund_ids = [record.refund_id]
    store.Transaction().save(record).save(payment).save(order).commit()
    return record


def test_the_same_refund_event_twice_and_by_eight_threads_is_applied_once(aws, refund_callback_handler):
    order, payment = given_paid_order()
    record = given_pending_refund(payment)
    event = refund_event("refund.updated", payment, refund_id=record.refund_id)
    deliveries = [signed_webhook_event(event, SECRET) for _ in range(8)]
    with SerializedRequests():
        answers = race(8, lambda i: invoke(refund_callback_handler, deliveries[i]))
    assert sorted(a.body["result"] for a in answers) == ["duplicate"] * 7 + ["processed"]
    assert deliver(refund_callback_handler, event).body["result"] == "duplicate"
    after = reload(payment)
    assert (after.amount_reserved, after.amount_refunded) == (0, 500)
    assert reload(record).status == "succeeded" and reload(order).status == "partially_refunded"
    assert len(ledger_entries()) == 1


def test_a_stale_refund_failed_after_succeeded_changes_nothing(aws, refund_callback_handler):
    order, payment = given_paid_order()
    record = given_pending_refund(payment)
    now = int(time.time())
    succeeded = refund_event("refund.updated", payment, refund_id=record.refund_id, created=now)
    failed = refund_event("refund.failed", payment, refund_id=record.refund_id, status="failed", created=now - 60)
    assert deliver(refund_callback_handler, succeeded).body["result"] == "processed"
    assert deliver(refund_callback_handler, failed).body["result"] == "ignored"
    assert reload(record).status == "succeeded"
    assert (reload(payment).amount_refunded, reload(order).status) == (500, "partially_refunded")


def test_a_refund_that_fails_after_succeeding_gives_the_amount_back(aws, refund_callback_handler):
    _, payment = given_paid_order()
    record = given_pending_refund(payment)
    now = int(time.time())
    deliver(refund_callback_handler, refund_event("refund.updated", payment, refund_id=record.refund_id, created=now))
    later = refund_event("refund.failed", payment, refund_id=record.refund_id, status="failed", created=now + 60)
    assert deliver(refund_callback_handler, later).body["result"] == "processed"
    assert reload(record).status == "failed"
    assert (reload(payment).amount_refunded, reload(payment).amount_reserved) == (0, 0)


def test_a_dashboard_refund_via_charge_refunded_alone_is_recorded_once(aws, refund_callback_handler, orders_handler):
    order, payment = given_paid_order()
    dashboard = stripe_object("refund", id="re_dash1", amount=700, currency="usd", status="succeeded",
                              payment_intent=payment.stripe_payment_intent_id, charge="ch_1", metadata={})
    answer = deliver(refund_callback_handler, charge_refunded(payment, [dashboard]))
    assert answer.body["result"] == "processed"
    view = get_order(orders_handler, order.order_id).body
    assert [(r["refundId"], r["amount"], r["status"], r["stripeRefundId"]) for r in view["refunds"]] == [
        ("ref_re_dash1", 700, "succeeded", "re_dash1")]
    assert view["status"] == "partially_refunded" and view["payments"][0]["amountRefunded"] == 700
    # When Stripe also reports it by refund.created
    again = refund_event("refund.created", payment, refund_id="", stripe_id="re_dash1", amount=700, metadata=False)
    assert deliver(refund_callback_handler, again).body["result"] == "ignored"
    assert reload(payment).amount_refunded == 700 and len(reload(order).refund_ids) == 1


def test_a_refund_of_a_payment_we_never_took_is_ignored(aws, refund_callback_handler):
    stranger = stripe_object("refund", id="re_x", amount=100, currency="usd", status="succeeded",
                             payment_intent="pi_not_ours", metadata={})
    assert deliver(refund_callback_handler, stripe_event("refund.created", stranger)).body["result"] == "ignored"


@pytest.mark.emulator
def test_a_dashboard_refund_made_at_the_emulator_lands(live, stripe_env, orders_handler):
    order, payment = given_paid_order(stripe_env, amount=1999)
    stripe_env.client().v1.refunds.create({"payment_intent": payment.stripe_payment_intent_id, "amount": 1999})
    done = wait_for_order(live, orders_handler, order.order_id, "refunded")
    assert [(r["amount"], r["status"]) for r in done["refunds"]] == [(1999, "succeeded")]
    assert done["payments"][0]["amountRefunded"] == 1999


# --- webhook security, as for the payment callback -----------------------------------------------------------


def test_the_payment_callbacks_secret_is_rejected_here(aws, refund_callback_handler):
    _, payment = given_paid_order()
    record = given_pending_refund(payment)
    answer = deliver(refund_callback_handler, refund_event("refund.updated", payment, refund_id=record.refund_id),
                     secret="whsec_local_payment")
    assert (answer.status, answer.error_code) == (400, "invalid_signature")
    assert reload(record).status == "pending" and ledger_entries() == []

"""Client retries with ``Idempotency-Key``: a mobile app that retries after a timeout never makes a second order
or a second refund. Same key, same caller, same route and body: the first answer again, the work done once, even
when the two race; another body: 422; still running: 409."""

from __future__ import annotations

import pytest

from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord, RefundRecord
from tests.support import reset_clients
from tests.support.api import ADMIN, ALICE, BOB, admin_order, call, get_order
from tests.support.calls import SerializedRequests
from tests.support.races import race
from tests.support.stub_http import closed_port_url

ORDER = {"userId": ALICE, "amount": 1999, "currency": "usd", "description": "Invoice 7"}


def create(orders_handler, key, body=ORDER, user=ADMIN):
    return call(orders_handler, "POST", "/orders", user=user, admin=True, body=body,
                headers={"Idempotency-Key": key} if key is not None else None)


def orders_of(orders_handler, user=ALICE):
    return call(orders_handler, "GET", "/orders", user=user).body["orders"]


def test_a_retried_order_is_the_same_order(aws, orders_handler):
    first = create(orders_handler, "retry-1")
    again = create(orders_handler, "retry-1")
    assert first.status == again.status == 201
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first.headers
    assert [o["orderId"] for o in orders_of(orders_handler)] == [first.body["orderId"]]


def test_the_same_key_with_another_body_is_422_and_does_nothing(aws, orders_handler):
    first = create(orders_handler, "retry-2")
    other = create(orders_handler, "retry-2", {**ORDER, "amount": 2999})
    assert (other.status, other.error_code) == (422, "idempotency_key_reused")
    assert len(orders_of(orders_handler)) == 1 and first.status == 201


def test_keys_belong_to_their_caller(aws, orders_handler):
    mine = call(orders_handler, "POST", "/orders", user=ALICE, body={"items": [{"priceId": "price_x"}]},
                headers={"Idempotency-Key": "k"})
    theirs = call(orders_handler, "POST", "/orders", user=BOB, body={"items": [{"priceId": "price_x"}]},
                  headers={"Idempotency-Key": "k"})
    assert mine.status == theirs.status == 400  # each caller's own answer, neither replayed to the other
    assert "Idempotent-Replayed" not in theirs.headers


def test_without_the_header_every_request_is_new(aws, orders_handler):
    create(orders_handler, None)
    create(orders_handler, None)
    assert len(orders_of(orders_handler)) == 2


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x00key"])
def test_an_unusable_key_is_400_and_does_nothing(aws, orders_handler, key):
    answer = create(orders_handler, key)
    assert (answer.status, answer.error_code) == (400, "invalid_idempotency_key")
    assert orders_of(orders_handler) == []


def test_racing_retries_make_one_order(aws, orders_handler):
    with SerializedRequests():
        answers = race(8, lambda _: create(orders_handler, "race-1"))
    made = {a.body["orderId"] for a in answers if a.status == 201}
    assert len(made) == 1, [(a.status, a.body) for a in answers]
    assert {a.status for a in answers} <= {201, 409}
    assert all(a.error_code == "request_in_progress" for a in answers if a.status == 409)
    assert [o["orderId"] for o in orders_of(orders_handler)] == list(made)


def test_a_4xx_answer_is_kept_too(aws, orders_handler):
    first = call(orders_handler, "POST", "/orders", user=ALICE, admin=False, body=ORDER,
                 headers={"Idempotency-Key": "forbidden"})
    again = call(orders_handler, "POST", "/orders", user=ALICE, admin=False, body=ORDER,
                 headers={"Idempotency-Key": "forbidden"})
    assert first.status == again.status == 403 and again.headers.get("Idempotent-Replayed") == "true"


@pytest.mark.emulator
def test_a_5xx_answer_is_not_kept_so_the_retry_does_the_work(aws, stripe_env, orders_handler, checkout_handler,
                                                             monkeypatch):
    order = admin_order(orders_handler)
    monkeypatch.setenv("STRIPE_API_BASE", closed_port_url())
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    reset_clients()
    down = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]},
                headers={"Idempotency-Key": "pay-1"})
    assert down.status == 503
    monkeypatch.setenv("STRIPE_API_BASE", stripe_env.url)
    reset_clients()
    again = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]},
                 headers={"Idempotency-Key": "pay-1"})
    assert again.status == 201 and "Idempotent-Replayed" not in again.headers


@pytest.mark.emulator
def test_a_retried_refund_refunds_once(aws, stripe_env, orders_handler, refund_handler):
    # Given a payment that succeeded at the emulator
    order = admin_order(orders_handler)
    client = stripe_env.client()
    intent = client.v1.payment_intents.create({"amount": 1999, "currency": "usd", "payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent.id)
    record = store.get(OrderRecord, order["orderId"])
    payment = PaymentRecord("pay_refund_me", order_id=record.order_id, user_id=ALICE, amount=1999, currency="usd",
                            mode="payment_intent", status="succeeded", amount_received=1999, currency_received="usd",
                            stripe_payment_intent_id=intent.id, created_at=record.created_at,
                            updated_at=record.created_at)
    record.status, record.paid_by_payment_id, record.payment_ids = "paid", payment.payment_id, [payment.payment_id]
    store.Transaction().save(payment).save(record).commit()
    # When an admin's app sends the refund twice with one key (a timeout, then a retry), and a third time racing
    body = {"paymentId": "pay_refund_me", "refundAmount": 500}
    headers = {"Idempotency-Key": "refund-7"}
    first = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True, body=body, headers=headers)
    with SerializedRequests():
        retries = race(3, lambda _: call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True, body=body,
                                         headers=headers))
    # Then one refund exists, here and at Stripe, and every answer names it
    assert first.status == 202
    assert {r.body["refundId"] for r in retries} == {first.body["refundId"]}
    refunds = get_order(orders_handler, order["orderId"], user=ALICE).body["refunds"]
    assert [r["refundId"] for r in refunds] == [first.body["refundId"]]
    assert [r.id for r in client.v1.refunds.list({"payment_intent": intent.id}).data] == [
        first.body["stripeRefundId"]]
    assert store.get(PaymentRecord, "pay_refund_me").amount_reserved == 500
    assert store.get(RefundRecord, first.body["refundId"]).amount == 500


def test_a_non_admin_hears_403_before_anything_about_the_body_key_or_not(aws, refund_handler):
    for headers in (None, {"Idempotency-Key": "r-9"}):
        answer = call(refund_handler, "POST", "/refunds", body="{not json", headers=headers)
        assert (answer.status, answer.error_code) == (403, "admin_only")

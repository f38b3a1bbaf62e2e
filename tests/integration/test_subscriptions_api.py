"""POST /subscriptions and cancel / resume: who may do what, and every refusal before Stripe is called."""

from __future__ import annotations

import pytest

from payments.data import store
from payments.data.models import OrderRecord
from tests.support.api import ADMIN, BOB, admin_order, call
from tests.support.records import reload
from tests.support.subscriptions import PRICE, given_started_subscription


def subscribe(handler, order_id, price_id=PRICE, **kwargs):
    return call(handler, "POST", "/subscriptions", body={"orderId": order_id, "priceId": price_id}, **kwargs)


def cancel(handler, rid, body=None, **kwargs):
    return call(handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path={"recurringPaymentId": rid},
                body=body, **kwargs)


def resume(handler, rid, **kwargs):
    return call(handler, "POST", "/subscriptions/{recurringPaymentId}/resume", path={"recurringPaymentId": rid},
                **kwargs)


@pytest.fixture
def subscription_order(aws):
    order, _ = given_started_subscription()
    order.recurring_payment_id = None
    store.Transaction().save(order).commit()
    return reload(order)


def test_another_users_order_is_404(aws, subscribe_handler, subscription_order):
    answer = subscribe(subscribe_handler, subscription_order.order_id, user=BOB)
    assert (answer.status, answer.error_code) == (404, "order_not_found")


def test_a_price_that_is_not_the_orders_is_422(aws, subscribe_handler, subscription_order):
    answer = subscribe(subscribe_handler, subscription_order.order_id, price_id="price_other")
    assert (answer.status, answer.error_code) == (422, "price_mismatch")


def test_a_one_time_order_is_409(aws, subscribe_handler, orders_handler):
    order = admin_order(orders_handler)
    answer = subscribe(subscribe_handler, order["orderId"])
    assert (answer.status, answer.error_code) == (409, "order_not_subscription")


def test_a_paid_order_is_409(aws, subscribe_handler, subscription_order):
    subscription_order.status = "paid"
    store.Transaction().save(subscription_order).commit()
    answer = subscribe(subscribe_handler, subscription_order.order_id)
    assert (answer.status, answer.error_code) == (409, "order_not_pending")


@pytest.mark.parametrize(("body", "code"), [
    ({"priceId": PRICE}, "missing_field"), ({"orderId": "ord_x"}, "missing_field"),
    ({"orderId": 5, "priceId": PRICE}, "invalid_field"), ("{", "malformed_json"), (None, "missing_body")])
def test_bad_subscribe_requests_are_400(aws, subscribe_handler, body, code):
    answer = call(subscribe_handler, "POST", "/subscriptions", body=body)
    assert (answer.status, answer.error_code) == (400, code)


def test_no_identity_is_401_everywhere(aws, subscribe_handler, cancel_subscription_handler):
    assert subscribe(subscribe_handler, "ord_x", user=None).status == 401
    assert cancel(cancel_subscription_handler, "sub_rec_x", user=None).status == 401
    assert resume(cancel_subscription_handler, "sub_rec_x", user=None).status == 401


def test_another_users_subscription_is_404(aws, cancel_subscription_handler):
    _, record = given_started_subscription(status="active")
    answer = cancel(cancel_subscription_handler, record.recurring_payment_id, user=BOB)
    assert (answer.status, answer.error_code) == (404, "subscription_not_found")
    assert resume(cancel_subscription_handler, record.recurring_payment_id, user=BOB).status == 404


def test_canceling_a_canceled_subscription_is_409(aws, cancel_subscription_handler):
    _, record = given_started_subscription(status="canceled")
    answer = cancel(cancel_subscription_handler, record.recurring_payment_id, user=ADMIN, admin=True)
    assert (answer.status, answer.error_code) == (409, "already_canceled")


def test_cancel_at_period_end_twice_is_409(aws, cancel_subscription_handler):
    _, record = given_started_subscription(status="active")
    record.cancel_at_period_end = True
    store.Transaction().save(record).commit()
    answer = cancel(cancel_subscription_handler, record.recurring_payment_id, body={"atPeriodEnd": True})
    assert (answer.status, answer.error_code) == (409, "already_canceled")


def test_resuming_a_subscription_not_set_to_cancel_is_409(aws, cancel_subscription_handler):
    _, record = given_started_subscription(status="active")
    answer = resume(cancel_subscription_handler, record.recurring_payment_id)
    assert (answer.status, answer.error_code) == (409, "not_canceling")


@pytest.mark.parametrize("body", [{"atPeriodEnd": "yes"}, {"atPeriodEnd": 1}, "[]"])
def test_a_bad_cancel_body_is_400(aws, cancel_subscription_handler, body):
    _, record = given_started_subscription(status="active")
    answer = cancel(cancel_subscription_handler, record.recurring_payment_id, body=body)
    assert answer.status == 400
    assert store.get(OrderRecord, record.order_id).status == "pending"

"""POST /checkout: who may pay what, the amount cross-check, and Stripe failing underneath."""

from __future__ import annotations

import pytest

from payments.data import store
from payments.data.models import OrderRecord
from tests.support import reset_clients
from tests.support.api import ADMIN, BOB, admin_order, call, get_order
from tests.support.stub_http import FixedAnswerServer, closed_port_url


@pytest.fixture
def order(aws, orders_handler):
    return admin_order(orders_handler, amount=1999, currency="usd")


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"amount": 1999}, 400, "missing_field"),
    ({"orderId": 7}, 400, "invalid_field"),
    ({"orderId": "ORDER", "amount": 19.99}, 400, "invalid_field"),
    ({"orderId": "ORDER", "amount": -1}, 400, "invalid_field"),
    ({"orderId": "ORDER", "currency": "zzz"}, 400, "unsupported_currency"),
    ({"orderId": "ORDER", "mode": "bitcoin"}, 400, "invalid_field"),
    ({"orderId": "ORDER", "mode": "checkout_session"}, 400, "missing_field"),
    ({"orderId": "ORDER", "mode": "checkout_session", "successUrl": "javascript:alert(1)",
      "cancelUrl": "https://x.example"}, 400, "invalid_field"),
    ({"orderId": "ORDER", "amount": 1998}, 422, "amount_mismatch"),
    ({"orderId": "ORDER", "currency": "eur"}, 422, "amount_mismatch"),
])
def test_bad_checkout_requests_are_refused_before_stripe_is_called(aws, checkout_handler, order, body, status,
                                                                   code, orders_handler):
    body = {k: (order["orderId"] if v == "ORDER" else v) for k, v in body.items()}
    answer = call(checkout_handler, "POST", "/checkout", body=body)
    assert (answer.status, answer.error_code) == (status, code)
    assert get_order(orders_handler, order["orderId"]).body["payments"] == []


@pytest.mark.parametrize(("raw", "code"), [("{", "malformed_json"), ("[]", "malformed_json"), (None, "missing_body")])
def test_malformed_bodies_are_400(aws, checkout_handler, raw, code):
    answer = call(checkout_handler, "POST", "/checkout", body=raw)
    assert (answer.status, answer.error_code) == (400, code)


def test_no_identity_is_401(aws, checkout_handler, order):
    answer = call(checkout_handler, "POST", "/checkout", user=None, body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (401, "unauthenticated")


def test_another_users_order_is_404_and_an_admin_who_is_not_the_owner_is_403(aws, checkout_handler, order):
    assert call(checkout_handler, "POST", "/checkout", user=BOB, body={"orderId": order["orderId"]}).status == 404
    answer = call(checkout_handler, "POST", "/checkout", user=ADMIN, admin=True, body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (403, "not_order_owner")


def test_a_paid_order_is_409(aws, checkout_handler, order):
    record = store.get(OrderRecord, order["orderId"])
    record.status = "paid"
    store.Transaction().save(record).commit()
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (409, "order_not_pending")


def test_a_subscription_order_is_not_paid_through_checkout(aws, checkout_handler, order):
    record = store.get(OrderRecord, order["orderId"])
    record.kind = "subscription"
    store.Transaction().save(record).commit()
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (409, "order_not_payable")


# --- Stripe failing underneath ---------------------------------------------------------------------------


def failing_stripe(monkeypatch, url):
    monkeypatch.setenv("STRIPE_API_BASE", url)
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    reset_clients()


@pytest.mark.parametrize(("status", "error", "our_status", "our_code"), [
    (500, {"error": {"type": "api_error", "message": "boom"}}, 502, "stripe_error"),
    (429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "slow"}}, 503,
     "stripe_rate_limited"),
    (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_***"}}, 502,
     "stripe_misconfigured"),
])
def test_stripe_errors_become_clear_5xx_and_the_payment_says_it_failed(
        aws, checkout_handler, orders_handler, order, monkeypatch, status, error, our_status, our_code):
    with FixedAnswerServer(status, error) as stripe_stub:
        failing_stripe(monkeypatch, stripe_stub.url)
        answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (our_status, our_code)
    assert "sk_" not in answer.body["error"]["message"]
    after = get_order(orders_handler, order["orderId"]).body
    assert after["status"] == "pending"
    assert [(p["status"], p["failureCode"]) for p in after["payments"]] == [("failed", our_code)]
    assert store.get(OrderRecord, order["orderId"]).open_payment_id is None


@pytest.mark.emulator
def test_stripe_unreachable_is_503_and_a_later_checkout_succeeds(
        aws, checkout_handler, orders_handler, order, monkeypatch, stripe_env):
    # Given Stripe cannot be reached (connection refused)
    failing_stripe(monkeypatch, closed_port_url())
    down = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert (down.status, down.error_code) == (503, "stripe_unavailable")
    assert down.headers.get("Retry-After")
    # When it is back, and the user tries again
    failing_stripe(monkeypatch, stripe_env.url)
    up = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    # Then a new payment is made; the failed attempt stays on record as failed
    assert up.status == 201
    payments = {p["paymentId"]: p["status"] for p in get_order(orders_handler, order["orderId"]).body["payments"]}
    assert payments == {p: "failed" for p in payments if p != up.body["paymentId"]} | {up.body["paymentId"]: "pending"}
    assert len(payments) == 2


@pytest.mark.emulator
def test_first_checkout_makes_four_dynamodb_calls_and_no_scan(aws, checkout_handler, order, stripe_env, ddb_calls):
    ddb_calls.reset()
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert answer.status == 201
    # count the attempt (the payment attempt limit: one UpdateItem); read the order; write the payment and point the
    # order at it; record the PaymentIntent (one UpdateItem)
    assert ddb_calls.operations == ["UpdateItem", "GetItem", "TransactWriteItems", "UpdateItem"]

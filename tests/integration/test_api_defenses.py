"""What the HTTP API refuses, and what it cannot be made to do: text that is not text, redirects off the app's
origins, an order paid a hundred times over, an order whose payments outgrow one read."""

from __future__ import annotations

import json

import pytest

from devstack.lambda_events import http_api_event, user_claims
from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from tests.support.api import ALICE, admin_order, call, get_order
from tests.support.invoke import invoke

SURROGATE = "\ud800"


def raw_call(handler, method, route, body_text, *, path=None, admin=False, user=ALICE):
    """A request whose JSON text is sent as is (json.dumps writes a lone surrogate as the escape \\ud800)."""
    claims = user_claims(user, groups=["admin"] if admin else None)
    event = http_api_event(method, route, claims=claims, path_params=path, body="{}")
    event["body"] = body_text
    return invoke(handler, event)


@pytest.mark.parametrize("body", [
    {"items": [{"priceId": f"price_{SURROGATE}"}]},
    {"items": [{"priceId": "price_1"}], "description": f"gift {SURROGATE}"},
    {"userId": SURROGATE, "amount": 500, "currency": "usd"},
    {"userId": "bob", "amount": 500, "currency": "usd", "description": "a\x00b"},
    {"items": [{"priceId": "price_1"}], SURROGATE: 1},
])
def test_text_that_is_not_text_is_a_400_on_orders(aws, orders_handler, body):
    answer = raw_call(orders_handler, "POST", "/orders", json.dumps(body), admin="userId" in body)
    assert answer.status == 400, answer.body
    assert answer.error_code in ("invalid_text", "invalid_field", "invalid_request")


def test_text_that_is_not_text_is_a_400_on_checkout_refunds_and_subscriptions(
        aws, checkout_handler, refund_handler, subscribe_handler, cancel_subscription_handler):
    assert raw_call(checkout_handler, "POST", "/checkout", json.dumps({"orderId": SURROGATE})).status == 400
    assert raw_call(refund_handler, "POST", "/refunds", json.dumps({"paymentId": f"pay_{SURROGATE}"}),
                    admin=True).status == 400
    assert raw_call(subscribe_handler, "POST", "/subscriptions",
                    json.dumps({"orderId": "ord_1", "priceId": SURROGATE})).status == 400
    canceled = raw_call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
                        json.dumps({"atPeriodEnd": SURROGATE}), path={"recurringPaymentId": "sub_rec_1"})
    assert canceled.status == 400


@pytest.mark.parametrize("url", ["https://evil.example/phish", "http://shop.example/ok", "https://shop.example.evil.co/",
                                 "https://user@shop.example/", "ftp://shop.example/"])
def test_a_hosted_checkout_returns_only_to_the_apps_origins(aws, orders_handler, checkout_handler, url):
    order = admin_order(orders_handler)
    answer = call(checkout_handler, "POST", "/checkout", body={
        "orderId": order["orderId"], "mode": "checkout_session", "successUrl": url,
        "cancelUrl": "https://shop.example/cancel"})
    assert answer.status == 400 and answer.error_code in ("redirect_not_allowed", "invalid_field")
    assert "successUrl" in answer.body["error"]["message"]
    assert get_order(orders_handler, order["orderId"]).body["payments"] == []


@pytest.mark.emulator
@pytest.mark.parametrize("url", ["https://shop.example/ok?x=1", "http://127.0.0.1:3000/demo/", "http://localhost/x"])
def test_the_apps_origins_and_loopback_are_allowed(aws, stripe_env, orders_handler, checkout_handler, url):
    order = admin_order(orders_handler)
    answer = call(checkout_handler, "POST", "/checkout", body={
        "orderId": order["orderId"], "mode": "checkout_session", "successUrl": url, "cancelUrl": url})
    assert answer.status == 201, answer.body


@pytest.mark.emulator
def test_an_order_takes_a_bounded_number_of_payment_attempts(aws, stripe_env, orders_handler, checkout_handler,
                                                             monkeypatch):
    from tests.support import reset_clients

    monkeypatch.setenv("MAX_CHECKOUT_ATTEMPTS", "3")
    reset_clients()
    order = admin_order(orders_handler)
    modes = ["payment_intent", "checkout_session", "payment_intent"]
    for mode in modes:  # each change of mode replaces the open payment with a new one
        answer = call(checkout_handler, "POST", "/checkout", body={
            "orderId": order["orderId"], "mode": mode, "successUrl": "https://shop.example/ok",
            "cancelUrl": "https://shop.example/no"})
        assert answer.status == 201, answer.body
    refused = call(checkout_handler, "POST", "/checkout", body={
        "orderId": order["orderId"], "mode": "checkout_session", "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/no"})
    assert (refused.status, refused.error_code) == (409, "too_many_checkout_attempts")
    # the open payment is still answered: the cap stops new attempts, not the current one
    again = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert again.status == 201
    assert len(get_order(orders_handler, order["orderId"]).body["payments"]) == 3


def test_an_order_with_hundreds_of_payments_still_reads(aws, orders_handler, ddb_calls):
    """However many payments an order lists, reading it works: one BatchGetItem per 100 of them."""
    order = admin_order(orders_handler)
    record = store.get(OrderRecord, order["orderId"])
    now = now_iso()
    ids = [f"pay_many{i:04d}" for i in range(250)]
    for payment_id in ids:
        store.put(PaymentRecord(payment_id, order_id=record.order_id, user_id=ALICE, amount=1999, currency="usd",
                                mode="payment_intent", status="failed", created_at=now, updated_at=now))
    record.payment_ids = ids
    store.put(record)
    ddb_calls.reset()
    answer = get_order(orders_handler, order["orderId"])
    assert answer.status == 200 and len(answer.body["payments"]) == 250
    assert ddb_calls.operations == ["GetItem", "BatchGetItem", "BatchGetItem", "BatchGetItem"]

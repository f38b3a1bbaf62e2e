"""Saved payment methods, always the caller's own: set up, list, default, delete; paying an order with one (3-D Secure
included); another user's card is a 404 on every route."""

from __future__ import annotations

import pytest

from payments.data import store
from payments.data.models import CustomerRecord, PaymentRecord
from tests.support import api
from tests.support.api import ALICE, BOB, admin_order, get_order
from tests.support.billing import confirm_setup, until
from tests.support.openapi import assert_documented


def call(handler, method, route, **kwargs):
    """Every answer of these routes is one openapi.yaml documents, body and status."""
    answer = api.call(handler, method, route, **kwargs)
    assert_documented(answer, method, route)
    return answer

pytestmark = pytest.mark.emulator

THREE_D_SECURE = "4000002500003155"


def setup(billing_handler, user=ALICE):
    return call(billing_handler, "POST", "/payment-methods/setup", user=user)


def listed(billing_handler, user=ALICE):
    answer = call(billing_handler, "GET", "/payment-methods", user=user)
    assert answer.status == 200, answer.body
    return answer.body["paymentMethods"]


def save_card(emulator, billing_handler, user=ALICE, payment_method="pm_card_visa"):
    started = setup(billing_handler, user)
    assert started.status == 201, started.body
    intent = confirm_setup(emulator, started.body["clientSecret"], payment_method)
    assert intent.status == "succeeded", intent.status
    return intent.payment_method


def card(emulator, number):
    """A card PaymentMethod from a test number (as Stripe.js makes one from the card form)."""
    return emulator.client().v1.payment_methods.create(
        {"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id


def test_set_up_list_default_and_delete(aws, stripe_env, billing_handler):
    # A user without a Stripe customer has no cards (and Stripe is not asked)
    assert listed(billing_handler) == []
    # Setting one up makes the customer and a SetupIntent; asking again while it is open answers the same one
    first = setup(billing_handler)
    assert first.status == 201 and first.body["clientSecret"].startswith("seti_")
    assert first.body["publishableKey"].startswith("pk_")
    assert setup(billing_handler).body["clientSecret"] == first.body["clientSecret"]
    customer = store.get(CustomerRecord, ALICE).stripe_customer_id
    # When the app confirms it with a card, the card is the customer's
    confirm_setup(stripe_env, first.body["clientSecret"])
    second = save_card(stripe_env, billing_handler)
    cards = listed(billing_handler)
    assert len(cards) == 2 and {c["brand"] for c in cards} == {"visa"} and {c["last4"] for c in cards} == {"4242"}
    assert all(c["expMonth"] == 12 and c["expYear"] == 2030 and c["default"] is False for c in cards)
    # The default is set at Stripe (what subscriptions charge)
    chosen = call(billing_handler, "POST", "/payment-methods/{paymentMethodId}/default",
                  path={"paymentMethodId": second})
    assert chosen.status == 200, chosen.body
    assert [c["id"] for c in chosen.body["paymentMethods"] if c["default"]] == [second]
    assert stripe_env.client().v1.customers.retrieve(customer).invoice_settings.default_payment_method == second
    # Deleting detaches it at Stripe
    deleted = call(billing_handler, "DELETE", "/payment-methods/{paymentMethodId}", path={"paymentMethodId": second})
    assert (deleted.status, deleted.body) == (204, None)
    assert stripe_env.client().v1.payment_methods.retrieve(second).customer is None
    assert second not in [c["id"] for c in listed(billing_handler)]
    again = call(billing_handler, "DELETE", "/payment-methods/{paymentMethodId}", path={"paymentMethodId": second})
    assert (again.status, again.error_code) == (404, "payment_method_not_found")


def test_another_users_card_is_404_on_every_route(aws, stripe_env, billing_handler, checkout_handler, orders_handler):
    alices = save_card(stripe_env, billing_handler, ALICE)
    save_card(stripe_env, billing_handler, BOB)
    order = admin_order(orders_handler, user=BOB)
    path = {"paymentMethodId": alices}
    answers = [
        call(billing_handler, "POST", "/payment-methods/{paymentMethodId}/default", user=BOB, path=path),
        call(billing_handler, "DELETE", "/payment-methods/{paymentMethodId}", user=BOB, path=path),
        call(checkout_handler, "POST", "/checkout", user=BOB,
             body={"orderId": order["orderId"], "paymentMethodId": alices}),
    ]
    assert [(a.status, a.error_code) for a in answers] == [(404, "payment_method_not_found")] * 3
    # A card attached to nobody, and one that does not exist, are the same 404
    loose, missing = card(stripe_env, "4242424242424242"), "pm_doesnotexist1"
    for pm in (loose, missing):
        answer = call(billing_handler, "DELETE", "/payment-methods/{paymentMethodId}", path={"paymentMethodId": pm})
        assert (answer.status, answer.error_code) == (404, "payment_method_not_found")
    # Alice's card is untouched and still hers
    assert stripe_env.client().v1.payment_methods.retrieve(alices).customer == store.get(
        CustomerRecord, ALICE).stripe_customer_id
    assert store.get(PaymentRecord, "x") is None and get_order(orders_handler, order["orderId"], user=BOB).body[
        "payments"] == []


def test_paying_with_a_saved_card(live, stripe_env, billing_handler, checkout_handler, orders_handler):
    saved = save_card(stripe_env, billing_handler)
    order = admin_order(orders_handler)
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "paymentMethodId": saved})
    assert answer.status == 201, answer.body
    assert (answer.body["requiresAction"], answer.body["status"]) == (False, "pending")
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")
    [payment] = get_order(orders_handler, order["orderId"]).body["payments"]
    assert (payment["status"], payment["paymentMethodId"]) == ("succeeded", saved)


def test_a_saved_card_needing_3d_secure_answers_that_the_client_must_confirm(
        live, stripe_env, billing_handler, checkout_handler, orders_handler):
    # Given a saved card that asks for 3-D Secure (saved after its own challenge)
    started = setup(billing_handler).body
    client = stripe_env.client()
    intent_id = started["clientSecret"].split("_secret_")[0]
    assert client.v1.setup_intents.confirm(intent_id, {"payment_method": card(stripe_env, THREE_D_SECURE)}
                                           ).status == "requires_action"
    saved = client.v1.setup_intents.confirm(intent_id).payment_method
    order = admin_order(orders_handler)
    # When the order is paid with it
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "paymentMethodId": saved})
    # Then the answer says the client must confirm, with the PaymentIntent's client secret
    assert answer.status == 201, answer.body
    assert answer.body["requiresAction"] is True and answer.body["clientSecret"].startswith("pi_")
    assert get_order(orders_handler, order["orderId"]).body["status"] == "pending"
    # Asking again answers the same payment, still waiting for the client
    again = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "paymentMethodId": saved})
    assert (again.body["paymentId"], again.body["requiresAction"]) == (answer.body["paymentId"], True)
    # When the client completes the challenge (Stripe.js handleNextAction), the webhook pays the order
    intent = answer.body["clientSecret"].split("_secret_")[0]
    client.raw_request("post", f"/v1/payment_intents/{intent}/_authenticate",
                       client_secret=answer.body["clientSecret"], success="true")
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")


def test_a_declined_saved_card_fails_the_payment(aws, stripe_env, billing_handler, checkout_handler, orders_handler):
    saved = save_card(stripe_env, billing_handler, payment_method=card(stripe_env, "4000000000000341"))
    order = admin_order(orders_handler)
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "paymentMethodId": saved})
    assert (answer.status, answer.error_code) == (422, "stripe_rejected")
    [payment] = get_order(orders_handler, order["orderId"]).body["payments"]
    assert payment["status"] == "failed"


def test_a_promotion_code_on_a_one_time_order(live, stripe_env, checkout_handler, orders_handler):
    client = stripe_env.client()
    coupon = client.v1.coupons.create({"amount_off": 500, "currency": "usd", "duration": "once"})
    client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "FIVEOFF"})
    order = admin_order(orders_handler, amount=1999)
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "promotionCode": "FIVEOFF"})
    assert answer.status == 201, answer.body
    assert (answer.body["amount"], answer.body["discount"]) == (1499, {"promotionCode": "FIVEOFF", "amount": 500})
    intent = answer.body["clientSecret"].split("_secret_")[0]
    assert client.v1.payment_intents.retrieve(intent).amount == 1499
    client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent)
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")
    view = get_order(orders_handler, order["orderId"]).body
    assert view["amount"] == 1999
    assert [(p["amount"], p["discount"]) for p in view["payments"]] == [(1499, {"promotionCode": "FIVEOFF",
                                                                                "amount": 500})]


def test_a_promotion_code_that_takes_the_charge_below_stripes_minimum_is_a_400(aws, stripe_env, checkout_handler,
                                                                               orders_handler):
    client = stripe_env.client()
    coupon = client.v1.coupons.create({"percent_off": 99, "duration": "once"})
    client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "ALMOSTFREE"})
    order = admin_order(orders_handler, amount=1000)
    answer = call(checkout_handler, "POST", "/checkout",
                  body={"orderId": order["orderId"], "promotionCode": "ALMOSTFREE"})
    assert (answer.status, answer.error_code) == (400, "amount_below_minimum")
    assert answer.body["error"]["message"].startswith("promotionCode: ")

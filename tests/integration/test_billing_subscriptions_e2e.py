"""Subscriptions a pricing page promises, end to end against the Stripe emulator with its webhooks delivered to the
real callbacks: a trial with and without a card, a promotion code, and a hosted Checkout in subscription mode."""

from __future__ import annotations

import time

import pytest

from devstack.stripe_emulator_billing import advance_subscription
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from tests.support.api import call, get_order
from tests.support.billing import (
    confirm_payment,
    confirm_setup,
    order,
    plan,
    promotion_code,
    record,
    subscribe,
    subscription_order,
    until,
)

pytestmark = pytest.mark.emulator


def payments_of(order_id):
    found = store.get(OrderRecord, order_id)
    return [store.get(PaymentRecord, p) for p in found.payment_ids]


# --- trials -----------------------------------------------------------------------------------------------------


def test_a_trial_with_a_card_becomes_active_and_its_first_charge_is_a_renewal_order(
        live, stripe_env, catalog, orders_handler, subscribe_handler):
    # Given a 14-day trial of a monthly plan
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    started = subscribe(subscribe_handler, placed, price.id, trialDays=14)
    assert started.status == 201, started.body
    body = started.body
    # Then it is trialing at once, and the client gets a SetupIntent's secret to save the card for the trial's end
    assert (body["status"], body["clientSecretType"]) == ("trialing", "setup_intent")
    assert body["clientSecret"].startswith("seti_") and body["trialEnd"]
    # And the trial's first invoice (0) pays the subscription's order: nothing is charged
    until(live, lambda: order(placed["orderId"]).status == "paid", "the trial's 0 invoice never paid the order")
    assert [(p.status, p.amount) for p in payments_of(placed["orderId"])] == [("succeeded", 0)]
    until(live, lambda: record(body["recurringPaymentId"]).trial_end is not None, "the trial's end never recorded")
    # When the user saves a card, and the trial ends
    confirm_setup(stripe_env, body["clientSecret"])
    invoice = advance_subscription(stripe_env, body["stripeSubscriptionId"])
    # Then the subscription is active and the first charge is a paid renewal order of the plan's price
    until(live, lambda: record(body["recurringPaymentId"]).status == "active", "never active after the trial")
    until(live, lambda: (order(f"ord_{invoice.id}") or OrderRecord(status="x")).status == "paid", "no paid renewal")
    renewal = get_order(orders_handler, f"ord_{invoice.id}").body
    assert (renewal["kind"], renewal["amount"], renewal["parentOrderId"]) == ("renewal", 900, placed["orderId"])
    assert [line["amount"] for line in renewal["lines"]] == [900]


def test_a_trial_without_a_card_ends_canceled(live, stripe_env, catalog, orders_handler, subscribe_handler):
    # Given a trial whose user never saves a card
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    body = subscribe(subscribe_handler, placed, price.id, trialDays=7).body
    until(live, lambda: order(placed["orderId"]).status == "paid", "the trial never started")
    # When the trial ends
    advance_subscription(stripe_env, body["stripeSubscriptionId"])
    # Then the subscription is canceled (the README's documented end), and no charge order was made
    until(live, lambda: record(body["recurringPaymentId"]).status == "canceled", "the trial did not end canceled")
    at_stripe = stripe_env.client().v1.subscriptions.retrieve(body["stripeSubscriptionId"])
    assert (at_stripe.status, at_stripe.trial_settings.end_behavior.missing_payment_method) == ("canceled", "cancel")
    assert [o["kind"] for o in call(orders_handler, "GET", "/orders").body["orders"]] == ["subscription"]


# --- promotion codes ----------------------------------------------------------------------------------------------


def test_a_promotion_code_discounts_the_first_invoice_and_the_order_records_it(
        live, stripe_env, catalog, orders_handler, subscribe_handler):
    # Given a 25% off code
    promotion_code(stripe_env, "FALL25", percent_off=25)
    price = plan(catalog, 900)
    placed = subscription_order(orders_handler, price.id)
    # When the user subscribes with it and pays the first invoice
    started = subscribe(subscribe_handler, placed, price.id, promotionCode="FALL25")
    assert started.status == 201, started.body
    confirm_payment(stripe_env, started.body["clientSecret"])
    # Then the order (priced 900) is paid by a first payment of 675, which records the code and its 225
    until(live, lambda: order(placed["orderId"]).status == "paid", "the discounted order was not paid")
    view = get_order(orders_handler, placed["orderId"]).body
    assert view["amount"] == 900
    [payment] = view["payments"]
    assert (payment["amount"], payment["status"]) == (675, "succeeded")
    assert payment["discount"] == {"promotionCode": "FALL25", "amount": 225}
    assert view["lines"] == [{"description": "1 \u00d7 Basic", "amount": 900, "proration": False,
                              "priceId": price.id}]


@pytest.mark.parametrize(("code", "why"), [("NOSUCHCODE", "no such promotion code"), ("EXPIRED", "expired")])
def test_an_unknown_or_expired_code_is_a_400_naming_the_field(aws, stripe_env, catalog, orders_handler,
                                                              subscribe_handler, code, why):
    client = stripe_env.client()
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "once"})
    client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "EXPIRED",
                                      "expires_at": int(time.time()) - 60})
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    answer = subscribe(subscribe_handler, placed, price.id, promotionCode=code)
    assert (answer.status, answer.error_code) == (400, "invalid_promotion_code")
    assert answer.body["error"]["message"].startswith("promotionCode: ") and why in answer.body["error"]["message"]
    # Nothing was started: no subscription at Stripe, the order free to subscribe
    assert order(placed["orderId"]).recurring_payment_id is None
    assert not client.v1.subscriptions.list({"limit": 10}).data


# --- web checkout in subscription mode ------------------------------------------------------------------------


def test_a_hosted_checkout_in_subscription_mode_pays_the_order_and_links_the_record(
        live, stripe_env, catalog, orders_handler, subscribe_handler):
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    web = {"mode": "checkout_session", "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no"}
    started = subscribe(subscribe_handler, placed, price.id, **web)
    assert started.status == 201, started.body
    body = started.body
    assert (body["mode"], body["status"], body["stripeSubscriptionId"], body["clientSecret"]) == (
        "checkout_session", "incomplete", None, None)
    assert body["checkoutUrl"].startswith(stripe_env.url)
    # Asking again while the Session is open answers the same page
    again = subscribe(subscribe_handler, placed, price.id, **web)
    assert (again.status, again.body["checkoutUrl"]) == (201, body["checkoutUrl"])
    # When the customer pays on the hosted page
    session_id = body["checkoutUrl"].rsplit("/", 1)[-1]
    session = stripe_env.complete_checkout_session(session_id)
    # Then checkout.session.completed links the record to the subscription Stripe made, and invoice.paid pays it
    until(live, lambda: record(body["recurringPaymentId"]).stripe_subscription_id == session.subscription,
          "the record was never linked to the Session's subscription")
    until(live, lambda: order(placed["orderId"]).status == "paid", "the order was never paid")
    until(live, lambda: record(body["recurringPaymentId"]).status == "active", "never active")
    assert [(p.status, p.amount_received) for p in payments_of(placed["orderId"])] == [("succeeded", 900)]

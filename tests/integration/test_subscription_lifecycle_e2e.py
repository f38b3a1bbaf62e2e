"""Subscriptions end to end against the Stripe emulator: subscribe, pay the first invoice, renew,
fail a renewal and recover, cancel at period end or now, resume; webhooks delivered by the emulator."""

from __future__ import annotations

import json
import time

import pytest

from devstack.stripe_emulator_billing import advance_subscription, pay_invoice
from payments.data import store
from payments.data.models import CustomerRecord, OrderRecord, RecurringPaymentRecord
from tests.support import billing
from tests.support.api import ADMIN, ALICE, call, get_order
from tests.support.billing import confirm_payment as pay_first_invoice
from tests.support.calls import SerializedRequests
from tests.support.races import race

pytestmark = pytest.mark.emulator


def monthly_price(catalog, amount=999):
    return catalog.price(amount, name="Pro", interval="month")


def subscription_order(orders_handler, price_id, user=ALICE):
    answer = call(orders_handler, "POST", "/orders", user=user, body={"items": [{"priceId": price_id}]})
    assert answer.status == 201 and answer.body["kind"] == "subscription"
    return answer.body


def subscribe(subscribe_handler, order, price_id, user=ALICE):
    return call(subscribe_handler, "POST", "/subscriptions", user=user,
                body={"orderId": order["orderId"], "priceId": price_id})


def record(recurring_payment_id):
    return store.get(RecurringPaymentRecord, recurring_payment_id)


def until(live, check, what):
    assert live.wait_for(lambda _: check()), what


@pytest.fixture
def active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler):
    return billing.active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler,
                                       monthly_price(catalog))


def test_subscribe_pay_and_the_order_is_paid_and_the_subscription_active(live, stripe_env, catalog, orders_handler,
                                                                         subscribe_handler):
    # Given a subscription order for a monthly price
    price = monthly_price(catalog)
    order = subscription_order(orders_handler, price.id)
    # When the owner subscribes
    started = subscribe(subscribe_handler, order, price.id)
    # Then the subscription is created incomplete, with the first invoice's client secret for the app
    assert started.status == 201, started.body
    body = started.body
    assert body["status"] == "incomplete" and body["clientSecret"].startswith("pi_")
    assert body["stripeSubscriptionId"].startswith("sub_") and body["orderId"] == order["orderId"]
    # And asking again while it is incomplete returns the same subscription
    again = subscribe(subscribe_handler, order, price.id)
    assert (again.status, again.body["recurringPaymentId"], again.body["clientSecret"]) == (
        201, body["recurringPaymentId"], body["clientSecret"])
    # When the app pays the first invoice
    pay_first_invoice(stripe_env, body["clientSecret"])
    # Then Stripe's events (in whatever order they land) make the order paid and the subscription active
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "order never paid")
    until(live, lambda: record(body["recurringPaymentId"]).status == "active", "never active")
    view = get_order(orders_handler, order["orderId"]).body
    assert view["subscription"]["status"] == "active" and view["subscription"]["currentPeriodEnd"]
    assert [(p["status"], p["amount"]) for p in view["payments"]] == [("succeeded", 999)]
    # And subscribing the paid order again is refused
    assert subscribe(subscribe_handler, order, price.id).status == 409


def test_each_renewal_becomes_one_paid_renewal_order(live, stripe_env, orders_handler, active_subscription):
    order, started = active_subscription
    invoice = advance_subscription(stripe_env, started["stripeSubscriptionId"])
    renewal_id = f"ord_{invoice.id}"
    until(live, lambda: (store.get(OrderRecord, renewal_id) or OrderRecord(status="x")).status == "paid",
          "renewal order never paid")
    listed = call(orders_handler, "GET", "/orders").body["orders"]
    assert [(o["orderId"], o["kind"], o["status"], o["parentOrderId"]) for o in listed] == [
        (renewal_id, "renewal", "paid", order["orderId"]), (order["orderId"], "subscription", "paid", None)]


def test_a_failed_renewal_then_stripes_retry_ends_one_paid_order_and_active(live, stripe_env, orders_handler,
                                                                             active_subscription):
    _, started = active_subscription
    rid = started["recurringPaymentId"]
    invoice = advance_subscription(stripe_env, started["stripeSubscriptionId"], fail=True)
    renewal_id = f"ord_{invoice.id}"
    until(live, lambda: record(rid).status == "past_due", "never past_due")
    until(live, lambda: store.get(OrderRecord, renewal_id) is not None, "no renewal order for the failure")
    assert store.get(OrderRecord, renewal_id).status == "pending"
    pay_invoice(stripe_env, invoice.id)
    until(live, lambda: store.get(OrderRecord, renewal_id).status == "paid", "renewal never paid")
    until(live, lambda: record(rid).status == "active", "never active again")
    view = get_order(orders_handler, renewal_id).body
    assert [p["status"] for p in view["payments"]] == ["succeeded"]
    assert len([o for o in call(orders_handler, "GET", "/orders").body["orders"] if o["kind"] == "renewal"]) == 1


def test_cancel_at_period_end_then_the_period_ends(live, stripe_env, cancel_subscription_handler,
                                                   active_subscription):
    _, started = active_subscription
    rid = started["recurringPaymentId"]
    path = {"recurringPaymentId": rid}
    answer = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path=path)
    assert answer.status == 200
    assert (answer.body["status"], answer.body["cancelAtPeriodEnd"]) == ("active", True)
    twice = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path=path)
    assert (twice.status, twice.error_code) == (409, "already_canceled")
    advance_subscription(stripe_env, started["stripeSubscriptionId"])
    until(live, lambda: record(rid).status == "canceled", "never canceled")


def test_resume_then_an_admin_cancels_now(live, stripe_env, cancel_subscription_handler, active_subscription):
    _, started = active_subscription
    rid = started["recurringPaymentId"]
    path = {"recurringPaymentId": rid}
    call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path=path)
    resumed = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/resume", path=path)
    assert (resumed.status, resumed.body["cancelAtPeriodEnd"]) == (200, False)
    at_stripe = stripe_env.client().v1.subscriptions.retrieve(started["stripeSubscriptionId"])
    assert at_stripe.cancel_at_period_end is False
    now = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path=path,
               user=ADMIN, admin=True, body={"atPeriodEnd": False})
    assert (now.status, now.body["status"]) == (200, "canceled")
    assert stripe_env.client().v1.subscriptions.retrieve(started["stripeSubscriptionId"]).status == "canceled"
    again = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel", path=path,
                 body={"atPeriodEnd": False})
    assert (again.status, again.error_code) == (409, "already_canceled")
    # The deleted event that follows keeps it canceled
    until(live, lambda: any(d.path == "/subscription" for d in live.deliveries), "no subscription event")
    assert record(rid).status == "canceled"


def test_two_concurrent_first_subscriptions_by_a_new_user_make_one_stripe_customer(
        live, stripe_env, catalog, orders_handler, subscribe_handler):
    price = monthly_price(catalog)
    orders = [subscription_order(orders_handler, price.id, user="user-new") for _ in range(2)]
    with SerializedRequests():
        answers = race(2, lambda i: subscribe(subscribe_handler, orders[i], price.id, user="user-new"))
    assert [a.status for a in answers] == [201, 201]
    customers = {stripe_env.client().v1.subscriptions.retrieve(a.body["stripeSubscriptionId"]).customer
                 for a in answers}
    assert len(customers) == 1
    assert store.get(CustomerRecord, "user-new").stripe_customer_id == customers.pop()


def test_a_customer_made_earlier_but_never_recorded_is_found_not_made_again(
        aws, stripe_env, catalog, orders_handler, subscribe_handler):
    """Stripe keeps idempotency keys for 24 hours: a customer created, then lost before it was recorded (a crash,
    a timeout), would be made again by a retry a day later. The user's customer is looked up first."""
    client = stripe_env.client()
    earlier = client.v1.customers.create({"metadata": {"userId": "user-returning"}})
    price = monthly_price(catalog)
    started = subscribe(subscribe_handler, subscription_order(orders_handler, price.id, user="user-returning"),
                        price.id, user="user-returning")
    assert started.status == 201, started.body
    assert client.v1.subscriptions.retrieve(started.body["stripeSubscriptionId"]).customer == earlier.id
    assert store.get(CustomerRecord, "user-returning").stripe_customer_id == earlier.id
    found = client.v1.customers.search({"query": "metadata['userId']:'user-returning'"}).data
    assert [c.id for c in found] == [earlier.id]


def _signed_update(subscription: dict, created: int, **changes) -> dict:
    from devstack.lambda_events import signed_webhook_event
    from devstack.stripe_events import stripe_event

    subscription = json.loads(json.dumps(subscription, default=str))  # the SDK's dict holds Decimals
    return signed_webhook_event(stripe_event("customer.subscription.updated", {**subscription, **changes},
                                             created=created), "whsec_local_subscription")


def test_stripes_clock_behind_ours_does_not_hold_a_started_subscription_back(
        aws, stripe_env, catalog, orders_handler, subscribe_handler, subscription_callback_handler):
    """Stripe's stamps are compared with Stripe's only: with Stripe's clock a few seconds behind ours, the
    update that makes a just-started subscription active still applies."""
    from tests.support.invoke import invoke

    price = monthly_price(catalog)
    started = subscribe(subscribe_handler, subscription_order(orders_handler, price.id), price.id).body
    subscription = stripe_env.client().v1.subscriptions.retrieve(started["stripeSubscriptionId"]).to_dict()
    behind = int(time.time()) - 5
    answer = invoke(subscription_callback_handler, _signed_update(subscription, behind, status="active"))
    assert answer.body["result"] == "processed"
    assert (record(started["recurringPaymentId"]).status, record(started["recurringPaymentId"]).last_event_created) == (
        "active", behind)


def test_a_cancel_made_through_our_api_is_not_undone_by_an_event_from_before_it(
        aws, stripe_env, catalog, orders_handler, subscribe_handler, cancel_subscription_handler,
        subscription_callback_handler):
    from tests.support.invoke import invoke

    price = monthly_price(catalog)
    started = subscribe(subscribe_handler, subscription_order(orders_handler, price.id), price.id).body
    pay_first_invoice(stripe_env, started["clientSecret"])
    rid = started["recurringPaymentId"]
    subscription = stripe_env.client().v1.subscriptions.retrieve(started["stripeSubscriptionId"]).to_dict()
    invoke(subscription_callback_handler, _signed_update(subscription, int(time.time()) - 60, status="active"))
    canceled = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
                    path={"recurringPaymentId": rid}, body={"atPeriodEnd": True})
    assert canceled.status == 200 and record(rid).cancel_at_period_end
    # An update Stripe sent before our cancel (not cancelling) arrives late: Stripe is read, the cancel stays
    late = invoke(subscription_callback_handler, _signed_update(subscription, int(time.time()) - 30,
                                                                status="active", cancel_at_period_end=False))
    assert late.body["result"] == "processed"
    assert (record(rid).status, record(rid).cancel_at_period_end, record(rid).changed_by_api) == ("active", True, False)

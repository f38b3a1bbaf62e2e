"""Plan changes: the preview's amount is what the change bills, each proration behaviour makes the orders it
should (``always_invoice`` one adjustment order, however often its invoice is reported; ``none`` none;
``create_prorations`` its lines on the next renewal), and the record's price follows Stripe."""

from __future__ import annotations

import json

import pytest

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from devstack.stripe_emulator_billing import advance_subscription
from payments.data import store
from payments.data.models import OrderRecord
from tests.support.api import BOB, call, get_order
from tests.support.billing import active_subscription, order, plan, record, until
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.openapi import assert_documented
from tests.support.races import race

pytestmark = pytest.mark.emulator

CHANGE, PREVIEW = "/subscriptions/{recurringPaymentId}/change", "/subscriptions/{recurringPaymentId}/change/preview"


def change(handler, rid, body, **kwargs):
    answer = call(handler, "POST", CHANGE, path={"recurringPaymentId": rid}, body=body, **kwargs)
    assert_documented(answer, "POST", CHANGE)
    return answer


def preview(handler, rid, body, **kwargs):
    answer = call(handler, "POST", PREVIEW, path={"recurringPaymentId": rid}, body=body, **kwargs)
    assert_documented(answer, "POST", PREVIEW)
    return answer


def orders_of_kind(orders_handler, kind):
    return [o for o in call(orders_handler, "GET", "/orders").body["orders"] if o["kind"] == kind]


@pytest.fixture
def plans(catalog):
    return plan(catalog, 900, "Basic"), plan(catalog, 1900, "Plus")


def test_an_upgrade_invoiced_at_once_is_one_adjustment_order_of_the_previewed_amount(
        live, stripe_env, catalog, plans, orders_handler, subscribe_handler, cancel_subscription_handler):
    basic, plus = plans
    placed, started = active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, basic)
    rid = started["recurringPaymentId"]
    body = {"priceId": plus.id, "proration": "always_invoice"}
    # When the user previews the upgrade
    shown = preview(cancel_subscription_handler, rid, body)
    assert shown.status == 200, shown.body
    assert shown.body["currency"] == "usd" and shown.body["amountDue"] > 0
    assert [line["proration"] for line in shown.body["lines"]] == [True, True]
    assert sum(line["amount"] for line in shown.body["lines"]) == shown.body["amountDue"]
    # And the preview changed nothing
    assert stripe_env.client().v1.subscriptions.retrieve(started["stripeSubscriptionId"])["items"].data[
        0].price.id == basic.id
    # When the user confirms it, with the preview's proration date
    made = change(cancel_subscription_handler, rid, {**body, "prorationDate": shown.body["prorationDate"]})
    # Then the plan is changed at Stripe and on the record at once
    assert (made.status, made.body["priceId"]) == (200, plus.id), made.body
    # And Stripe's invoice of the proration, paid, is exactly one adjustment order of the previewed amount
    until(live, lambda: len(orders_of_kind(orders_handler, "adjustment")) == 1
          and orders_of_kind(orders_handler, "adjustment")[0]["status"] == "paid", "no paid adjustment order")
    [adjustment] = orders_of_kind(orders_handler, "adjustment")
    assert adjustment["amount"] == shown.body["amountDue"]
    assert adjustment["parentOrderId"] == placed["orderId"]
    assert [(line["amount"], line["proration"]) for line in adjustment["lines"]] == [
        (line["amount"], True) for line in shown.body["lines"]]
    assert adjustment["stripeInvoiceId"] == adjustment["orderId"].removeprefix("ord_")
    # And the record's price follows the subscription callback too (the order's subscription shows it)
    until(live, lambda: record(rid).price_id == plus.id and record(rid).pending_change is None, "price not followed")
    assert get_order(orders_handler, placed["orderId"]).body["subscription"]["priceId"] == plus.id


def test_a_change_without_proration_makes_no_order_and_the_next_renewal_bills_the_new_price(
        live, stripe_env, catalog, plans, orders_handler, subscribe_handler, cancel_subscription_handler):
    basic, plus = plans
    _, started = active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, basic)
    rid = started["recurringPaymentId"]
    shown = preview(cancel_subscription_handler, rid, {"priceId": plus.id, "proration": "none"}).body
    assert (shown["amountDue"], [line["proration"] for line in shown["lines"]]) == (1900, [False])
    made = change(cancel_subscription_handler, rid, {"priceId": plus.id, "proration": "none"})
    assert made.status == 200, made.body
    until(live, lambda: record(rid).price_id == plus.id, "price not followed")
    assert orders_of_kind(orders_handler, "adjustment") == []
    invoice = advance_subscription(stripe_env, started["stripeSubscriptionId"])
    until(live, lambda: (order(f"ord_{invoice.id}") or OrderRecord(status="x")).status == "paid", "no renewal")
    renewal = get_order(orders_handler, f"ord_{invoice.id}").body
    assert renewal["amount"] == 1900 == shown["amountDue"]
    assert orders_of_kind(orders_handler, "adjustment") == []


def test_prorations_created_for_later_go_on_the_next_renewal_order(
        live, stripe_env, catalog, plans, orders_handler, subscribe_handler, cancel_subscription_handler):
    basic, plus = plans
    _, started = active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, basic)
    rid = started["recurringPaymentId"]
    shown = preview(cancel_subscription_handler, rid, {"priceId": plus.id}).body  # create_prorations, the default
    made = change(cancel_subscription_handler, rid, {"priceId": plus.id, "prorationDate": shown["prorationDate"]})
    assert made.status == 200, made.body
    invoice = advance_subscription(stripe_env, started["stripeSubscriptionId"])
    until(live, lambda: (order(f"ord_{invoice.id}") or OrderRecord(status="x")).status == "paid", "no renewal")
    renewal = get_order(orders_handler, f"ord_{invoice.id}").body
    assert renewal["amount"] == shown["amountDue"]
    assert sorted(line["proration"] for line in renewal["lines"]) == [False, True, True]
    assert orders_of_kind(orders_handler, "adjustment") == []


def test_the_adjustment_invoice_reported_twice_at_once_is_one_order(
        aws, stripe_env, catalog, plans, orders_handler, subscribe_handler, cancel_subscription_handler,
        renewal_callback_handler, subscription_callback_handler):
    basic, plus = plans
    # Given an active subscription changed with always_invoice (the events delivered by hand)
    placed = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": basic.id}]}).body
    started = call(subscribe_handler, "POST", "/subscriptions",
                   body={"orderId": placed["orderId"], "priceId": basic.id}).body
    client = stripe_env.client()
    intent = started["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent)
    record_ = record(started["recurringPaymentId"])
    record_.status = "active"
    store.put(record_)
    made = change(cancel_subscription_handler, started["recurringPaymentId"],
                  {"priceId": plus.id, "proration": "always_invoice"})
    assert made.status == 200, made.body
    events = [e for e in client.v1.events.list({"limit": 100}).data
              if e.type == "invoice.paid" and e.data.object.billing_reason == "subscription_update"]
    assert len(events) == 1
    paid = json.loads(json.dumps(events[0].to_dict(), default=str))
    # When invoice.paid arrives twice at once (plus a copy from 6 threads)
    with SerializedRequests():
        answers = race(8, lambda _: invoke(renewal_callback_handler,
                                           signed_webhook_event(paid, LOCAL_WEBHOOK_SECRETS["renewal"])))
    # Then exactly one delivery made the one adjustment order, paid; the others are duplicates
    assert sorted(a.body["result"] for a in answers) == ["duplicate"] * 7 + ["processed"]
    adjustments = orders_of_kind(orders_handler, "adjustment")
    assert [(o["orderId"], o["status"], o["amount"]) for o in adjustments] == [
        (f"ord_{paid['data']['object']['id']}", "paid", paid["data"]["object"]["amount_due"])]


# --- refusals ---------------------------------------------------------------------------------------------------


@pytest.fixture
def started(live, stripe_env, catalog, plans, orders_handler, subscribe_handler):
    return active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, plans[0])[1]


@pytest.mark.parametrize("route", [CHANGE, PREVIEW])
def test_refusals_before_stripe_is_asked(stripe_env, catalog, plans, started, cancel_subscription_handler, route):
    basic, plus = plans
    rid = started["recurringPaymentId"]
    one_time = catalog.price(500, name="Mug")
    unsold = catalog.price(700, name="Hidden", interval="month", sellable=False)
    other_currency = catalog.price(800, currency="eur", name="Euro plan", interval="month")
    cases = [
        ({"priceId": basic.id}, BOB, 404, "subscription_not_found"),
        ({"priceId": basic.id}, None, 409, "same_price"),
        ({"priceId": unsold.id}, None, 400, "unknown_price"),
        ({"priceId": one_time.id}, None, 400, "price_not_recurring"),
        ({"priceId": other_currency.id}, None, 400, "mixed_currencies"),
        ({"priceId": plus.id, "proration": "sometimes"}, None, 400, "invalid_field"),
        ({"priceId": plus.id, "prorationDate": 1}, None, 400, "invalid_field"),
        ({"proration": "none"}, None, 400, "missing_field"),
    ]
    for body, user, status, code in cases:
        answer = call(cancel_subscription_handler, "POST", route, path={"recurringPaymentId": rid}, body=body,
                      **({"user": user} if user else {}))
        assert_documented(answer, "POST", route)
        assert (answer.status, answer.error_code) == (status, code), (body, answer.body)
    assert record(rid).price_id == basic.id and record(rid).pending_change is None


def test_an_ended_subscription_cannot_change(stripe_env, plans, started, cancel_subscription_handler):
    rid = started["recurringPaymentId"]
    call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
         path={"recurringPaymentId": rid}, body={"atPeriodEnd": False})
    answer = change(cancel_subscription_handler, rid, {"priceId": plans[1].id})
    assert (answer.status, answer.error_code) == (409, "subscription_not_changeable")


def test_what_the_user_changes_in_the_portal_lands_through_the_callbacks(
        live, stripe_env, catalog, plans, orders_handler, subscribe_handler, billing_handler):
    import urllib.parse
    import urllib.request

    basic, plus = plans
    placed, started = active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, basic)
    rid = started["recurringPaymentId"]
    portal = call(billing_handler, "POST", "/billing-portal", body={"returnUrl": "https://shop.example/account"})
    assert portal.status == 201, portal.body

    def in_the_portal(**form):  # what the customer clicks on Stripe's portal page
        data = urllib.parse.urlencode({"subscription": started["stripeSubscriptionId"], **form}).encode()
        with urllib.request.urlopen(urllib.request.Request(portal.body["url"], data=data), timeout=10):  # noqa: S310
            pass

    # When the user switches plan in the portal, the record's price follows (customer.subscription.updated)
    in_the_portal(price=plus.id)
    until(live, lambda: record(rid).price_id == plus.id, "the portal's plan change never reached the record")
    # And when the user cancels there, the record is set to cancel at the period's end
    in_the_portal(action="cancel")
    until(live, lambda: record(rid).cancel_at_period_end, "the portal's cancel never reached the record")
    view = get_order(orders_handler, placed["orderId"]).body["subscription"]
    assert (view["priceId"], view["cancelAtPeriodEnd"], view["status"]) == (plus.id, True, "active")

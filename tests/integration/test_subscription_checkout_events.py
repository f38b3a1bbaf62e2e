"""A subscription bought on a hosted Checkout: Stripe's events, delivered in any order and twice, end in one state
(the order paid once, the record linked to the Session's subscription and active)."""

from __future__ import annotations

import json
import random

import pytest

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from tests.support.billing import plan, record, subscribe, subscription_order
from tests.support.invoke import invoke

pytestmark = pytest.mark.emulator

# The events of a subscription bought on a hosted Checkout that our callbacks take, by callback.
ENDPOINTS = {"checkout.session.completed": "payment", "customer.subscription.created": "subscription",
             "customer.subscription.updated": "subscription", "invoice.paid": "renewal"}
WEB = {"mode": "checkout_session", "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no"}


def stripes_events(emulator, session) -> list[dict]:
    """Every event Stripe sent about this purchase, in the order it sent them (the emulator lists them so)."""
    ids = {session.id, session.subscription, session.invoice}
    events = emulator.client().v1.events.list({"limit": 100}).data
    mine = [json.loads(json.dumps(e.to_dict(), default=str)) for e in events if e.type in ENDPOINTS]
    return [e for e in mine if ids & {e["data"]["object"].get("id"), e["data"]["object"].get("subscription")}]


@pytest.mark.parametrize("shuffle", ["as_sent", "reversed", "seed_1", "seed_2", "seed_3"])
def test_any_order_of_the_events_ends_in_the_same_state(aws, stripe_env, catalog, orders_handler, subscribe_handler,
                                                        payment_callback_handler, subscription_callback_handler,
                                                        renewal_callback_handler, shuffle):
    handlers = {"payment": payment_callback_handler, "subscription": subscription_callback_handler,
                "renewal": renewal_callback_handler}
    # Given a subscription order bought on a hosted Checkout (no webhook registered: we deliver by hand)
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    started = subscribe(subscribe_handler, placed, price.id, **WEB).body
    session = stripe_env.complete_checkout_session(started["checkoutUrl"].rsplit("/", 1)[-1])
    events = stripes_events(stripe_env, session)
    assert {"checkout.session.completed", "customer.subscription.created", "invoice.paid"} <= {
        e["type"] for e in events}, [e["type"] for e in events]
    # When they arrive in this order, each one twice
    if shuffle == "reversed":
        events.reverse()
    elif shuffle.startswith("seed_"):
        random.Random(int(shuffle[-1])).shuffle(events)
    answers = []
    for event in events + events:
        endpoint = ENDPOINTS[event["type"]]
        answers.append(invoke(handlers[endpoint], signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS[endpoint])))
    # Then every delivery is a 200, each event applied at most once, and the end state is the same
    assert all(a.status == 200 for a in answers), [a.body for a in answers]
    assert [a.body["result"] for a in answers[len(events):]].count("processed") == 0
    order = store.get(OrderRecord, placed["orderId"])
    after = record(started["recurringPaymentId"])
    assert (order.status, after.stripe_subscription_id, after.status) == ("paid", session.subscription, "active")
    payments = [store.get(PaymentRecord, p) for p in order.payment_ids]
    assert [(p.status, p.amount_received, p.payment_id) for p in payments] == [
        ("succeeded", 900, f"pay_{session.invoice}")]


def test_a_session_we_did_not_create_changes_nothing(aws, stripe_env, catalog, orders_handler, subscribe_handler,
                                                     payment_callback_handler):
    # Given our record of a hosted Checkout, and a completed Session of someone else's naming it in its metadata
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    started = subscribe(subscribe_handler, placed, price.id, **WEB).body
    client = stripe_env.client()
    other = client.v1.customers.create({})
    forged = client.v1.checkout.sessions.create({
        "mode": "subscription", "customer": other.id, "line_items": [{"price": price.id, "quantity": 1}],
        "success_url": "https://x.example/ok", "cancel_url": "https://x.example/no",
        "metadata": {"orderId": placed["orderId"], "recurringPaymentId": started["recurringPaymentId"]}})
    forged = stripe_env.complete_checkout_session(forged.id)
    event = next(e for e in stripes_events(stripe_env, forged) if e["type"] == "checkout.session.completed")
    # When its completion is delivered
    answer = invoke(payment_callback_handler, signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["payment"]))
    # Then it is ignored: the record holds another Session
    assert (answer.status, answer.body["result"]) == (200, "ignored")
    assert record(started["recurringPaymentId"]).stripe_subscription_id is None


def test_an_expired_session_frees_the_order_for_a_new_one(aws, stripe_env, catalog, orders_handler, subscribe_handler,
                                                          payment_callback_handler):
    price = plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    first = subscribe(subscribe_handler, placed, price.id, **WEB).body
    session_id = first["checkoutUrl"].rsplit("/", 1)[-1]
    stripe_env.client().v1.checkout.sessions.expire(session_id)
    expired = next(e for e in stripe_env.client().v1.events.list({"limit": 100}).data
                   if e.type == "checkout.session.expired" and e.data.object.id == session_id)
    event = json.loads(json.dumps(expired.to_dict(), default=str))
    answer = invoke(payment_callback_handler, signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["payment"]))
    assert answer.body["result"] == "processed"
    assert record(first["recurringPaymentId"]).status == "incomplete_expired"
    second = subscribe(subscribe_handler, placed, price.id, **WEB)
    assert second.status == 201 and second.body["recurringPaymentId"] != first["recurringPaymentId"]

"""Domain events end to end: the product's real flows (API calls, the emulator's signed webhooks delivered to the
callbacks), the tables' streams delivered to EventPublisherFunction as Lambda delivers them, and what it put on
the bus, each event validated against its JSON Schema in docs/events/."""

from __future__ import annotations

import json

import jsonschema
import pytest

from devstack.event_schemas import load
from devstack.lambda_context import LambdaContext
from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from devstack.stripe_emulator_billing import advance_subscription
from payments.core.errors import WriteConflict
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from tests.support.api import ADMIN, ALICE, call, get_order
from tests.support.events import PublishedEvents, of_order
from tests.support.invoke import invoke

pytestmark = pytest.mark.emulator

SECRET_MARKERS = ("sk_test", "sk_live", "rk_", "pk_test", "pk_live", "whsec_", "_secret_")


@pytest.fixture
def published(live, event_publisher_handler, monkeypatch) -> PublishedEvents:
    return PublishedEvents(event_publisher_handler, monkeypatch)


def until(live, check, what):
    assert live.wait_for(lambda _: check()), what


def valid(event):
    jsonschema.validate(event["detail"], load(event["detail-type"]),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert event["source"] == "payments" and event["detail"]["type"] == event["detail-type"]
    return event


def pay_with_card(stripe_env, client_secret, payment_method="pm_card_visa"):
    client = stripe_env.client()
    intent_id = client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    return client.v1.payment_intents.confirm(intent_id)


@pytest.fixture
def paid_order(published, live, stripe_env, catalog, orders_handler, checkout_handler):
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price().id}]}).body
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    intent = pay_with_card(stripe_env, checkout["clientSecret"])
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")
    return order, checkout, intent


def test_a_one_time_payment_publishes_exactly_created_succeeded_paid_each_valid(published, paid_order, stripe_env):
    order, checkout, intent = paid_order
    events = published.drain()
    assert sorted(of_order(events, order["orderId"])) == ["OrderCreated", "OrderPaid", "PaymentSucceeded"]
    by_type = {e["detail-type"]: valid(e)["detail"] for e in events}
    created, succeeded, paid = by_type["OrderCreated"], by_type["PaymentSucceeded"], by_type["OrderPaid"]
    # Made through the API: no Stripe event caused it. Settled by the webhook: the Stripe event that did.
    assert created["causedBy"] is None and created["previousStatus"] is None
    webhook = next(e for e in stripe_env.client().v1.events.list({"type": "payment_intent.succeeded"}).data
                   if e.data.object.id == intent.id)
    assert succeeded["causedBy"] == {"stripeEventId": webhook.id} == paid["causedBy"]
    assert (succeeded["previousStatus"], paid["previousStatus"]) == ("pending", "pending")
    assert succeeded["payment"]["paymentId"] == checkout["paymentId"] and succeeded["payment"]["status"] == "succeeded"
    assert paid["order"]["status"] == "paid" and paid["userId"] == ALICE
    assert paid["order"]["payments"][0]["paymentId"] == checkout["paymentId"]
    assert paid["version"] > created["version"]
    assert len({e["detail"]["eventId"] for e in events}) == len(events)


def test_a_duplicate_webhook_delivery_publishes_nothing(published, paid_order, stripe_env, payment_callback_handler):
    _, _, intent = paid_order
    published.drain()
    webhook = next(e for e in stripe_env.client().v1.events.list({"type": "payment_intent.succeeded"}).data
                   if e.data.object.id == intent.id)
    answer = invoke(payment_callback_handler,
                    signed_webhook_event(json.loads(json.dumps(webhook.to_dict(), default=str)),
                                         LOCAL_WEBHOOK_SECRETS["payment"]))
    assert answer.body["result"] == "duplicate"
    assert published.drain() == []


def test_a_refund_publishes_refund_succeeded_and_order_partially_refunded(published, paid_order, refund_handler,
                                                                          orders_handler, live):
    order, checkout, _ = paid_order
    published.drain()
    answer = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                  body={"paymentId": checkout["paymentId"], "refundAmount": 500})
    assert answer.status == 202
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "partially_refunded",
          "never partially refunded")
    events = [valid(e) for e in published.drain()]
    assert sorted(of_order(events, order["orderId"])) == ["OrderPartiallyRefunded", "RefundSucceeded"]
    refunded = next(e["detail"] for e in events if e["detail-type"] == "RefundSucceeded")
    assert refunded["refund"]["refundId"] == answer.body["refundId"] and refunded["userId"] == ALICE
    assert refunded["causedBy"]["stripeEventId"].startswith("evt_")
    partially = next(e["detail"] for e in events if e["detail-type"] == "OrderPartiallyRefunded")
    assert partially["previousStatus"] == "paid" and partially["order"]["refunds"][0]["amount"] == 500


def subscribe_and_pay(live, stripe_env, catalog, orders_handler, subscribe_handler):
    price = catalog.price(999, name="Pro", interval="month")
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id}]}).body
    started = call(subscribe_handler, "POST", "/subscriptions",
                   body={"orderId": order["orderId"], "priceId": price.id}).body
    pay_with_card(stripe_env, started["clientSecret"])
    until(live, lambda: (get_order(orders_handler, order["orderId"]).body.get("subscription") or {}).get("status")
          == "active" and get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never active")
    return order, started


def test_a_renewal_publishes_created_and_paid_of_a_renewal_order(published, live, stripe_env, catalog,
                                                                   orders_handler, subscribe_handler):
    order, started = subscribe_and_pay(live, stripe_env, catalog, orders_handler, subscribe_handler)
    first = published.drain()
    assert "SubscriptionStarted" in of_order(first, order["orderId"])
    advance_subscription(stripe_env, started["stripeSubscriptionId"])
    until(live, lambda: any(o["kind"] == "renewal" and o["status"] == "paid"
                            for o in call(orders_handler, "GET", "/orders").body["orders"]), "no renewal")
    renewal = next(o for o in call(orders_handler, "GET", "/orders").body["orders"] if o["kind"] == "renewal")
    events = [valid(e) for e in published.drain()]
    assert of_order(events, renewal["orderId"])[:2] == ["OrderCreated", "OrderPaid"]
    paid = next(e["detail"] for e in events if e["detail-type"] == "OrderPaid")
    assert paid["order"]["kind"] == "renewal" and paid["order"]["parentOrderId"] == order["orderId"]
    assert paid["causedBy"]["stripeEventId"].startswith("evt_")


def test_cancel_at_period_end_then_the_end_publishes_updated_then_canceled(published, live, stripe_env, catalog,
                                                                              orders_handler, subscribe_handler,
                                                                              cancel_subscription_handler):
    order, started = subscribe_and_pay(live, stripe_env, catalog, orders_handler, subscribe_handler)
    published.drain()
    rid = started["recurringPaymentId"]
    answer = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
                  path={"recurringPaymentId": rid}, body={"atPeriodEnd": True})
    assert answer.status == 200
    updated = [valid(e) for e in published.drain()]
    assert of_order(updated, order["orderId"]) == ["SubscriptionUpdated"]
    # The record was last written by a webhook; this change is the API's: no Stripe event is named as its cause.
    assert updated[0]["detail"]["causedBy"] is None and updated[0]["detail"]["subscription"]["cancelAtPeriodEnd"]
    stripe_env.client().v1.subscriptions.cancel(started["stripeSubscriptionId"])  # the period ends
    until(live, lambda: (get_order(orders_handler, order["orderId"]).body["subscription"] or {}).get("status")
          == "canceled", "never canceled")
    canceled = [valid(e) for e in published.drain()]
    assert of_order(canceled, order["orderId"]) == ["SubscriptionCanceled"]
    assert canceled[0]["detail"]["previousStatus"] == "active"
    assert canceled[0]["detail"]["causedBy"]["stripeEventId"].startswith("evt_")


def test_the_same_batch_delivered_again_publishes_the_same_event_ids(published, paid_order):
    published.drain()
    batches = list(published.batches)
    first = [e["detail"]["eventId"] for e in published.events]
    for batch in batches:  # Lambda delivers a batch again (a timeout, a retry)
        published.publisher.lambda_handler(batch, LambdaContext(function_name="EventPublisherFunction"))
    again = published.drain()
    assert sorted(e["detail"]["eventId"] for e in again) == sorted(first)


def test_a_rolled_back_transaction_publishes_nothing(published, aws, orders_handler):
    order = call(orders_handler, "POST", "/orders", user=ADMIN, admin=True,
                 body={"userId": ALICE, "amount": 1999, "currency": "usd"}).body
    published.drain()
    stale = store.get(OrderRecord, order["orderId"])
    store.update(OrderRecord(order["orderId"]), [OrderRecord.description.set("changed meanwhile")])
    stale.status = "paid"
    payment = PaymentRecord("pay_rolled_back", order_id=order["orderId"], user_id=ALICE, amount=1999, currency="usd",
                            mode="payment_intent", status="succeeded", created_at=order["createdAt"],
                            updated_at=order["createdAt"])
    with pytest.raises(WriteConflict):
        store.Transaction().save(payment).save(stale).commit()  # the order changed since it was read
    assert published.drain() == []


def test_no_event_carries_a_key_a_signing_secret_or_a_client_secret(published, paid_order, refund_handler, live,
                                                                    orders_handler):
    order, checkout, _ = paid_order
    call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True, body={"paymentId": checkout["paymentId"]})
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "refunded", "never refunded")
    published.drain()
    assert len(published.events) >= 5
    text = json.dumps(published.events)
    assert checkout["clientSecret"] not in text
    assert not [marker for marker in SECRET_MARKERS if marker in text]

"""Privacy requests against the emulator: the export holds the caller's data and nothing of anyone else's; erasure
deletes the Stripe customer (ending its subscriptions), keeps the accounting under a pseudonym and removes what is
personal, is idempotent, and waits (409) while money may still move."""

from __future__ import annotations

import json

import pytest

from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import (
    CustomerRecord,
    Entitlement,
    EntitlementsRecord,
    OrderRecord,
    PaymentRecord,
    RecurringPaymentRecord,
    SellerRecord,
    UsageRecord,
)
from tests.support.api import ADMIN, ALICE, BOB, admin_order, call, get_order
from tests.support.records import given_order_with_payment

pytestmark = pytest.mark.emulator


def until(live, check, what):
    assert live.wait_for(lambda _: check()), what


def export(privacy_handler, user=ALICE):
    return call(privacy_handler, "GET", "/me/export", user=user)


def erase_me(privacy_handler, user=ALICE):
    return call(privacy_handler, "DELETE", "/me", user=user)


def pay(emulator, client_secret):
    client = emulator.client()
    intent_id = client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": "pm_card_visa"})
    return client.v1.payment_intents.confirm(intent_id)


@pytest.fixture
def alice(live, stripe_env, catalog, orders_handler, checkout_handler, subscribe_handler, sellers_handler,
          usage_handler):
    """Alice as a customer of everything: a paid order, an active subscription (her card saved on her Stripe
    customer), a seller, a usage report."""
    order = admin_order(orders_handler, description="Invoice 42 for Alice's flat")
    pay(stripe_env, call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body[
        "clientSecret"])
    pro = catalog.price(999, name="Pro", interval="month")
    sub_order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": pro.id}],
                                                              "description": "my plan"}).body
    started = call(subscribe_handler, "POST", "/subscriptions", body={"orderId": sub_order["orderId"],
                                                                      "priceId": pro.id}).body
    pay(stripe_env, started["clientSecret"])
    until(live, lambda: store.get(RecurringPaymentRecord, started["recurringPaymentId"]).status == "active",
          "the subscription never became active")
    until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")
    customer = store.get(CustomerRecord, ALICE).stripe_customer_id
    stripe_env.client().v1.customers.update(customer, {"email": "alice@example.com", "name": "Alice Example"})
    store.put(EntitlementsRecord(ALICE, stripe_customer_id=customer, updated_at=now_iso(), entitlements=[
        Entitlement(lookup_key="pro-reports", feature_id="feat_test_1")]))  # what her plan grants
    assert call(sellers_handler, "POST", "/sellers", body={"returnUrl": "http://127.0.0.1/x"}).status == 201
    stripe_env.client().v1.billing.meters.create({"display_name": "API", "event_name": "api_calls",
                                                  "default_aggregation": {"formula": "sum"}})
    assert call(usage_handler, "POST", "/usage", user=ADMIN, admin=True, body={
        "userId": ALICE, "meter": "api_calls", "value": 3, "idempotencyKey": "u-1"}).status == 202
    return {"order": order, "subscription_order": sub_order, "subscription": started, "customer": customer}


def test_the_export_holds_the_callers_data_and_nothing_of_anyone_elses(alice, stripe_env, orders_handler,
                                                                       privacy_handler):
    bobs = admin_order(orders_handler, user=BOB, description="Bob's secret order")
    answer = export(privacy_handler)
    assert answer.status == 200
    data = answer.body
    assert set(data) == {"userId", "orders", "subscriptions", "paymentMethods", "seller", "usage", "entitlements"}
    assert data["userId"] == ALICE
    assert {o["orderId"] for o in data["orders"]} == {alice["order"]["orderId"], alice["subscription_order"]["orderId"]}
    assert [s["recurringPaymentId"] for s in data["subscriptions"]] == [alice["subscription"]["recurringPaymentId"]]
    assert [(m["brand"], m["last4"]) for m in data["paymentMethods"]] == [("visa", "4242")]
    assert data["seller"]["sellerId"].startswith("sel_") and [u["value"] for u in data["usage"]] == [3]
    assert data["entitlements"] == [{"lookupKey": "pro-reports", "featureId": "feat_test_1"}]
    text = json.dumps(data)
    assert BOB not in text and bobs["orderId"] not in text and "Bob's secret" not in text

    nothing = export(privacy_handler, user="user-carol").body
    assert nothing == {"userId": "user-carol", "orders": [], "subscriptions": [], "paymentMethods": [],
                       "seller": None, "usage": [], "entitlements": []}


@pytest.fixture
def info_logs():
    """The product's logger at INFO (the tests run it at WARNING), as the template deploys it."""
    from payments.core.observability import logger

    level = logger.log_level
    logger.setLevel("INFO")
    yield
    logger.setLevel(level)


def test_erasure_deletes_the_customer_keeps_the_accounts_under_a_pseudonym_and_is_idempotent(
        alice, live, stripe_env, orders_handler, privacy_handler, caplog, info_logs):
    client = stripe_env.client()
    paid = store.get(OrderRecord, alice["order"]["orderId"])
    payment = store.get(PaymentRecord, paid.paid_by_payment_id)

    answer = erase_me(privacy_handler)
    assert (answer.status, answer.body) == (204, None)

    # The Stripe customer is gone, and with it her subscription (Stripe ends it; the callback follows)
    with pytest.raises(Exception, match=r"No such customer|Not Found"):
        client.v1.customers.retrieve(alice["customer"])
    stripe_subscription = client.v1.subscriptions.retrieve(alice["subscription"]["stripeSubscriptionId"])
    assert stripe_subscription.status == "canceled"
    rid = alice["subscription"]["recurringPaymentId"]
    until(live, lambda: store.get(RecurringPaymentRecord, rid).status == "canceled", "the record never followed")

    # Her records keep the accounts under a pseudonym, without what was personal
    order = store.get(OrderRecord, paid.order_id)
    pseudonym = order.user_id
    assert pseudonym.startswith("erased_") and ALICE not in pseudonym
    assert (order.amount, order.currency, order.status, order.created_at) == (paid.amount, paid.currency, "paid",
                                                                            paid.created_at)
    assert order.description == ""
    kept = store.get(PaymentRecord, payment.payment_id)
    assert (kept.user_id, kept.amount_received, kept.stripe_payment_intent_id) == (
        pseudonym, payment.amount_received, payment.stripe_payment_intent_id)
    assert store.get(RecurringPaymentRecord, rid).user_id == pseudonym
    assert store.get(SellerRecord, ALICE) is None and store.get(SellerRecord, pseudonym) is not None
    assert store.get(CustomerRecord, ALICE) is None
    assert store.get(CustomerRecord, pseudonym).stripe_customer_id == alice["customer"]
    assert store.get(EntitlementsRecord, ALICE) is None  # what the deleted customer could use: gone
    assert all(store.get(UsageRecord, u).user_id == pseudonym for u in _usage_ids())
    assert call(orders_handler, "GET", "/orders").body == {"orders": [], "nextCursor": None}
    assert export(privacy_handler).body["orders"] == []

    # One log line says so, without the user id or anything erased
    erased = [r for r in caplog.records if r.getMessage() == "UserErased"]
    assert len(erased) == 1 and erased[0].pseudonym == pseudonym
    assert ALICE not in json.dumps(erased[0].__dict__, default=str) and "Invoice 42" not in json.dumps(
        erased[0].__dict__, default=str)

    # Again: 204, and nothing moves
    assert erase_me(privacy_handler).status == 204
    assert store.get(OrderRecord, paid.order_id).user_id == pseudonym
    assert len([r for r in caplog.records if r.getMessage() == "UserErased"]) == 1


def _usage_ids() -> list[str]:
    store.bind()
    return [u.usage_id for u in UsageRecord.scan()]  # test-only inspection of the whole table


def test_erasure_waits_while_a_payment_is_pending_and_changes_nothing(aws, stripe_env, privacy_handler):
    customer = stripe_env.client().v1.customers.create({"email": "alice@example.com"})
    store.put(CustomerRecord(ALICE, stripe_customer_id=customer.id, created_at=now_iso()))
    order, _ = given_order_with_payment(payment_status="pending")
    answer = erase_me(privacy_handler)
    assert (answer.status, answer.error_code) == (409, "erasure_pending")
    assert store.get(OrderRecord, order.order_id).user_id == ALICE
    assert store.get(OrderRecord, order.order_id).description == order.description
    assert store.get(CustomerRecord, ALICE).stripe_customer_id == customer.id
    assert stripe_env.client().v1.customers.retrieve(customer.id).email == "alice@example.com"


def test_an_admin_erases_a_user_and_a_user_may_not_erase_another(aws, stripe_env, orders_handler, privacy_handler):
    order = admin_order(orders_handler, user=BOB)
    refused = call(privacy_handler, "DELETE", "/users/{userId}", user=ALICE, path={"userId": BOB})
    assert (refused.status, refused.error_code) == (403, "admin_only")
    assert store.get(OrderRecord, order["orderId"]).user_id == BOB
    done = call(privacy_handler, "DELETE", "/users/{userId}", user=ADMIN, admin=True, path={"userId": BOB})
    assert done.status == 204
    assert store.get(OrderRecord, order["orderId"]).user_id.startswith("erased_")
    assert call(privacy_handler, "DELETE", "/users/{userId}", user=ADMIN, admin=True,
                path={"userId": "nobody-at-all"}).status == 204

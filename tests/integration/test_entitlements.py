"""Entitlements: Stripe's summary events give the user's lookup keys, forward only by Stripe's stamps, found through
our own customer link; ``GET /entitlements`` answers them in one DynamoDB read, without Stripe."""

from __future__ import annotations

import time

import pytest

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from devstack.stripe_events import stripe_event
from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import CustomerRecord
from tests.support.api import ALICE, BOB, call
from tests.support.billing import active_subscription, plan, record
from tests.support.invoke import invoke
from tests.support.openapi import assert_documented

T0 = int(time.time()) - 3600
CUSTOMER = "cus_1QEXAMPLEALICE0001"


def summary(customer: str, *features: tuple[str, str], created: int, has_more: bool = False) -> dict:
    entitlements = [{"id": f"ent_test_{i}", "object": "entitlements.active_entitlement", "feature": feature,
                     "livemode": False, "lookup_key": key} for i, (key, feature) in enumerate(features)]
    obj = {"object": "entitlements.active_entitlement_summary", "customer": customer, "livemode": False,
           "entitlements": {"object": "list", "data": entitlements, "has_more": has_more,
                            "url": "/v1/entitlements/active_entitlements"}}
    return stripe_event("entitlements.active_entitlement_summary.updated", obj, created=created)


@pytest.fixture
def deliver(subscription_callback_handler):
    def send(event):
        return invoke(subscription_callback_handler, signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["subscription"]))
    return send


@pytest.fixture
def alice_customer(aws):
    store.put(CustomerRecord(ALICE, stripe_customer_id=CUSTOMER, created_at=now_iso()))
    return CUSTOMER


def entitlements(billing_handler, user=ALICE):
    answer = call(billing_handler, "GET", "/entitlements", user=user)
    assert_documented(answer, "GET", "/entitlements")
    assert answer.status == 200, answer.body
    return answer.body["entitlements"]


def test_a_summary_gives_the_callers_lookup_keys_in_one_read(alice_customer, deliver, billing_handler, ddb_calls):
    assert entitlements(billing_handler) == []
    answer = deliver(summary(alice_customer, ("reports", "feat_test_reports"), ("api", "feat_test_api"), created=T0))
    assert answer.body["result"] == "processed"
    ddb_calls.reset()
    assert entitlements(billing_handler) == [{"lookupKey": "reports", "featureId": "feat_test_reports"},
                                             {"lookupKey": "api", "featureId": "feat_test_api"}]
    assert ddb_calls.operations == ["GetItem"]
    assert entitlements(billing_handler, user=BOB) == []


def test_an_older_summary_arriving_later_changes_nothing(alice_customer, deliver, billing_handler):
    newer = summary(alice_customer, ("reports", "feat_test_reports"), created=T0 + 10)
    older = summary(alice_customer, ("reports", "feat_test_reports"), ("api", "feat_test_api"), created=T0)
    assert deliver(newer).body["result"] == "processed"
    assert deliver(older).body["result"] == "ignored"
    assert [e["lookupKey"] for e in entitlements(billing_handler)] == ["reports"]
    # An empty summary, newer, takes them all away
    assert deliver(summary(alice_customer, created=T0 + 20)).body["result"] == "processed"
    assert entitlements(billing_handler) == []
    assert deliver(newer).body["result"] == "duplicate"


@pytest.fixture
def stripe_customers(monkeypatch):
    """What Stripe says of a customer the index does not know (the rule reads it then)."""
    from payments.billing import entitlements as rules
    from payments.stripe.objects import StripeCustomer

    known: dict[str, dict[str, str]] = {}
    monkeypatch.setattr(rules.ENTITLEMENT_RULES[rules.SUMMARY_EVENT], "customer",
                        lambda customer_id: StripeCustomer(customer_id, known.get(customer_id, {})))
    return known


@pytest.mark.parametrize("metadata", [{}, {"userId": ALICE}, {"userId": BOB}])
def test_a_summary_of_a_customer_no_user_of_ours_holds_is_ignored(alice_customer, deliver, billing_handler,
                                                                  stripe_customers, metadata):
    # Given a customer whose metadata names nobody, or one of our users who does not hold it
    stripe_customers["cus_someoneelse0001"] = metadata
    answer = deliver(summary("cus_someoneelse0001", ("reports", "feat_test_reports"), created=T0))
    # Then it is ignored (metadata finds, our row decides)
    assert (answer.status, answer.body["result"]) == (200, "ignored")
    assert entitlements(billing_handler) == [] and entitlements(billing_handler, user=BOB) == []


def test_a_customer_the_index_does_not_know_yet_is_found_by_its_metadata_and_checked(
        alice_customer, deliver, billing_handler, stripe_customers, monkeypatch):
    from payments.data import customers

    monkeypatch.setattr(customers, "find_user", lambda customer_id: None)  # the index lags its table
    stripe_customers[alice_customer] = {"userId": ALICE}
    assert deliver(summary(alice_customer, ("reports", "feat_test_reports"), created=T0)).body["result"] == "processed"
    assert [e["lookupKey"] for e in entitlements(billing_handler)] == ["reports"]


@pytest.mark.parametrize("case", ["same_second_disagreeing", "not_all_listed"])
def test_when_the_payload_cannot_say_stripe_is_read(alice_customer, deliver, billing_handler, monkeypatch, case):
    from payments.billing import entitlements as rules
    from payments.stripe.objects import StripeEntitlement

    reads = []

    def from_stripe(customer):
        reads.append(customer)
        return (StripeEntitlement("from_stripe", "feat_test_stripe"),)

    monkeypatch.setattr(rules.ENTITLEMENT_RULES[rules.SUMMARY_EVENT], "fetch", from_stripe)
    deliver(summary(alice_customer, ("reports", "feat_test_reports"), created=T0))
    if case == "same_second_disagreeing":
        event = summary(alice_customer, ("api", "feat_test_api"), created=T0)
    else:
        event = summary(alice_customer, ("api", "feat_test_api"), created=T0 + 5, has_more=True)
    assert deliver(event).body["result"] == "processed"
    assert reads == [alice_customer]
    assert entitlements(billing_handler) == [{"lookupKey": "from_stripe", "featureId": "feat_test_stripe"}]


def test_a_malformed_summary_is_ignored_never_a_500(alice_customer, deliver):
    event = summary(alice_customer, created=T0)
    event["data"]["object"]["entitlements"]["data"] = [{"object": "entitlements.active_entitlement"}]
    assert (deliver(event).status, deliver(event).body["result"]) == (200, "ignored")


@pytest.mark.emulator
def test_subscribing_to_a_product_with_a_feature_grants_it_and_canceling_takes_it_away(
        live, stripe_env, catalog, orders_handler, subscribe_handler, cancel_subscription_handler, billing_handler):
    # Given a plan whose product grants a feature
    price = plan(catalog, 900, "Pro")
    client = stripe_env.client()
    feature = client.v1.entitlements.features.create({"name": "Reports", "lookup_key": "pro-reports"})
    client.raw_request("post", f"/v1/products/{price.product}/features", entitlement_feature=feature.id)
    # When the user subscribes and pays, Stripe's summary event grants it
    _, started = active_subscription(live, stripe_env, catalog, orders_handler, subscribe_handler, price)
    assert live.wait_for(lambda _: entitlements(billing_handler) != []), "no entitlement appeared"
    assert entitlements(billing_handler) == [{"lookupKey": "pro-reports", "featureId": feature.id}]
    # When the subscription is canceled now, the next summary takes it away
    canceled = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
                    path={"recurringPaymentId": started["recurringPaymentId"]}, body={"atPeriodEnd": False})
    assert canceled.status == 200
    assert live.wait_for(lambda _: entitlements(billing_handler) == []), "the entitlement stayed"
    assert record(started["recurringPaymentId"]).status == "canceled"

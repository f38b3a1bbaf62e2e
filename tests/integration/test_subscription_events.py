"""Subscription and renewal callbacks: whatever order Stripe's events arrive in, our records end where Stripe is."""

from __future__ import annotations

import itertools
import time

import pytest

from devstack.lambda_events import signed_webhook_event
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeSubscription
from tests.support.api import call
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.races import race
from tests.support.records import ledger_entries, reload
from tests.support.subscriptions import given_started_subscription, invoice_event, subscription_event

SUBSCRIPTION_SECRET, RENEWAL_SECRET = "whsec_local_subscription", "whsec_local_renewal"
T0 = int(time.time()) - 3600


@pytest.fixture
def callbacks(subscription_callback_handler, renewal_callback_handler):
    def deliver(event):
        if event["type"].startswith("invoice."):
            return invoke(renewal_callback_handler, signed_webhook_event(event, RENEWAL_SECRET))
        return invoke(subscription_callback_handler, signed_webhook_event(event, SUBSCRIPTION_SECRET))
    return deliver


def first_payment_events(order, record):
    return [
        subscription_event("customer.subscription.created", order, record, status="incomplete", created=T0),
        invoice_event("invoice.paid", order, record, reason="subscription_create", created=T0 + 5),
        subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 5),
    ]


@pytest.mark.parametrize("order_of_delivery", list(itertools.permutations(range(3))))
def test_first_payment_in_any_order_ends_paid_and_active(aws, callbacks, order_of_delivery):
    # Given a started subscription, and the events Stripe sends when its first invoice is paid
    order, record = given_started_subscription()
    events = first_payment_events(order, record)
    # When they arrive in this order
    answers = [callbacks(events[i]) for i in order_of_delivery]
    # Then every delivery is accepted and the end state is Stripe's
    assert all(a.status == 200 for a in answers)
    assert reload(order).status == "paid"
    after = reload(record)
    assert after.status == "active" and after.current_period_end is not None
    payments = [store.get(PaymentRecord, p) for p in reload(order).payment_ids]
    assert [(p.status, p.amount_received, p.mode) for p in payments] == [("succeeded", 999, "invoice")]


def test_a_renewal_delivered_twice_and_by_eight_threads_makes_one_renewal_order(aws, callbacks, orders_handler):
    order, record = given_started_subscription(status="active")
    renewal = invoice_event("invoice.paid", order, record, reason="subscription_cycle", invoice_id="in_renew_1")
    with SerializedRequests():
        answers = race(8, lambda _: callbacks(renewal))
    assert sorted(a.body["result"] for a in answers) == ["duplicate"] * 7 + ["processed"]
    assert callbacks(renewal).body["result"] == "duplicate"
    renewal_order = store.get(OrderRecord, "ord_in_renew_1")
    assert (renewal_order.kind, renewal_order.status, renewal_order.parent_order_id) == (
        "renewal", "paid", order.order_id)
    listed = call(orders_handler, "GET", "/orders", user=order.user_id).body["orders"]
    assert [(o["orderId"], o["kind"], o["parentOrderId"]) for o in listed] == [
        ("ord_in_renew_1", "renewal", order.order_id), (order.order_id, "subscription", None)]
    assert len(ledger_entries()) == 1


def test_a_renewal_costs_two_dynamodb_calls_and_a_duplicate_one(aws, callbacks, ddb_calls):
    order, record = given_started_subscription(status="active")
    renewal = invoice_event("invoice.paid", order, record, reason="subscription_cycle")
    ddb_calls.reset()
    callbacks(renewal)
    first = list(ddb_calls.operations)
    ddb_calls.reset()
    callbacks(renewal)
    assert first == ["TransactGetItems", "TransactWriteItems"] and ddb_calls.operations == ["TransactGetItems"]


def test_a_failed_renewal_then_a_successful_retry_is_one_order_ending_paid(aws, callbacks):
    order, record = given_started_subscription(status="active")
    failed = invoice_event("invoice.payment_failed", order, record, reason="subscription_cycle",
                           invoice_id="in_retry", created=T0 + 10)
    past_due = subscription_event("customer.subscription.updated", order, record, status="past_due", created=T0 + 10)
    paid = invoice_event("invoice.paid", order, record, reason="subscription_cycle", invoice_id="in_retry",
                         created=T0 + 100)
    active = subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 100)
    callbacks(failed)
    callbacks(past_due)
    renewal = store.get(OrderRecord, "ord_in_retry")
    assert renewal.status == "pending" and store.get(PaymentRecord, "pay_in_retry").status == "failed"
    assert reload(record).status == "past_due"
    callbacks(paid)
    callbacks(active)
    assert store.get(OrderRecord, "ord_in_retry").status == "paid"
    assert store.get(PaymentRecord, "pay_in_retry").status == "succeeded"
    assert store.get(OrderRecord, "ord_in_retry").payment_ids == ["pay_in_retry"]
    assert reload(record).status == "active"
    # And the failure reported late, after the success, moves nothing back
    assert callbacks(failed).body["result"] == "duplicate"
    late = invoice_event("invoice.payment_failed", order, record, reason="subscription_cycle", invoice_id="in_retry",
                         created=T0 + 50)
    assert callbacks(late).body["result"] == "ignored"
    assert store.get(OrderRecord, "ord_in_retry").status == "paid"


def test_cancel_at_period_end_then_deleted_and_an_older_update_after_it(aws, callbacks):
    order, record = given_started_subscription(status="active")
    callbacks(subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 10,
                                 cancel_at_period_end=True))
    assert reload(record).cancel_at_period_end is True
    callbacks(subscription_event("customer.subscription.deleted", order, record, status="canceled", created=T0 + 50,
                                 cancel_at_period_end=True))
    assert reload(record).status == "canceled"
    older = subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 20)
    assert callbacks(older).body["result"] == "ignored"
    newer_but_after_deleted = subscription_event("customer.subscription.updated", order, record, status="active",
                                                 created=T0 + 60)
    assert callbacks(newer_but_after_deleted).body["result"] == "ignored"  # deleted is final
    assert reload(record).status == "canceled"


def test_two_events_in_one_second_are_settled_by_reading_stripe(aws, callbacks, monkeypatch):
    order, record = given_started_subscription(status="active")
    reads = []

    def stripe_says(subscription_id, **_):
        reads.append(subscription_id)
        return StripeSubscription(subscription_id, "past_due", False, T0 + 86400, "cus_test", {})

    monkeypatch.setattr(stripe_api, "retrieve_subscription", stripe_says)
    callbacks(subscription_event("customer.subscription.updated", order, record, status="past_due", created=T0 + 30))
    assert reads == []  # a newer event needs no reading
    # When another event of the same second says something else
    same_second = subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 30)
    assert callbacks(same_second).status == 200
    # Then Stripe was asked, and its answer stands, not the payload's guess
    assert reads == [record.stripe_subscription_id]
    assert reload(record).status == "past_due"


def test_events_without_our_metadata_are_found_by_the_subscription_id(aws, callbacks, ddb_calls):
    order, record = given_started_subscription(status="incomplete")
    callbacks(subscription_event("customer.subscription.updated", order, record, status="active", created=T0 + 5,
                                 with_metadata=False))
    assert reload(record).status == "active"
    callbacks(invoice_event("invoice.paid", order, record, reason="subscription_create", with_metadata=False))
    assert reload(order).status == "paid"


def test_a_subscription_we_never_created_is_ignored(aws, callbacks):
    order, record = given_started_subscription()
    record.stripe_subscription_id = "sub_someone_else"
    event = subscription_event("customer.subscription.updated", order, record, status="active", created=T0,
                               with_metadata=False)
    assert callbacks(event).body["result"] == "ignored"


def test_a_first_invoice_for_the_wrong_amount_is_flagged(aws, callbacks):
    order, record = given_started_subscription()
    callbacks(invoice_event("invoice.paid", order, record, reason="subscription_create", amount=1))
    assert reload(order).status == "amount_mismatch"


def test_each_callback_accepts_only_its_own_secret(aws, subscription_callback_handler, renewal_callback_handler):
    order, record = given_started_subscription()
    sub_event = subscription_event("customer.subscription.updated", order, record, status="active", created=T0)
    inv_event = invoice_event("invoice.paid", order, record, reason="subscription_create")
    assert invoke(subscription_callback_handler, signed_webhook_event(sub_event, RENEWAL_SECRET)).status == 400
    assert invoke(renewal_callback_handler, signed_webhook_event(inv_event, SUBSCRIPTION_SECRET)).status == 400
    assert reload(record).status == "incomplete" and reload(order).status == "pending"

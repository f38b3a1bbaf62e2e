"""Which committed change makes which domain event (pure: synthetic old and new records), and the parts of an
event that must never vary between deliveries (eventId) or lie about their cause (causedBy)."""

from __future__ import annotations

import pytest

from payments.data.models import (
    Entitlement,
    EntitlementsRecord,
    OrderRecord,
    PaymentRecord,
    RecurringPaymentRecord,
    RefundRecord,
    SellerRecord,
)
from payments.events.mapping import (
    SOURCES,
    Happened,
    entitlements_changes,
    order_changes,
    payment_changes,
    refund_changes,
    seller_changes,
    subscription_changes,
)
from payments.events.publisher import Change, event_id

NOW = "2026-12-01T10:00:00.000Z"


def order(status="pending", kind="one_time", **fields):
    return OrderRecord("ord_1", user_id="alice", kind=kind, amount=1999, currency="usd", status=status,
                       created_at=NOW, updated_at=NOW, created_sort=NOW, **fields)


def payment(status="pending", **fields):
    return PaymentRecord("pay_1", order_id="ord_1", user_id="alice", amount=1999, currency="usd",
                         mode="payment_intent", status=status, created_at=NOW, updated_at=NOW, **fields)


def refund(status="pending"):
    return RefundRecord("ref_1", payment_id="pay_1", order_id="ord_1", amount=500, currency="usd", status=status,
                        created_at=NOW, updated_at=NOW)


def subscription(status="incomplete", stripe_id="sub_1", **fields):
    return RecurringPaymentRecord("sub_rec_1", order_id="ord_1", user_id="alice", price_id="price_1", status=status,
                                  stripe_subscription_id=stripe_id, created_at=NOW, updated_at=NOW, **fields)


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, order(), [Happened("OrderCreated", None)]),
    (None, order("paid", kind="renewal"), [Happened("OrderCreated", None), Happened("OrderPaid", None)]),
    (order(), order("paid"), [Happened("OrderPaid", "pending")]),
    (order(), order("amount_mismatch"), [Happened("OrderAmountMismatch", "pending")]),
    (order("paid"), order("partially_refunded"), [Happened("OrderPartiallyRefunded", "paid")]),
    (order("partially_refunded"), order("refunded"), [Happened("OrderRefunded", "partially_refunded")]),
    (order("partially_refunded"), order("partially_refunded"), []),  # a second partial refund: RefundSucceeded says it
    (order(), order(open_payment_id="pay_1"), []),  # checkout pointed it at a payment
    (order(), None, []),
])
def test_order_changes(old, new, expected):
    assert order_changes(old, new) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, payment(), []),  # a pending payment created at checkout publishes nothing
    (payment(), payment(stripe_payment_intent_id="pi_1"), []),
    (payment(), payment("succeeded"), [Happened("PaymentSucceeded", "pending")]),
    (payment(), payment("failed"), [Happened("PaymentFailed", "pending")]),
    (payment("failed"), payment("succeeded"), [Happened("PaymentSucceeded", "failed")]),
    (payment("failed"), payment("failed", failure_code="card_declined"), []),
    (payment(), payment("canceled"), [Happened("PaymentCanceled", "pending")]),
    (None, payment("succeeded"), [Happened("PaymentSucceeded", None)]),  # a renewal invoice's payment
    (payment("succeeded"), payment("succeeded", amount_refunded=500), []),
])
def test_payment_changes(old, new, expected):
    assert payment_changes(old, new) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, refund(), []),
    (refund(), refund("succeeded"), [Happened("RefundSucceeded", "pending")]),
    (None, refund("succeeded"), [Happened("RefundSucceeded", None)]),  # made in the Dashboard
    (refund(), refund("failed"), [Happened("RefundFailed", "pending")]),
    (refund("succeeded"), refund("failed"), [Happened("RefundFailed", "succeeded")]),
    (refund(), refund("canceled"), []),
])
def test_refund_changes(old, new, expected):
    assert refund_changes(old, new) == expected


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, subscription(stripe_id=None), []),
    (subscription(stripe_id=None), subscription(), []),  # linked to its Stripe subscription, still incomplete
    (subscription(stripe_id=None), subscription("failed", stripe_id=None), []),  # Stripe never made it
    (subscription(), subscription("active"), [Happened("SubscriptionStarted", "incomplete")]),
    (subscription(), subscription("trialing"), [Happened("SubscriptionStarted", "incomplete")]),
    (subscription(), subscription("incomplete_expired"), []),
    (subscription("active"), subscription("active", cancel_at_period_end=True),
     [Happened("SubscriptionUpdated", "active")]),
    (subscription("active"), subscription("past_due"), [Happened("SubscriptionUpdated", "active")]),
    (subscription("past_due"), subscription("active"), [Happened("SubscriptionUpdated", "past_due")]),
    (subscription("active"), subscription("active", current_period_end="2027-01-01T00:00:00.000Z"),
     [Happened("SubscriptionUpdated", "active")]),
    (subscription("active"), subscription("active", last_event_created=5), []),  # only a newer stamp
    (subscription("active"), subscription("canceled"), [Happened("SubscriptionCanceled", "active")]),
    (subscription(), subscription("canceled"), [Happened("SubscriptionCanceled", "incomplete")]),
    (subscription("canceled"), subscription("canceled"), []),
])
def test_subscription_changes(old, new, expected):
    assert subscription_changes(old, new) == expected


def entitlements(*keys, **fields):
    return EntitlementsRecord("alice", stripe_customer_id="cus_1", updated_at=NOW,
                              entitlements=[Entitlement(lookup_key=k, feature_id=f"feat_{k}") for k in keys], **fields)


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, entitlements("reports"), [Happened("EntitlementsChanged", None)]),
    (None, entitlements(), []),  # a first summary with nothing in it: nothing changed for the user
    (entitlements("reports"), entitlements("reports", "exports"), [Happened("EntitlementsChanged", None)]),
    (entitlements("reports", "exports"), entitlements("exports", "reports"), []),  # the same set, reordered
    (entitlements("reports"), entitlements("reports", last_event_created=7), []),  # only a newer stamp
    (entitlements("reports"), entitlements(), [Happened("EntitlementsChanged", None)]),  # all gone
    (entitlements("reports"), None, []),  # deleted (an erasure)
])
def test_entitlements_changes(old, new, expected):
    assert entitlements_changes(old, new) == expected


def seller(status="onboarding", user="bob", **fields):
    return SellerRecord(user, seller_id="sel_1", status=status, stripe_account_id="acct_1", created_at=NOW,
                        updated_at=NOW, **fields)


@pytest.mark.parametrize(("old", "new", "expected"), [
    (None, seller(), [Happened("SellerUpdated", None)]),
    (seller(), seller("active", charges_enabled=True, payouts_enabled=True),
     [Happened("SellerUpdated", "onboarding")]),
    (seller("active"), seller("restricted"), [Happened("SellerUpdated", "active")]),
    (seller(), seller(requirements_due=["external_account"]), [Happened("SellerUpdated", "onboarding")]),
    (seller(), seller(links_issued=3), []),  # an onboarding link asked for
    (seller(), seller(last_event_created=9), []),  # only a newer stamp
    (None, seller("active", user="erased_0123abcd"), []),  # moved to an erased user's pseudonym
    (seller(), None, []),
])
def test_seller_changes(old, new, expected):
    assert seller_changes(old, new) == expected


def test_every_table_of_a_published_model_has_one_source():
    assert [source.model for source in SOURCES] == [OrderRecord, PaymentRecord, RefundRecord, RecurringPaymentRecord,
                                                   EntitlementsRecord, SellerRecord]
    # the entities without an order name their user, and no order
    for source in SOURCES[4:]:
        assert source.order_id(source.model("u1")) is None


def test_an_event_id_is_the_same_for_the_same_change_and_differs_for_any_other():
    same = event_id("payment", "pay_1", 3, "PaymentSucceeded")
    assert same == event_id("payment", "pay_1", 3, "PaymentSucceeded")
    others = {event_id("payment", "pay_1", 4, "PaymentSucceeded"), event_id("payment", "pay_2", 3, "PaymentSucceeded"),
              event_id("order", "pay_1", 3, "PaymentSucceeded"), event_id("payment", "pay_1", 3, "PaymentFailed")}
    assert same not in others and len(others) == 4


def _change(old, new):
    source = next(s for s in SOURCES if s.model is type(new))
    return Change("1", source, old, new, None)


def test_caused_by_names_the_stripe_event_only_when_this_write_stamped_it():
    stamped = payment("succeeded", last_stripe_event_id="evt_1")
    assert _change(payment(), stamped).caused_by == "evt_1"  # the webhook's write
    assert _change(None, stamped).caused_by == "evt_1"  # a record a webhook created
    carried = payment("canceled", last_stripe_event_id="evt_1")
    assert _change(stamped, carried).caused_by is None  # an API write carrying the old stamp forward
    assert _change(payment(), payment("canceled")).caused_by is None
    assert _change(stamped, payment("succeeded", last_stripe_event_id="evt_2")).caused_by == "evt_2"

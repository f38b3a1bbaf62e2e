"""The operations the benchmark runs: every sample event under ``events/<function>/``, on the state it needs.

Each sample event (written by ``devstack.make_sample_events``, with pinned ids) is one operation. Before
it runs, ``given`` writes the records that sample is about, with the same pinned ids, the way the
product itself would have left them: a pending order for a checkout, an open payment for a payment
callback, a succeeded payment for a refund, and so on. A function folder with samples but no entry in
``GIVEN`` still runs, on empty tables (it shows up as "no bench state" when it does not succeed).

``REPRESENTATIVE`` names the sample each function's cold start is measured with; the first sample is
used for a function not listed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The function folders the product plans to have; one that does not exist yet prints "not built yet".
PLANNED = ("orders", "checkout", "payment_callback", "refund", "refund_callback", "subscribe",
           "cancel_subscription", "subscription_callback", "renewal_callback", "billing",
           "sellers", "connect_callback", "usage", "usage_callback", "privacy")

REPRESENTATIVE = {
    "orders": "get_order",
    "checkout": "payment_intent",
    "payment_callback": "payment_intent_succeeded",
    "refund": "partial_refund",
    "refund_callback": "refund_updated",
    "subscribe": "start_subscription",
    "cancel_subscription": "cancel_at_period_end",
    "subscription_callback": "subscription_updated_active",
    "renewal_callback": "renewal_invoice_paid",
    "billing": "list_payment_methods",
    "reconcile": "reconcile_now",  # the probe reads an HTTP answer; the schedule runs the same code
    "sellers": "become_seller",
    "connect_callback": "account_updated",
    "usage": "report_usage",
    "usage_callback": "meter_error_report",
    "privacy": "erase_me",
}

# Samples the bench does not run: the registration custom resource runs at deploy time only, and answers
# CloudFormation's S3 response URL (crhelper retries that until the function times out); an EventBridge
# delivery to a callback is not a Function URL request, which is what a callback sample is re-signed as.
# ReconcileFunction's calls per 100 events are measured by bench/reconcile_calls.py.
UNBENCHED = {"webhook_registration": "deploy time only",
             "payment_callback/eventbridge_payment_intent_succeeded": "not a Function URL request"}

# Callback folders: their sample is delivered twice (first delivery, then the duplicate).
CALLBACK_ENDPOINTS = {"payment_callback": "payment", "refund_callback": "refund",
                      "subscription_callback": "subscription", "renewal_callback": "renewal",
                      "connect_callback": "connect", "usage_callback": "usage"}

# Call-count targets (issue 6): (DynamoDB, Stripe) at most, first delivery; a duplicate costs 1 DynamoDB call.
# A checkout also counts the payment attempt (issue 13: one UpdateItem).
TARGETS: dict[str, tuple[int, int]] = {
    "payment_callback": (2, 0), "refund_callback": (2, 0), "renewal_callback": (2, 0),
    "checkout/payment_intent": (4, 1), "checkout/checkout_session": (4, 1),
}
# Samples that are not a callback's usual path (the target does not apply to them).
OFF_THE_USUAL_PATH = {
    "refund_callback/charge_refunded": "a Dashboard refund: no metadata of ours, so the payment is found by "
                                       "its PaymentIntent (one Query)",
}


@dataclass(frozen=True)
class Sample:
    folder: str  # functions/<folder>, events/<folder>
    name: str  # the sample file's stem

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.name}"


def _ids() -> Any:
    """The pinned ids the samples use (imported late: the module is being extended by others)."""
    from devstack import make_sample_events

    return make_sample_events


def _now() -> str:
    from payments.core.clock import now_iso

    return now_iso()


def _order(order_id: str, *, status: str = "pending", kind: str = "one_time", amount: int | None = None,
           **fields: Any) -> Any:
    from payments.data.models import OrderRecord

    s, now = _ids(), _now()
    return OrderRecord(order_id, user_id=s.USER_ID, kind=kind, amount=s.AMOUNT if amount is None else amount,
                       currency=s.CURRENCY, description="Bench order", status=status, created_at=now,
                       updated_at=now, created_sort=f"{now}#{order_id}", **fields)


def _payment(*, status: str, mode: str = "payment_intent", **fields: Any) -> Any:
    from payments.data.models import PaymentRecord

    s, now = _ids(), _now()
    return PaymentRecord(s.PAYMENT_ID, order_id=s.ORDER_ID, user_id=s.USER_ID, amount=s.AMOUNT, currency=s.CURRENCY,
                         mode=mode, status=status, created_at=now, updated_at=now, **fields)


def _save(*records: Any) -> None:
    from payments.data import store

    transaction = store.Transaction()
    for record in records:
        transaction.save(record)
    transaction.commit()


def given_orders(sample: Sample) -> None:
    """An order of the caller's, paid by one payment (what GET /orders/{id} and GET /orders read)."""
    s = _ids()
    if sample.name.startswith("create"):
        return
    payment = _payment(status="succeeded", stripe_payment_intent_id=s.PAYMENT_INTENT_ID, amount_received=s.AMOUNT,
                       currency_received=s.CURRENCY)
    _save(payment, _order(s.ORDER_ID, status="paid", paid_by_payment_id=s.PAYMENT_ID, payment_ids=[s.PAYMENT_ID]))


def given_checkout(sample: Sample) -> None:
    """A pending one-time order with no payment yet: the first checkout."""
    _save(_order(_ids().ORDER_ID))


def given_payment_callback(sample: Sample) -> None:
    """A pending order whose open payment (PaymentIntent or Checkout Session, as the sample) is pending."""
    s = _ids()
    if sample.name.startswith("checkout_session"):
        payment = _payment(status="pending", mode="checkout_session", stripe_checkout_session_id=s.CHECKOUT_SESSION_ID)
    else:
        payment = _payment(status="pending", stripe_payment_intent_id=s.PAYMENT_INTENT_ID)
    _save(payment, _order(s.ORDER_ID, open_payment_id=s.PAYMENT_ID, payment_ids=[s.PAYMENT_ID]))


def _paid(**payment_fields: Any) -> tuple[Any, Any]:
    s = _ids()
    payment = _payment(status="succeeded", stripe_payment_intent_id=s.PAYMENT_INTENT_ID, amount_received=s.AMOUNT,
                       currency_received=s.CURRENCY, **payment_fields)
    order = _order(s.ORDER_ID, status="paid", paid_by_payment_id=s.PAYMENT_ID, payment_ids=[s.PAYMENT_ID])
    return payment, order


def given_refund(sample: Sample) -> None:
    """A succeeded payment with nothing refunded yet."""
    _save(*_paid())


def given_refund_callback(sample: Sample) -> None:
    """A succeeded payment with one refund of ours pending (the one the refund.* samples report), linked to its
    Stripe refund as POST /refunds leaves it (so ``refund.created``, which reports nothing new, is ignored)."""
    from payments.data.models import RefundRecord

    s = _ids()
    if sample.name == "charge_refunded":  # a Dashboard refund: nothing of ours pending
        _save(*_paid())
        return
    payment, order = _paid(amount_reserved=500)
    order.refund_ids = [s.REFUND_ID]
    refund = RefundRecord(s.REFUND_ID, payment_id=s.PAYMENT_ID, order_id=s.ORDER_ID, amount=500, currency=s.CURRENCY,
                          status="pending", origin="api", stripe_refund_id=s.STRIPE_REFUND_ID, created_at=_now(),
                          updated_at=_now())
    _save(payment, order, refund)


def _recurring(*, status: str, **fields: Any) -> Any:
    from payments.data.models import RecurringPaymentRecord

    s = _ids()
    return RecurringPaymentRecord(s.RECURRING_PAYMENT_ID, order_id=s.SUBSCRIPTION_ORDER_ID, user_id=s.USER_ID,
                                  price_id=s.MONTHLY_PRICE_ID, status=status, created_at=_now(), updated_at=_now(),
                                  **fields)


def _subscription_order(*, status: str = "pending", with_record: bool = True) -> Any:
    s = _ids()
    fields = {"recurring_payment_id": s.RECURRING_PAYMENT_ID} if with_record else {}
    return _order(s.SUBSCRIPTION_ORDER_ID, status=status, kind="subscription", amount=999,
                  price_id=s.MONTHLY_PRICE_ID, **fields)


def given_subscribe(sample: Sample) -> None:
    """A pending subscription order of a user who has no Stripe customer yet (the first subscription)."""
    _save(_subscription_order(with_record=False))


def given_cancel_subscription(sample: Sample) -> None:
    """An active subscription (set to cancel at period end, for the resume sample)."""
    s = _ids()
    record = _recurring(status="active", stripe_subscription_id=s.STRIPE_SUBSCRIPTION_ID,
                        stripe_customer_id="cus_1QEXAMPLE00000000001", cancel_at_period_end=sample.name == "resume")
    _save(record, _subscription_order(status="paid"))


def given_subscription_callback(sample: Sample) -> None:
    """A subscription just started (incomplete), as POST /subscriptions leaves it."""
    s = _ids()
    record = _recurring(status="incomplete", stripe_subscription_id=s.STRIPE_SUBSCRIPTION_ID,
                        stripe_customer_id="cus_1QEXAMPLE00000000001")
    _save(record, _subscription_order())


def given_renewal_callback(sample: Sample) -> None:
    """A subscription: incomplete with its order pending for the first invoice, else active and paid."""
    s = _ids()
    first = sample.name.startswith("first")
    record = _recurring(status="incomplete" if first else "active", stripe_subscription_id=s.STRIPE_SUBSCRIPTION_ID,
                        stripe_customer_id="cus_1QEXAMPLE00000000001")
    _save(record, _subscription_order(status="pending" if first else "paid"))


# --- marketplace, usage billing, privacy (issue 13) ----------------------------------------------------------


def _seller(**fields: Any) -> Any:
    from payments.data.models import SellerRecord

    s = _ids()
    return SellerRecord(s.USER_ID, seller_id=s.SELLER_ID, stripe_account_id=s.ACCOUNT_ID, created_at=_now(),
                        updated_at=_now(), **fields)


def _customer() -> Any:
    from payments.data.models import CustomerRecord

    return CustomerRecord(_ids().USER_ID, stripe_customer_id="cus_1QEXAMPLE00000000001", created_at=_now())


def given_sellers(sample: Sample) -> None:
    """Becoming a seller: nothing yet (the first call). Reading it: a seller still onboarding."""
    if sample.name != "become_seller":
        _save(_seller(status="onboarding"))


def given_connect_callback(sample: Sample) -> None:
    """A seller onboarding, whose account the sample's account.updated reports complete."""
    _save(_seller(status="onboarding"))


def given_usage(sample: Sample) -> None:
    """A user with a Stripe customer (a subscription made it), and no report under the sample's key yet."""
    _save(_customer())


def given_privacy(sample: Sample) -> None:
    """A user with a paid order and a Stripe customer: nothing pending, so erasure goes through."""
    _save(*_paid(), _customer())


GIVEN: dict[str, Callable[[Sample], None]] = {
    "orders": given_orders,
    "checkout": given_checkout,
    "payment_callback": given_payment_callback,
    "refund": given_refund,
    "refund_callback": given_refund_callback,
    "subscribe": given_subscribe,
    "cancel_subscription": given_cancel_subscription,
    "subscription_callback": given_subscription_callback,
    "renewal_callback": given_renewal_callback,
    "sellers": given_sellers,
    "connect_callback": given_connect_callback,
    "usage": given_usage,
    "usage_callback": lambda sample: None,  # nothing: the report is counted once through the ledger
    "privacy": given_privacy,
}


# --- events out and live status (issue 10) ------------------------------------------------------------------


def given_event_publisher(sample: Sample) -> None:
    """The order and its payment the stream record is about (the publisher reads the order as the API shows it)."""
    import os

    import boto3

    s = _ids()
    order = _order(s.ORDER_ID, status="paid", payment_ids=[s.PAYMENT_ID], paid_by_payment_id=s.PAYMENT_ID)
    _save(order, _payment(status="succeeded", stripe_payment_intent_id=s.PAYMENT_INTENT_ID))
    # the bus it publishes to (PaymentsEventBus, as the deployment names it)
    boto3.client("events", region_name="us-east-1").create_event_bus(Name=os.environ["EVENT_BUS_NAME"])


def given_live_notify(sample: Sample) -> None:
    """The order's owner has one connection open."""
    from payments.data import connections

    connections.add(_ids().USER_ID, "L0SM9cOFvHcCIhw=")


GIVEN.update({"event_publisher": given_event_publisher, "live_notify": given_live_notify})
REPRESENTATIVE.update({"event_publisher": "payment_succeeded", "on_order_paid": "order_paid",
                       "live_authorizer": "connect", "live_connect": "connect", "live_notify": "order_paid"})
PLANNED += ("event_publisher", "on_order_paid", "live_authorizer", "live_connect", "live_notify")


# --- billing (issue 12): the state the billing samples need ---------------------------------------------------


def _billing_env() -> None:
    """What the deployment configures for these samples: the plans sold, the app's origin (for redirects)."""
    import os

    s = _ids()
    os.environ["SELLABLE_PRICES"] = f"{s.MONTHLY_PRICE_ID},{s.PLUS_PRICE_ID}"
    os.environ["ALLOWED_REDIRECT_ORIGINS"] = "https://example.com"


def _customer_row() -> Any:
    from payments.data.models import CustomerRecord

    return CustomerRecord(_ids().USER_ID, stripe_customer_id=_ids().STRIPE_CUSTOMER_ID, created_at=_now())


def given_billing(sample: Sample) -> None:
    """The user's Stripe customer (and, for entitlements, what the newest summary granted)."""
    from payments.data.models import Entitlement, EntitlementsRecord

    s = _ids()
    _billing_env()
    records = [_customer_row()]
    if sample.name == "get_entitlements":
        records.append(EntitlementsRecord(s.USER_ID, stripe_customer_id=s.STRIPE_CUSTOMER_ID, last_event_created=1,
                                          updated_at=_now(), entitlements=[Entitlement(lookup_key="pro-reports",
                                                                                       feature_id=s.FEATURE_ID)]))
    _save(*records)


def given_subscription_change(sample: Sample) -> None:
    """An active subscription, linked to its item (for a plan change), as the callbacks leave it."""
    if "plan" not in sample.name:
        given_cancel_subscription(sample)
        return
    s = _ids()
    _billing_env()
    record = _recurring(status="active", stripe_subscription_id=s.STRIPE_SUBSCRIPTION_ID,
                        stripe_customer_id=s.STRIPE_CUSTOMER_ID, stripe_item_id="si_1QEXAMPLE000000000000001",
                        currency=s.CURRENCY)
    _save(record, _subscription_order(status="paid"))


def given_billing_subscribe(sample: Sample) -> None:
    """As ``given_subscribe``; a hosted Checkout's redirects on the app's origin."""
    _billing_env()
    given_subscribe(sample)


def given_billing_checkout(sample: Sample) -> None:
    """As ``given_checkout``; a saved card's checkout also needs the user's customer."""
    given_checkout(sample)
    if sample.name == "saved_card":
        _save(_customer_row())


def given_billing_subscription_callback(sample: Sample) -> None:
    """As ``given_subscription_callback``; an entitlement summary's customer is the user's."""
    if sample.name.startswith("entitlements"):
        _save(_customer_row())
    else:
        given_subscription_callback(sample)


def given_billing_payment_callback(sample: Sample) -> None:
    """As ``given_payment_callback``; a subscription-mode Session is held by a subscription started on the web."""
    if not sample.name.endswith("_subscription"):
        given_payment_callback(sample)
        return
    s = _ids()
    record = _recurring(status="incomplete", mode="checkout_session", stripe_customer_id=s.STRIPE_CUSTOMER_ID,
                        stripe_checkout_session_id=s.SUBSCRIPTION_SESSION_ID)
    _save(record, _subscription_order())


GIVEN.update({
    "billing": given_billing,
    "cancel_subscription": given_subscription_change,
    "subscribe": given_billing_subscribe,
    "checkout": given_billing_checkout,
    "subscription_callback": given_billing_subscription_callback,
    "payment_callback": given_billing_payment_callback,
})

# --- the numbers (issue 13) ---------------------------------------------------------------------------------------


def given_admin(sample: Sample) -> None:
    """A day of numbers to read: the sample payment counted (the aggregator's own flow)."""
    from devstack.lambda_events import load_event
    from payments.metrics.aggregate import aggregate

    delivery = load_event("events/metrics_aggregator/payment_succeeded.json")
    delivery["detail"]["occurredAt"] = _now()  # within the last 30 days GET /admin/metrics reads by default
    aggregate(delivery)


GIVEN.update({"admin": given_admin})
REPRESENTATIVE.update({"metrics_aggregator": "payment_succeeded", "admin": "metrics"})
PLANNED += ("metrics_aggregator", "admin")

"""pynamodb models: one per table, attribute names as stored (camelCase, as the API speaks).

Keys and indexes are designed for the queries the product makes; nothing here is ever scanned:

- ``OrdersTable``: ``orderId``; index ``byUser`` (``userId``, ``createdSort`` = createdAt#orderId) for
  "my orders, newest first". An order lists its payments' and refunds' ids, so reading an order and
  everything under it is one GetItem and one BatchGetItem.
- ``PaymentsTable``: ``paymentId``; index ``byPaymentIntent`` finds our payment from a Stripe
  PaymentIntent we did not label (a refund made in the Dashboard reports only its PaymentIntent).
- ``RefundsTable``: ``refundId``. A refund we start has our id in its Stripe metadata; one made elsewhere
  gets the id ``ref_<Stripe refund id>``, so however often Stripe reports it, it is one record.
- ``RecurringPaymentsTable``: ``recurringPaymentId``; index ``byStripeSubscription``.
- ``CustomersTable``: ``userId`` -> the user's one Stripe customer; index ``byStripeCustomer`` finds the user of a
  Stripe customer (an entitlement summary names only the customer).
- ``EntitlementsTable``: ``userId`` -> the features the user's subscriptions grant now (read in one GetItem).
- ``ProcessedEventsTable``: ``eventId``, the ledger of applied Stripe events, expiring by TTL.
- ``LiveConnectionsTable``: ``userId`` + ``connectionId``, the open WebSocket connections, expiring by TTL.
- ``ReconcileTable``: the reconciler's checkpoint in Stripe's event list.
- Payments and refunds also carry a sparse index, ``byPendingSince``, of those still ``pending``
  (``WatchedWhilePending``): the reconciler finds what is stuck without scanning a table.
- ``SellersTable``: ``userId`` (one seller per user); ``bySellerId`` finds the seller an order names,
  ``byStripeAccount`` the seller a Connect event is about.
- ``UsageTable``: ``usageId`` (a hash of the caller's ``idempotencyKey``): what was sent to a Billing Meter;
  ``byUser`` finds a user's reports (for privacy requests).
- ``PaymentAttemptsTable``: ``counterId`` (``<userId>#<window start>``): payment attempts per user and window,
  expiring by TTL.
- ``RecurringPaymentsTable`` and ``UsageTable`` also have a ``byUser`` index (keys only): with ``OrdersTable``'s,
  they find everything stored about a user without reading a whole table.

Every mutable record carries a ``version``: pynamodb adds ``version = <read value>`` to each write,
which is what makes read-decide-write safe under concurrent requests and webhook deliveries.

Stripe's stamps and ours are kept apart: ``lastEventCreated`` is always a Stripe ``created`` (of the newest event
applied), never our clock, so an event is only ever compared with Stripe's own stamps. ``createdAt`` /
``updatedAt`` are ours, for people and sorting.

``TABLES`` names the setting that holds each model's table; ``payments.data.store.bind`` applies it once.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model


class _Meta:
    region: str | None = None
    table_name: str


class OrderItem(MapAttribute[str, Any]):
    price_id = UnicodeAttribute(attr_name="priceId")
    quantity = NumberAttribute()
    unit_amount = NumberAttribute(attr_name="unitAmount")
    recurring = BooleanAttribute(default=False)
    # A recurring price's billing period (day, week, month, year) and how many of them: what the order's amount buys
    interval = UnicodeAttribute(null=True)
    interval_count = NumberAttribute(null=True, attr_name="intervalCount")


class InvoiceLine(MapAttribute[str, Any]):
    """One line of the Stripe invoice an order was made from (renewal, adjustment, a subscription's first)."""

    description = UnicodeAttribute(default="")
    amount = NumberAttribute()  # negative for a proration's credit
    proration = BooleanAttribute(default=False)
    price_id = UnicodeAttribute(null=True, attr_name="priceId")


class Discount(MapAttribute[str, Any]):
    """A promotion code applied to a payment: the code the customer typed, Stripe's id, and what it took off."""

    promotion_code = UnicodeAttribute(attr_name="promotionCode")
    promotion_code_id = UnicodeAttribute(attr_name="promotionCodeId")
    amount = NumberAttribute(default=0)


class OrdersByUser(GlobalSecondaryIndex["OrderRecord"]):
    class Meta:
        index_name = "byUser"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    created_sort = UnicodeAttribute(range_key=True, attr_name="createdSort")


class OrderRecord(Model):
    class Meta(_Meta):
        table_name = "OrdersTable"

    order_id = UnicodeAttribute(hash_key=True, attr_name="orderId")
    user_id = UnicodeAttribute(attr_name="userId")
    kind = UnicodeAttribute()  # one_time | subscription | renewal | adjustment
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    status = UnicodeAttribute()  # pending | paid | partially_refunded | refunded | amount_mismatch
    parent_order_id = UnicodeAttribute(null=True, attr_name="parentOrderId")
    items = ListAttribute(of=OrderItem, null=True)
    price_id = UnicodeAttribute(null=True, attr_name="priceId")
    open_payment_id = UnicodeAttribute(null=True, attr_name="openPaymentId")
    paid_by_payment_id = UnicodeAttribute(null=True, attr_name="paidByPaymentId")
    # pynamodb types a ListAttribute(of=UnicodeAttribute) as a list of attributes, not of str (pynamodb#1246)
    payment_ids: ListAttribute[str] = ListAttribute(
        of=UnicodeAttribute, default=list, attr_name="paymentIds")  # type: ignore[arg-type]
    refund_ids: ListAttribute[str] = ListAttribute(
        of=UnicodeAttribute, default=list, attr_name="refundIds")  # type: ignore[arg-type]
    recurring_payment_id = UnicodeAttribute(null=True, attr_name="recurringPaymentId")
    stripe_invoice_id = UnicodeAttribute(null=True, attr_name="stripeInvoiceId")
    # The lines of the invoice the order was paid by (None when Stripe's payload did not list them all)
    lines = ListAttribute(of=InvoiceLine, null=True)
    # A marketplace order: the seller it pays (by a destination charge) and the platform's fee
    seller_id = UnicodeAttribute(null=True, attr_name="sellerId")
    application_fee_amount = NumberAttribute(null=True, attr_name="applicationFeeAmount")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    created_sort = UnicodeAttribute(attr_name="createdSort")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()

    by_user = OrdersByUser()


# --- what the reconciler watches while it is pending (a sparse index, never a table scan) ---------------------------

MAX_PENDING_CHECKS = 5  # how often the reconciler asks Stripe about one record that stays pending, then stops


class PendingSince(GlobalSecondaryIndex[Any]):
    """``byPendingSince``: the records that are ``pending`` (only they carry ``pendingMark``), oldest first."""

    class Meta:
        index_name = "byPendingSince"
        projection = IncludeProjection(["orderId", "paymentId"])

    pending_mark = UnicodeAttribute(hash_key=True, attr_name="pendingMark")
    pending_since = UnicodeAttribute(range_key=True, attr_name="pendingSince")


class WatchedWhilePending:
    """A record the reconciler watches while its ``status`` is ``pending`` (payments, refunds).

    ``pendingMark`` (always ``"pending"``) and ``pendingSince`` (our clock: its ``createdAt``, moved on each time
    the reconciler found it legitimately still pending at Stripe) exist only while the record is pending, so the
    ``byPendingSince`` index holds exactly those: the reconciler queries "pending since before now minus
    StuckAfterMinutes" (our clock against our own stamps). Every write of the whole record keeps them right
    (``serialize``); the repositories' single-attribute updates that end a pending state remove them. After
    ``MAX_PENDING_CHECKS`` looks the record leaves the index (its Stripe events still reach it)."""

    pending_mark = UnicodeAttribute(null=True, attr_name="pendingMark")
    pending_since = UnicodeAttribute(null=True, attr_name="pendingSince")
    pending_checks = NumberAttribute(null=True, attr_name="pendingChecks")
    by_pending_since = PendingSince()

    def serialize(self, null_check: bool = True) -> dict[str, dict[str, Any]]:
        record: Any = self
        watched = record.status == "pending" and int(record.pending_checks or 0) < MAX_PENDING_CHECKS
        record.pending_mark = "pending" if watched else None
        record.pending_since = (record.pending_since or record.created_at) if watched else None
        return super().serialize(null_check)  # type: ignore[misc]


class PaymentsByPaymentIntent(GlobalSecondaryIndex["PaymentRecord"]):
    class Meta:
        index_name = "byPaymentIntent"
        projection = IncludeProjection(["orderId"])

    order_id = UnicodeAttribute(attr_name="orderId")
    stripe_payment_intent_id = UnicodeAttribute(hash_key=True, attr_name="stripePaymentIntentId")


class PaymentRecord(WatchedWhilePending, Model):
    class Meta(_Meta):
        table_name = "PaymentsTable"

    payment_id = UnicodeAttribute(hash_key=True, attr_name="paymentId")
    order_id = UnicodeAttribute(attr_name="orderId")
    user_id = UnicodeAttribute(attr_name="userId")
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    mode = UnicodeAttribute()  # payment_intent | checkout_session | invoice
    status = UnicodeAttribute()  # pending | succeeded | failed | canceled
    stripe_payment_intent_id = UnicodeAttribute(null=True, attr_name="stripePaymentIntentId")
    stripe_checkout_session_id = UnicodeAttribute(null=True, attr_name="stripeCheckoutSessionId")
    stripe_charge_id = UnicodeAttribute(null=True, attr_name="stripeChargeId")
    amount_received = NumberAttribute(null=True, attr_name="amountReceived")
    currency_received = UnicodeAttribute(null=True, attr_name="currencyReceived")
    amount_refunded = NumberAttribute(default=0, attr_name="amountRefunded")
    amount_reserved = NumberAttribute(default=0, attr_name="amountReserved")
    success_url = UnicodeAttribute(null=True, attr_name="successUrl")
    cancel_url = UnicodeAttribute(null=True, attr_name="cancelUrl")
    failure_code = UnicodeAttribute(null=True, attr_name="failureCode")
    failure_message = UnicodeAttribute(null=True, attr_name="failureMessage")
    last_event_created = NumberAttribute(default=0, attr_name="lastEventCreated")
    payment_method_id = UnicodeAttribute(null=True, attr_name="paymentMethodId")  # a saved card it was paid with
    discount = Discount(null=True)  # a promotion code: the amount is the order's less the discount
    # A destination charge: the seller's connected account, the platform's fee, the seller's share (the transfer)
    destination_account_id = UnicodeAttribute(null=True, attr_name="destinationAccountId")
    application_fee_amount = NumberAttribute(null=True, attr_name="applicationFeeAmount")
    transfer_amount = NumberAttribute(null=True, attr_name="transferAmount")
    stripe_transfer_id = UnicodeAttribute(null=True, attr_name="stripeTransferId")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()

    by_payment_intent = PaymentsByPaymentIntent()


class RefundRecord(WatchedWhilePending, Model):
    class Meta(_Meta):
        table_name = "RefundsTable"

    refund_id = UnicodeAttribute(hash_key=True, attr_name="refundId")
    payment_id = UnicodeAttribute(attr_name="paymentId")
    order_id = UnicodeAttribute(attr_name="orderId")
    amount = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | succeeded | failed | canceled
    origin = UnicodeAttribute(default="api")  # api | stripe (made outside our API)
    reason = UnicodeAttribute(null=True)
    requested_by = UnicodeAttribute(null=True, attr_name="requestedBy")
    stripe_refund_id = UnicodeAttribute(null=True, attr_name="stripeRefundId")
    failure_reason = UnicodeAttribute(null=True, attr_name="failureReason")
    last_event_created = NumberAttribute(default=0, attr_name="lastEventCreated")
    # A refund of a destination charge reverses the seller's transfer and refunds the fee, in proportion
    reverse_transfer = BooleanAttribute(default=False, attr_name="reverseTransfer")
    stripe_transfer_reversal_id = UnicodeAttribute(null=True, attr_name="stripeTransferReversalId")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()


class RecurringPaymentsByStripeSubscription(GlobalSecondaryIndex["RecurringPaymentRecord"]):
    class Meta:
        index_name = "byStripeSubscription"
        projection = IncludeProjection(["orderId"])

    order_id = UnicodeAttribute(attr_name="orderId")
    stripe_subscription_id = UnicodeAttribute(hash_key=True, attr_name="stripeSubscriptionId")


class PlanChange(MapAttribute[str, Any]):
    """A plan change being made at Stripe (record first): its id keys the Stripe call."""

    change_id = UnicodeAttribute(attr_name="changeId")
    price_id = UnicodeAttribute(attr_name="priceId")
    proration = UnicodeAttribute()
    proration_date = NumberAttribute(null=True, attr_name="prorationDate")
    requested_at = UnicodeAttribute(attr_name="requestedAt")

class RecurringPaymentsByUser(GlobalSecondaryIndex["RecurringPaymentRecord"]):
    class Meta:
        index_name = "byUser"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")


class RecurringPaymentRecord(Model):
    class Meta(_Meta):
        table_name = "RecurringPaymentsTable"

    recurring_payment_id = UnicodeAttribute(hash_key=True, attr_name="recurringPaymentId")
    order_id = UnicodeAttribute(attr_name="orderId")
    user_id = UnicodeAttribute(attr_name="userId")
    price_id = UnicodeAttribute(attr_name="priceId")
    currency = UnicodeAttribute(null=True)  # the order's: a plan change stays in it
    status = UnicodeAttribute()  # incomplete | active | past_due | canceled | ... (Stripe's)
    stripe_subscription_id = UnicodeAttribute(null=True, attr_name="stripeSubscriptionId")
    stripe_customer_id = UnicodeAttribute(null=True, attr_name="stripeCustomerId")
    cancel_at_period_end = BooleanAttribute(default=False, attr_name="cancelAtPeriodEnd")
    current_period_end = UnicodeAttribute(null=True, attr_name="currentPeriodEnd")
    last_event_created = NumberAttribute(default=0, attr_name="lastEventCreated")
    # Set when our API applied Stripe's answer to a change (cancel, resume): that answer carries no Stripe stamp,
    # so the next event that disagrees with the record is settled by reading the subscription from Stripe.
    changed_by_api = BooleanAttribute(default=False, attr_name="changedByApi")
    # How it was started: payment_intent (the first invoice's client secret is the answer) or checkout_session
    # (a hosted Checkout in subscription mode, which creates the subscription when the customer pays).
    mode = UnicodeAttribute(default="payment_intent")
    stripe_checkout_session_id = UnicodeAttribute(null=True, attr_name="stripeCheckoutSessionId")
    success_url = UnicodeAttribute(null=True, attr_name="successUrl")
    cancel_url = UnicodeAttribute(null=True, attr_name="cancelUrl")
    stripe_item_id = UnicodeAttribute(null=True, attr_name="stripeItemId")  # the item a plan change re-prices
    trial_days = NumberAttribute(default=0, attr_name="trialDays")
    trial_end = UnicodeAttribute(null=True, attr_name="trialEnd")
    # What the first invoice should bill: the price, less the promotion code's discount; 0 with a trial.
    first_invoice_amount = NumberAttribute(null=True, attr_name="firstInvoiceAmount")
    discount = Discount(null=True)
    pending_change = PlanChange(null=True, attr_name="pendingChange")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()

    by_stripe_subscription = RecurringPaymentsByStripeSubscription()
    by_user = RecurringPaymentsByUser()


class CustomersByStripeCustomer(GlobalSecondaryIndex["CustomerRecord"]):
    class Meta:
        index_name = "byStripeCustomer"
        projection = KeysOnlyProjection()

    stripe_customer_id = UnicodeAttribute(hash_key=True, attr_name="stripeCustomerId")


class CustomerRecord(Model):
    class Meta(_Meta):
        table_name = "CustomersTable"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    stripe_customer_id = UnicodeAttribute(null=True, attr_name="stripeCustomerId")
    created_at = UnicodeAttribute(attr_name="createdAt")
    # The SetupIntent being made for the user (record first: our id keys the Stripe call), then Stripe's id.
    setup_request_id = UnicodeAttribute(null=True, attr_name="setupRequestId")
    stripe_setup_intent_id = UnicodeAttribute(null=True, attr_name="stripeSetupIntentId")

    by_stripe_customer = CustomersByStripeCustomer()


class Entitlement(MapAttribute[str, Any]):
    lookup_key = UnicodeAttribute(attr_name="lookupKey")
    feature_id = UnicodeAttribute(attr_name="featureId")


class EntitlementsRecord(Model):
    """What a user may use now: the active entitlements of their Stripe customer, as the newest summary event (by
    Stripe's ``created``) said. Attributes: userId, stripeCustomerId, entitlements [{lookupKey, featureId}],
    lastEventCreated (Stripe's stamp), version, updatedAt."""

    class Meta(_Meta):
        table_name = "EntitlementsTable"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    stripe_customer_id = UnicodeAttribute(attr_name="stripeCustomerId")
    entitlements = ListAttribute(of=Entitlement, default=list)
    last_event_created = NumberAttribute(default=0, attr_name="lastEventCreated")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()


class ReconcileCheckpointRecord(Model):
    """``ReconcileTable``: how far the reconciler got in Stripe's event list (one item, ``name`` = ``events``)."""

    class Meta(_Meta):
        table_name = "ReconcileTable"

    name = UnicodeAttribute(hash_key=True)
    created = NumberAttribute()  # Stripe's ``created`` of the newest event gone through (Stripe's clock)
    updated_at = UnicodeAttribute(attr_name="updatedAt")


class ProcessedEventRecord(Model):
    class Meta(_Meta):
        table_name = "ProcessedEventsTable"

    event_id = UnicodeAttribute(hash_key=True, attr_name="eventId")
    event_type = UnicodeAttribute(attr_name="eventType")
    endpoint = UnicodeAttribute()
    processed_at = UnicodeAttribute(attr_name="processedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")
    via = UnicodeAttribute(null=True)  # webhook | eventbridge | reconciler


# --- events out and live status ------------------------------------------------------------------------------

#: The attribute a webhook stamps on every record its change writes: the Stripe event id (in the same transaction,
#: ``payments.data.store.Transaction.stamp``). The event publisher names it as an event's cause only when the write
#: changed it (old image against new image), so a later API write that carries the same value forward is ``null``.
STRIPE_EVENT_STAMP = "last_stripe_event_id"


class LiveConnectionRecord(Model):
    """One open WebSocket connection of a user (``LiveConnectionsTable``): all of a user's are one Query."""

    class Meta(_Meta):
        table_name = "LiveConnectionsTable"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    connection_id = UnicodeAttribute(range_key=True, attr_name="connectionId")
    connected_at = UnicodeAttribute(attr_name="connectedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")


# --- marketplace, usage, attempt limits --------------------------------------------------------------------


class SellersBySellerId(GlobalSecondaryIndex["SellerRecord"]):
    class Meta:
        index_name = "bySellerId"
        projection = KeysOnlyProjection()

    seller_id = UnicodeAttribute(hash_key=True, attr_name="sellerId")


class SellersByStripeAccount(GlobalSecondaryIndex["SellerRecord"]):
    class Meta:
        index_name = "byStripeAccount"
        projection = KeysOnlyProjection()

    stripe_account_id = UnicodeAttribute(hash_key=True, attr_name="stripeAccountId")


class SellerRecord(Model):
    """A user who sells: their Express connected account at Stripe and its status (``onboarding``, ``active``,
    ``restricted``), as the newest ``account.updated`` (by Stripe's ``created``) left it."""

    class Meta(_Meta):
        table_name = "SellersTable"

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")
    seller_id = UnicodeAttribute(attr_name="sellerId")
    status = UnicodeAttribute()  # onboarding | active | restricted
    stripe_account_id = UnicodeAttribute(null=True, attr_name="stripeAccountId")
    charges_enabled = BooleanAttribute(default=False, attr_name="chargesEnabled")
    payouts_enabled = BooleanAttribute(default=False, attr_name="payoutsEnabled")
    details_submitted = BooleanAttribute(default=False, attr_name="detailsSubmitted")
    # pynamodb types a ListAttribute(of=UnicodeAttribute) as a list of attributes, not of str (pynamodb#1246)
    requirements_due: ListAttribute[str] = ListAttribute(
        of=UnicodeAttribute, default=list, attr_name="requirementsDue")  # type: ignore[arg-type]
    disabled_reason = UnicodeAttribute(null=True, attr_name="disabledReason")
    links_issued = NumberAttribute(default=0, attr_name="linksIssued")  # onboarding links asked for (their keys)
    last_event_created = NumberAttribute(default=0, attr_name="lastEventCreated")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    last_stripe_event_id = UnicodeAttribute(null=True, attr_name="lastStripeEventId")  # STRIPE_EVENT_STAMP
    version = VersionAttribute()

    by_seller_id = SellersBySellerId()
    by_stripe_account = SellersByStripeAccount()


class UsageByUser(GlobalSecondaryIndex["UsageRecord"]):
    class Meta:
        index_name = "byUser"
        projection = KeysOnlyProjection()

    user_id = UnicodeAttribute(hash_key=True, attr_name="userId")


class UsageRecord(Model):
    """One usage report, written before it is sent to Stripe as a Billing Meter event whose ``identifier`` is
    derived from the same key: a retried report finds this record and sends (at most) the same event again."""

    class Meta(_Meta):
        table_name = "UsageTable"

    usage_id = UnicodeAttribute(hash_key=True, attr_name="usageId")
    user_id = UnicodeAttribute(attr_name="userId")
    meter = UnicodeAttribute()
    value = NumberAttribute()
    identifier = UnicodeAttribute()  # the meter event's identifier at Stripe
    request_digest = UnicodeAttribute(attr_name="requestDigest")  # what the report said (a reused key must agree)
    status = UnicodeAttribute()  # pending | sent | failed
    stripe_customer_id = UnicodeAttribute(null=True, attr_name="stripeCustomerId")
    failure_code = UnicodeAttribute(null=True, attr_name="failureCode")
    sent_at = UnicodeAttribute(null=True, attr_name="sentAt")
    created_at = UnicodeAttribute(attr_name="createdAt")
    updated_at = UnicodeAttribute(attr_name="updatedAt")
    version = VersionAttribute()

    by_user = UsageByUser()


class PaymentAttemptRecord(Model):
    """Payment attempts of one user in one fixed window; removed by TTL after the window."""

    class Meta(_Meta):
        table_name = "PaymentAttemptsTable"

    counter_id = UnicodeAttribute(hash_key=True, attr_name="counterId")
    attempts = NumberAttribute(default=0)
    window_ends = NumberAttribute(attr_name="windowEnds")  # epoch seconds, our clock
    expires_at = TTLAttribute(attr_name="expiresAt")


TABLES: dict[type[Model], str] = {
    OrderRecord: "orders_table",
    PaymentRecord: "payments_table",
    RefundRecord: "refunds_table",
    RecurringPaymentRecord: "recurring_payments_table",
    CustomerRecord: "customers_table",
    ProcessedEventRecord: "processed_events_table",
    LiveConnectionRecord: "live_connections_table",
    EntitlementsRecord: "entitlements_table",
    ReconcileCheckpointRecord: "reconcile_table",
    SellerRecord: "sellers_table",
    UsageRecord: "usage_table",
    PaymentAttemptRecord: "payment_attempts_table",
}


# --- the numbers (daily aggregates) ----------------------------------------------------------------------------
# ``MetricsTable`` holds three kinds of item, each its own model (README "The numbers" has the key design):
#
# - ``MetricsCounterRecord``: ``scope`` = ``currency#<code>``, ``slot`` = ``<yyyy-mm-dd>#<shard>`` (one shard of one
#   UTC day's counters) or ``now#<shard>`` (one shard of the current levels). Letters sort after digits, so one Query
#   ``slot >= <from>`` reads the days from ``from`` on and the levels. Counters are only ever added to (``ADD``).
# - ``MetricsEventRecord``: ``scope`` = ``event#<eventId>``: the domain event was counted (written in the same
#   transaction as its increments), kept past the bus archive's 30 days of replay by TTL.
# - ``SubscriptionMetricsRecord``: ``scope`` = ``subscription#<recurringPaymentId>``: what one subscription adds to the
#   levels now (active or not, its monthly amount), and the version of the event that said so.

METRICS_SLOT = "-"  # the sort key of the items that are one per partition (events, subscriptions)


class MetricsCounterRecord(Model):
    class Meta(_Meta):
        table_name = "MetricsTable"

    scope = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)
    succeeded = NumberAttribute(null=True)  # PaymentSucceeded
    failed = NumberAttribute(null=True)  # PaymentFailed
    gross = NumberAttribute(null=True)  # the succeeded payments' amounts
    refunds = NumberAttribute(null=True)  # RefundSucceeded
    refunded = NumberAttribute(null=True)  # their amounts
    paid_orders = NumberAttribute(null=True, attr_name="paidOrders")  # OrderPaid
    paid_order_value = NumberAttribute(null=True, attr_name="paidOrderValue")  # their orders' amounts
    started = NumberAttribute(null=True)  # SubscriptionStarted
    canceled = NumberAttribute(null=True)  # SubscriptionCanceled
    active_change = NumberAttribute(null=True, attr_name="activeChange")  # active subscriptions, + or -
    mrr_change = NumberAttribute(null=True, attr_name="mrrChange")  # their monthly amount, + or -


class MetricsEventRecord(Model):
    class Meta(_Meta):
        table_name = "MetricsTable"

    scope = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True, default=METRICS_SLOT)
    detail_type = UnicodeAttribute(attr_name="detailType")
    counted_at = UnicodeAttribute(attr_name="countedAt")
    expires_at = TTLAttribute(attr_name="expiresAt")


class SubscriptionMetricsRecord(Model):
    class Meta(_Meta):
        table_name = "MetricsTable"

    scope = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True, default=METRICS_SLOT)
    currency = UnicodeAttribute()
    price_id = UnicodeAttribute(null=True, attr_name="priceId")
    active = NumberAttribute(default=0)  # 1 while it counts as active
    mrr = NumberAttribute(default=0)  # its monthly amount in the levels
    applied_version = NumberAttribute(attr_name="appliedVersion")  # the subscription's version it reflects


TABLES.update({MetricsCounterRecord: "metrics_table", MetricsEventRecord: "metrics_table",
               SubscriptionMetricsRecord: "metrics_table"})

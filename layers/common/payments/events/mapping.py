"""Which committed change makes which domain event: pure functions of (old image, new image), one per table.

A change is what one DynamoDB Stream record holds: the record before (``None`` for an insert) and after (``None``
for a removal), as models. Each function answers the ``DetailType``s the change makes, in order, with the status
the named entity had before it (``previousStatus``). Events follow statuses: a change that moves nothing a
consumer subscribes to (a Stripe id recorded, a refund reserved, a pending payment created at checkout) makes none.

- orders: inserted -> ``OrderCreated`` (null), and its status event too when it is born past ``pending`` (a renewal
  order, paid); status to paid / amount_mismatch / partially_refunded / refunded -> ``OrderPaid`` /
  ``OrderAmountMismatch`` / ``OrderPartiallyRefunded`` / ``OrderRefunded``.
- payments: status to succeeded / failed / canceled (or inserted so) -> ``PaymentSucceeded`` / ``PaymentFailed`` /
  ``PaymentCanceled``.
- refunds: status to succeeded / failed (or inserted so) -> ``RefundSucceeded`` / ``RefundFailed``.
- recurring payments: first time active or trialing -> ``SubscriptionStarted``; once started, a change of status,
  cancel at period end, period end or price -> ``SubscriptionUpdated``; status to canceled ->
  ``SubscriptionCanceled``. A record Stripe holds no subscription for makes none.
- entitlements: the set of what the user may use changed (or first stored) -> ``EntitlementsChanged`` (no status:
  ``previousStatus`` null), carrying ``entitlements`` and no order.
- sellers: created, or its status, capabilities or requirements changed -> ``SellerUpdated``, carrying ``seller``
  and no order. A seller record moved to an erased user's pseudonym makes none.

``SOURCES`` lists the tables whose changes are published. A new table is one ``Source``: the setting naming its
table, its model, the key its JSON takes in the detail, its mapping function, and where its user and order are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pynamodb.models import Model

from payments.billing.views import entitlement_pairs, entitlements_view
from payments.data.models import (
    EntitlementsRecord,
    OrderRecord,
    PaymentRecord,
    RecurringPaymentRecord,
    RefundRecord,
    SellerRecord,
)
from payments.data.privacy import PSEUDONYM_PREFIX
from payments.orders.views import payment_view, refund_view, subscription_view
from payments.sellers.views import seller_view


@dataclass(frozen=True)
class Happened:
    """One domain event a change makes: its ``DetailType`` and the entity's status before the change."""

    detail_type: str
    previous_status: str | None


ORDER_STATUS_EVENTS = {"paid": "OrderPaid", "amount_mismatch": "OrderAmountMismatch",
                       "partially_refunded": "OrderPartiallyRefunded", "refunded": "OrderRefunded"}
PAYMENT_STATUS_EVENTS = {"succeeded": "PaymentSucceeded", "failed": "PaymentFailed", "canceled": "PaymentCanceled"}
REFUND_STATUS_EVENTS = {"succeeded": "RefundSucceeded", "failed": "RefundFailed"}
SUBSCRIPTION_STARTED = frozenset({"active", "trialing"})
SUBSCRIPTION_NOT_STARTED = frozenset({"incomplete", "incomplete_expired", "failed"})


def _status(record: Any) -> str | None:
    return None if record is None else record.status


def _status_event(old: Any, new: Any, events: dict[str, str]) -> list[Happened]:
    """The event of the status ``new`` moved to, when it moved (an insert moves from nothing)."""
    if new is None or _status(old) == new.status or new.status not in events:
        return []
    return [Happened(events[new.status], _status(old))]


def order_changes(old: OrderRecord | None, new: OrderRecord | None) -> list[Happened]:
    created = [Happened("OrderCreated", None)] if old is None and new is not None else []
    return created + _status_event(old, new, ORDER_STATUS_EVENTS)


def payment_changes(old: PaymentRecord | None, new: PaymentRecord | None) -> list[Happened]:
    return _status_event(old, new, PAYMENT_STATUS_EVENTS)


def refund_changes(old: RefundRecord | None, new: RefundRecord | None) -> list[Happened]:
    return _status_event(old, new, REFUND_STATUS_EVENTS)


def _subscription_terms(record: RecurringPaymentRecord) -> tuple[Any, ...]:
    return (record.status, bool(record.cancel_at_period_end), record.current_period_end, record.price_id)


def subscription_changes(old: RecurringPaymentRecord | None,
                         new: RecurringPaymentRecord | None) -> list[Happened]:
    """Started once, updated while it runs, canceled once. A record Stripe never made a subscription for (still
    being created, or failed to be) makes nothing."""
    if new is None or not new.stripe_subscription_id:
        return []
    before = _status(old)
    if new.status == "canceled":
        return [Happened("SubscriptionCanceled", before)] if before != "canceled" else []
    never_started = before is None or before in SUBSCRIPTION_NOT_STARTED
    if never_started:
        return [Happened("SubscriptionStarted", before)] if new.status in SUBSCRIPTION_STARTED else []
    if old is not None and _subscription_terms(old) != _subscription_terms(new):
        return [Happened("SubscriptionUpdated", before)]
    return []


def entitlements_changes(old: EntitlementsRecord | None, new: EntitlementsRecord | None) -> list[Happened]:
    """What the user may use changed (a first summary with nothing in it changes nothing)."""
    if new is None or entitlement_pairs(old.entitlements if old is not None else None) == entitlement_pairs(
            new.entitlements):
        return []
    return [Happened("EntitlementsChanged", None)]


def _seller_terms(record: SellerRecord) -> tuple[Any, ...]:
    return (record.status, record.stripe_account_id, bool(record.charges_enabled), bool(record.payouts_enabled),
            bool(record.details_submitted), tuple(record.requirements_due or ()), record.disabled_reason)


def seller_changes(old: SellerRecord | None, new: SellerRecord | None) -> list[Happened]:
    """A seller made, or one whose status, capabilities or requirements changed (an onboarding link asked for
    changes none of these). A record moved to an erased user's pseudonym is no news."""
    if new is None or new.user_id.startswith(PSEUDONYM_PREFIX):
        return []
    if old is None or _seller_terms(old) != _seller_terms(new):
        return [Happened("SellerUpdated", _status(old))]
    return []


@dataclass(frozen=True)
class Source:
    """A table whose committed changes are published."""

    table_setting: str  # the ``Settings`` attribute holding the table's name
    model: type[Model]
    entity: str  # the detail's key for the entity's JSON ("order" for the order itself)
    changes: Callable[[Any, Any], list[Happened]]
    user_id: Callable[[Any], str | None]  # None: the order's user
    order_id: Callable[[Any], str | None]  # None: the event carries no order
    view: Callable[[Any], Any] | None  # the entity's JSON (None for the order: it is the order)


SOURCES: tuple[Source, ...] = (
    Source("orders_table", OrderRecord, "order", order_changes, lambda r: r.user_id, lambda r: r.order_id, None),
    Source("payments_table", PaymentRecord, "payment", payment_changes, lambda r: r.user_id,
           lambda r: r.order_id, payment_view),
    Source("refunds_table", RefundRecord, "refund", refund_changes, lambda r: None, lambda r: r.order_id,
           refund_view),
    Source("recurring_payments_table", RecurringPaymentRecord, "subscription", subscription_changes,
           lambda r: r.user_id, lambda r: r.order_id, subscription_view),
    Source("entitlements_table", EntitlementsRecord, "entitlements", entitlements_changes, lambda r: r.user_id,
           lambda r: None, lambda r: entitlements_view(r.entitlements)),
    Source("sellers_table", SellerRecord, "seller", seller_changes, lambda r: r.user_id, lambda r: None,
           seller_view),
)

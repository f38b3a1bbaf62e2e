"""What one domain event adds to the numbers: pure functions of the event's ``detail``.

Each counted ``DetailType`` adds to one currency's counters of one UTC day (the day of ``occurredAt``):

| DetailType | adds | currency of |
|---|---|---|
| ``PaymentSucceeded`` | ``succeeded`` 1, ``gross`` the payment's amount | the payment |
| ``PaymentFailed`` | ``failed`` 1 | the payment |
| ``RefundSucceeded`` | ``refunds`` 1, ``refunded`` the refund's amount | the refund |
| ``OrderPaid`` | ``paidOrders`` 1, ``paidOrderValue`` the order's amount (renewals included) | the order |
| ``SubscriptionStarted`` | ``started`` 1, and the subscription's change to the levels | the subscription's order |
| ``SubscriptionUpdated`` | the subscription's change to the levels | the subscription's order |
| ``SubscriptionCanceled`` | ``canceled`` 1, and the subscription's change to the levels | the subscription's order |

A subscription's part in the levels (``SubscriptionTerms``) follows its status: it is *active* while ``active``,
``trialing`` or ``past_due``, and adds its monthly amount (``mrr``) while ``active`` or ``past_due`` (a trial pays
nothing yet). The monthly amount is its price's amount normalised to a month (``monthly``), read from the
subscription's order in the event: the order's line of the subscription's price, with the price's billing period.
A price the order does not carry (a plan changed to another price) is ``None``: unknown, and the levels keep what
the subscription added before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from payments.core.clock import parse_iso

ACTIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
PAYING_STATUSES = frozenset({"active", "past_due"})
# Months per period, as a fraction (numerator, denominator): a year is 1/12 of its amount a month, a week 52/12.
MONTHS_PER = {"day": (365, 12), "week": (52, 12), "month": (1, 1), "year": (1, 12)}
COUNTED = ("PaymentSucceeded", "PaymentFailed", "RefundSucceeded", "OrderPaid", "SubscriptionStarted",
           "SubscriptionUpdated", "SubscriptionCanceled")


class UnreadableEvent(ValueError):
    """A domain event without what its DetailType must carry (a bug upstream: it is retried, then dead-lettered)."""


@dataclass(frozen=True)
class SubscriptionTerms:
    """A subscription's part in the levels, as of the event's ``version`` of it."""

    recurring_payment_id: str
    version: int
    price_id: str | None
    active: bool
    paying: bool
    monthly: int | None  # its price's amount a month (None: the event does not carry that price)


@dataclass(frozen=True)
class Tally:
    currency: str
    day: str  # yyyy-mm-dd, UTC
    counts: dict[str, int] = field(default_factory=dict)  # MetricsCounterRecord attribute -> increment
    subscription: SubscriptionTerms | None = None


def monthly(amount: int, interval: str, count: int) -> int:
    """``amount`` a ``count`` x ``interval`` as an amount a month, in the same minor units, halves rounded up."""
    numerator, denominator = MONTHS_PER[interval]
    denominator *= count
    return (2 * amount * numerator + denominator) // (2 * denominator)


def tally(detail_type: str, detail: Mapping[str, Any]) -> Tally | None:
    """What the event adds (None for a type that is not counted)."""
    if detail_type not in COUNTED:
        return None
    day = _day(detail.get("occurredAt"))
    if detail_type in ("PaymentSucceeded", "PaymentFailed"):
        payment = _entity(detail, "payment")
        if detail_type == "PaymentFailed":
            return Tally(_currency(payment), day, {"failed": 1})
        return Tally(_currency(payment), day, {"succeeded": 1, "gross": _amount(payment)})
    if detail_type == "RefundSucceeded":
        refund = _entity(detail, "refund")
        return Tally(_currency(refund), day, {"refunds": 1, "refunded": _amount(refund)})
    order = _entity(detail, "order")
    if detail_type == "OrderPaid":
        return Tally(_currency(order), day, {"paid_orders": 1, "paid_order_value": _amount(order)})
    counts = {"SubscriptionStarted": {"started": 1}, "SubscriptionCanceled": {"canceled": 1}}.get(detail_type, {})
    return Tally(_currency(order), day, counts, terms(detail, order))


def terms(detail: Mapping[str, Any], order: Mapping[str, Any]) -> SubscriptionTerms:
    subscription = _entity(detail, "subscription")
    recurring_payment_id, status = subscription.get("recurringPaymentId"), subscription.get("status")
    version = detail.get("version")
    if not isinstance(recurring_payment_id, str) or not recurring_payment_id or not isinstance(status, str):
        raise UnreadableEvent("subscription: recurringPaymentId and status are required")
    if isinstance(version, bool) or not isinstance(version, int):
        raise UnreadableEvent("version must be an integer")
    price_id = subscription.get("priceId") if isinstance(subscription.get("priceId"), str) else None
    return SubscriptionTerms(recurring_payment_id, version, price_id, active=status in ACTIVE_STATUSES,
                             paying=status in PAYING_STATUSES, monthly=_monthly_price(order, price_id))


def _monthly_price(order: Mapping[str, Any], price_id: str | None) -> int | None:
    """The monthly amount of the order's line of ``price_id``, when the order has it with its billing period."""
    for item in order.get("items") or []:
        if not isinstance(item, Mapping) or item.get("priceId") != price_id:
            continue
        interval, count = item.get("interval"), item.get("intervalCount", 1)
        amount, quantity = item.get("unitAmount"), item.get("quantity", 1)
        if interval in MONTHS_PER and all(_is_count(n) for n in (count, quantity)) and _is_amount(amount):
            return monthly(amount * quantity, interval, count)
    return None


def _entity(detail: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = detail.get(name)
    if not isinstance(value, Mapping):
        raise UnreadableEvent(f"{name} is missing")
    return value


def _currency(entity: Mapping[str, Any]) -> str:
    value = entity.get("currency")
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha() and value.islower()):
        raise UnreadableEvent("currency must be a lowercase ISO 4217 code")
    return value


def _amount(entity: Mapping[str, Any]) -> int:
    value = entity.get("amount")
    if not isinstance(value, int) or not _is_amount(value):
        raise UnreadableEvent("amount must be a non-negative integer")
    return value


def _is_amount(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _day(occurred_at: Any) -> str:
    try:
        moment = parse_iso(str(occurred_at))
    except ValueError:
        raise UnreadableEvent("occurredAt must be an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise UnreadableEvent("occurredAt must say its time zone")
    return moment.astimezone(UTC).date().isoformat()

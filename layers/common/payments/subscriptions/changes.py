"""Plan changes: ``POST /subscriptions/{id}/change`` and ``.../change/preview`` (owner or admin).

Both take ``{"priceId", "proration", "prorationDate"?}``. The price must be one the app sells (``SELLABLE_PRICES``),
recurring, in the subscription's currency, and not the current plan; the subscription must be running (``active``,
``trialing`` or ``past_due``) and linked to its Stripe subscription.

- **Preview** asks Stripe's invoice preview (``POST /v1/invoices/create_preview``) what the change would bill,
  and changes nothing: ``{"amountDue", "currency", "lines": [{"description", "amount", "proration"}],
  "prorationDate"}``. With ``always_invoice`` that is the invoice the change makes at once; with
  ``create_prorations`` the next renewal's invoice with the prorations on it; with ``none`` the next renewal at
  the new price. ``prorationDate`` (now, in Unix seconds) is the moment the proration is computed for: passing it
  back to ``change`` (within ``PRORATION_DATE_WINDOW`` of now) makes Stripe bill exactly what the preview showed.
- **Change** is a ``RecordFirst`` (``PlanChangeAtStripe``): the record is marked with a pending change
  (``pendingChange``: its id, the price, the proration), conditioned on the record's version; then Stripe is asked
  to re-price the subscription's item with the key ``<changeId>:change``; then Stripe's answer is applied to the
  record (its price, marked ``changedByApi``: see ``payments.subscriptions.api``) and the mark removed; on a
  refusal the mark is removed. A change asked for while another is pending finishes that one first (the same key
  gives the same answer at Stripe, for 24 hours: a mark older than that is dropped, and the subscription callback
  says what became of it). The record's price then follows the subscription callback, whichever way the plan
  changed (here or in the customer portal).

With ``always_invoice`` Stripe invoices the proration at once and charges it: ``invoice.paid`` with
``billing_reason: subscription_update`` makes one ``adjustment`` order (``payments.subscriptions.renewals``).
With ``create_prorations`` the proration lines go on the next renewal order; with ``none`` no order is made.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from payments.core import validation
from payments.core.clock import now_iso, parse_iso, utc_now
from payments.core.config import get_settings
from payments.core.errors import ApiError, Conflict, InvalidField, WriteConflict
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import subscriptions as recurring_store
from payments.data.models import PlanChange, RecurringPaymentRecord
from payments.orders.views import subscription_view
from payments.record_first import RecordFirst, busy
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeResourceMissing
from payments.stripe.objects import StripeSubscription
from payments.subscriptions.api import ENDED, load_visible_subscription, save_api_answer

CHANGEABLE = frozenset({"active", "trialing", "past_due"})
PRORATION_DATE_WINDOW = 600  # seconds a preview's prorationDate may be used for (a change must not reach back)
STALE_CHANGE = timedelta(hours=24)  # Stripe keeps an idempotency key this long


@dataclass(frozen=True)
class ChangeRequest:
    price_id: str
    proration: str
    proration_date: int | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ChangeRequest:
        price_id = validation.identifier(body, "priceId")
        assert price_id is not None
        proration = validation.text(body, "proration", required=False, choices=stripe_api.PRORATIONS)
        date = validation.integer(body, "prorationDate", required=False, minimum=0)
        if date is not None and not -PRORATION_DATE_WINDOW <= date - int(time.time()) <= 60:
            raise InvalidField("prorationDate", f"must be a preview's, from the last {PRORATION_DATE_WINDOW} seconds")
        return cls(price_id=price_id, proration=proration or "create_prorations", proration_date=date)


def _check_changeable(record: RecurringPaymentRecord, request: ChangeRequest) -> None:
    if record.status in ENDED or record.status not in CHANGEABLE or not record.stripe_subscription_id:
        raise Conflict(f"a {record.status} subscription cannot change plans", code="subscription_not_changeable")
    if request.price_id == record.price_id:
        raise Conflict("the subscription is already on this price", code="same_price")


def _check_price(record: RecurringPaymentRecord, request: ChangeRequest, currency: str | None) -> None:
    """The new price must be sold by this app, recurring, and in the subscription's currency (400 on priceId)."""
    sellable = get_settings().sellable_prices
    try:
        price = stripe_api.retrieve_price(request.price_id) if sellable else None
    except StripeResourceMissing:
        price = None
    if price is None or (price.id not in sellable and (price.lookup_key or "") not in sellable):
        raise InvalidField("priceId", "no such price", code="unknown_price")
    if not price.active:
        raise InvalidField("priceId", "this price is no longer sold", code="inactive_price")
    if not price.recurring:
        raise InvalidField("priceId", "a subscription can only change to a recurring price", code="price_not_recurring")
    if currency is not None and price.currency != currency:
        raise InvalidField("priceId", "the new price must be in the subscription's currency",
                           code="mixed_currencies")


def _item_id(record: RecurringPaymentRecord) -> str:
    if record.stripe_item_id:
        return str(record.stripe_item_id)
    state = stripe_api.retrieve_subscription(record.stripe_subscription_id or "")
    if state.item_id is None:
        raise Conflict("the subscription has no item to change", code="subscription_not_changeable")
    return state.item_id


def preview_change(caller: Caller, recurring_payment_id: str, request: ChangeRequest) -> dict[str, Any]:
    record = load_visible_subscription(caller, recurring_payment_id)
    _check_changeable(record, request)
    _check_price(record, request, record.currency)
    date = request.proration_date or int(time.time())
    preview = stripe_api.preview_subscription_change(
        customer_id=record.stripe_customer_id or "", subscription_id=record.stripe_subscription_id or "",
        item_id=_item_id(record), price_id=request.price_id, proration=request.proration, proration_date=date)
    return {"amountDue": preview.amount_due, "currency": preview.currency, "prorationDate": date,
            "lines": [{"description": line.description, "amount": line.amount, "proration": line.proration}
                      for line in preview.lines]}


class PlanChangeAtStripe(RecordFirst[RecurringPaymentRecord, StripeSubscription]):
    """The subscription's plan changed at Stripe; the record marked while it is being made."""

    name = "PlanChange"
    action = "change"

    def __init__(self, record: RecurringPaymentRecord, request: ChangeRequest | None = None):
        self.read, self.request = record, request
        self.saved = record  # the record as Stripe's answer left it

    def reserve(self) -> RecurringPaymentRecord:
        record, request = self.read, self.request
        assert request is not None
        record.pending_change = PlanChange(change_id=new_id("chg"), price_id=request.price_id,
                                           proration=request.proration, proration_date=request.proration_date,
                                           requested_at=now_iso())
        record.updated_at = now_iso()
        recurring_store.save(record)  # conditioned on the version read: of two racing changes, one is made
        count("PlanChangeRequested")
        return record

    def record_id(self, record: RecurringPaymentRecord) -> str:
        assert record.pending_change is not None
        return str(record.pending_change.change_id)

    def call(self, record: RecurringPaymentRecord, idempotency_key: str) -> StripeSubscription:
        change = record.pending_change
        assert change is not None
        date = int(change.proration_date) if change.proration_date is not None else None
        return stripe_api.change_subscription_price(
            record.stripe_subscription_id or "", item_id=_item_id(record), price_id=change.price_id,
            proration=change.proration, proration_date=date, idempotency_key=idempotency_key)

    def record(self, record: RecurringPaymentRecord, answer: StripeSubscription) -> None:
        self.saved = save_api_answer(record, answer)  # applies the new price, which clears the mark

    def release(self, record: RecurringPaymentRecord, error: ApiError) -> None:
        assert record.pending_change is not None
        recurring_store.clear_change(record.recurring_payment_id, str(record.pending_change.change_id))


def change_plan(caller: Caller, recurring_payment_id: str, request: ChangeRequest) -> dict[str, Any]:
    record = load_visible_subscription(caller, recurring_payment_id)
    _check_changeable(record, request)
    _check_price(record, request, record.currency)
    record = _finish_pending(record)
    read = {"record": record}

    def attempt() -> RecurringPaymentRecord:
        current = read["record"]
        _check_changeable(current, request)
        try:
            return PlanChangeAtStripe(current, request).reserve()
        except WriteConflict:
            read["record"] = recurring_store.get(recurring_payment_id) or current
            raise

    reserved = retry_on_conflict(attempt, busy)
    action = PlanChangeAtStripe(reserved)
    action.complete(reserved)
    logger.info("plan changed", extra={"recurring_payment_id": recurring_payment_id, "price_id": request.price_id,
                                       "proration": request.proration, "by": caller.user_id})
    return subscription_view(action.saved)


def _finish_pending(record: RecurringPaymentRecord) -> RecurringPaymentRecord:
    """A change marked earlier and never recorded (a crash, a timeout) is finished first: its key gives Stripe's
    answer back. Older than Stripe keeps keys, it is dropped: the subscription callback has said what it did."""
    change = record.pending_change
    if change is None:
        return record
    if utc_now() - parse_iso(change.requested_at) > STALE_CHANGE:
        recurring_store.clear_change(record.recurring_payment_id, str(change.change_id))
    else:
        PlanChangeAtStripe(record).complete(record)
    fresh = recurring_store.get(record.recurring_payment_id) or record
    if fresh.pending_change is not None:
        raise Conflict("another plan change is being made; try again shortly", code="change_in_progress")
    return fresh

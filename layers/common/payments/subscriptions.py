"""Subscriptions: start one for a pending subscription order, cancel it (now or at period end), resume it.

Starting follows checkout's rules: the recurring payment record is written (and the order pointed at
it, conditioned on the order's version) before Stripe is called with the idempotency key
``<recurringPaymentId>:create`` and metadata ``{orderId, recurringPaymentId, userId}``. The subscription
is created ``incomplete``; the client pays its first invoice with the returned client secret, and the
renewal callback marks the order paid when Stripe reports the invoice paid. Asking again while it is
still incomplete returns the same subscription.

The record then follows Stripe (``payments.subscription_events``). A change made here is applied to the
record at once and stamped with the time, so a webhook older than it cannot undo it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments import store, stripe_gateway, validation
from payments.clock import from_epoch, now_iso
from payments.customers import ensure_customer
from payments.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from payments.identity import Caller
from payments.ids import new_id
from payments.models import OrderRecord, RecurringPaymentRecord
from payments.observability import count, logger
from payments.orders import load_visible_order
from payments.stripe_gateway import SubscriptionState
from payments.views import subscription_view

_ATTEMPTS = 4
ENDED = frozenset({"canceled", "incomplete_expired", "failed"})


@dataclass(frozen=True)
class SubscribeRequest:
    order_id: str
    price_id: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SubscribeRequest:
        return cls(order_id=validation.required_text(body, "orderId", max_length=64),
                   price_id=validation.required_text(body, "priceId", max_length=255))


def apply_state(record: RecurringPaymentRecord, state: SubscriptionState, stamp: int) -> bool:
    """Copy Stripe's state onto the record; True when something changed."""
    before = (record.status, record.cancel_at_period_end, record.current_period_end, record.stripe_subscription_id)
    record.status = state.status
    record.cancel_at_period_end = state.cancel_at_period_end
    record.current_period_end = from_epoch(state.current_period_end) or record.current_period_end
    record.stripe_subscription_id = record.stripe_subscription_id or state.id
    record.stripe_customer_id = record.stripe_customer_id or state.customer_id
    record.last_event_created = max(int(record.last_event_created or 0), stamp)
    record.updated_at = now_iso()
    return before != (record.status, record.cancel_at_period_end, record.current_period_end,
                      record.stripe_subscription_id)


def start_subscription(caller: Caller, request: SubscribeRequest) -> dict[str, Any]:
    order = load_visible_order(caller, request.order_id)
    for _ in range(_ATTEMPTS):
        _check_subscribable(caller, order, request)
        previous = (store.get(RecurringPaymentRecord, order.recurring_payment_id)
                    if order.recurring_payment_id else None)
        if previous is not None and previous.status not in ENDED:
            return _resume_start(order, previous)
        customer_id = ensure_customer(caller.user_id)
        now = now_iso()
        record = RecurringPaymentRecord(new_id("sub_rec"), order_id=order.order_id, user_id=order.user_id,
                                        price_id=request.price_id, status="incomplete",
                                        stripe_customer_id=customer_id, created_at=now, updated_at=now)
        order.recurring_payment_id, order.updated_at = record.recurring_payment_id, now
        try:
            store.Transaction().save(record).save(order).commit()
        except store.WriteConflict:
            order = store.reload(order)
            continue
        count("SubscriptionStarted")
        return _create_at_stripe(order, record)
    raise Conflict("the order is being changed by another request; try again", code="concurrent_update")


def _check_subscribable(caller: Caller, order: OrderRecord, request: SubscribeRequest) -> None:
    if order.user_id != caller.user_id:
        raise Forbidden("only the order's owner can subscribe", code="not_order_owner")
    if order.kind != "subscription":
        raise Conflict(f"a {order.kind} order is paid through checkout", code="order_not_subscription")
    if order.price_id != request.price_id:
        raise Unprocessable("priceId is not this order's price", code="price_mismatch")
    if order.status != "pending":
        raise Conflict(f"the order is already {order.status}", code="order_not_pending")


def _create_at_stripe(order: OrderRecord, record: RecurringPaymentRecord) -> dict[str, Any]:
    try:
        state = stripe_gateway.create_subscription(
            recurring_payment_id=record.recurring_payment_id, order_id=order.order_id, user_id=order.user_id,
            customer_id=record.stripe_customer_id or "", price_id=record.price_id)
    except ApiError as error:
        _release_failed(order, record, error)
        raise
    _save_state(record, state)
    return _answer(record, state)


def _resume_start(order: OrderRecord, record: RecurringPaymentRecord) -> dict[str, Any]:
    """The subscription this order already has: the same one again while its first payment is open."""
    if not record.stripe_subscription_id:
        return _create_at_stripe(order, record)  # same idempotency key: the same Stripe subscription
    state = stripe_gateway.retrieve_subscription(record.stripe_subscription_id, expand_invoice=True)
    if state.status != "incomplete":
        raise Conflict(f"this order's subscription is {state.status}", code="already_subscribed")
    return _answer(record, state)


def _save_state(record: RecurringPaymentRecord, state: SubscriptionState) -> RecurringPaymentRecord:
    """Apply Stripe's answer to the stored record; returns the record as stored afterwards."""
    fresh = record
    for _ in range(_ATTEMPTS):
        if fresh.status in ENDED or not apply_state(fresh, state, int(time.time())):
            record.stripe_subscription_id = fresh.stripe_subscription_id or state.id
            return fresh
        try:
            store.Transaction().save(fresh).commit()
        except store.WriteConflict:
            fresh = store.reload(record)
            continue
        record.status, record.stripe_subscription_id = fresh.status, fresh.stripe_subscription_id
        record.cancel_at_period_end, record.current_period_end = fresh.cancel_at_period_end, fresh.current_period_end
        return fresh
    return fresh


def _release_failed(order: OrderRecord, record: RecurringPaymentRecord, error: ApiError) -> None:
    now = now_iso()
    try:
        store.Transaction().update(
            record, [RecurringPaymentRecord.status.set("failed"), RecurringPaymentRecord.updated_at.set(now)],
            condition=RecurringPaymentRecord.stripe_subscription_id.does_not_exist(),
        ).update(
            order, [OrderRecord.recurring_payment_id.remove(), OrderRecord.updated_at.set(now)],
            condition=OrderRecord.recurring_payment_id == record.recurring_payment_id,
        ).commit()
    except store.WriteConflict:
        logger.info("subscription changed while releasing it",
                    extra={"recurring_payment_id": record.recurring_payment_id})
    logger.warning("subscription failed at Stripe", extra={"recurring_payment_id": record.recurring_payment_id,
                                                           "code": error.code})


def _answer(record: RecurringPaymentRecord, state: SubscriptionState) -> dict[str, Any]:
    return {"recurringPaymentId": record.recurring_payment_id, "orderId": record.order_id,
            "stripeSubscriptionId": state.id, "status": state.status, "clientSecret": state.client_secret}


# --- cancel and resume --------------------------------------------------------------------------------------


def _load_visible(caller: Caller, recurring_payment_id: str) -> RecurringPaymentRecord:
    record = (store.get(RecurringPaymentRecord, recurring_payment_id)
              if recurring_payment_id.startswith("sub_rec_") and len(recurring_payment_id) <= 64 else None)
    if record is None or not caller.can_see(record.user_id):
        raise NotFound("no such subscription", code="subscription_not_found")
    return record


def cancel_subscription(caller: Caller, recurring_payment_id: str, *, at_period_end: bool) -> dict[str, Any]:
    record = _load_visible(caller, recurring_payment_id)
    if record.status in ENDED:
        raise Conflict(f"the subscription is already {record.status}", code="already_canceled")
    if at_period_end and record.cancel_at_period_end:
        raise Conflict("the subscription is already set to cancel at the end of its period",
                       code="already_canceled")
    if not record.stripe_subscription_id:
        raise Conflict("the subscription has not started yet", code="subscription_not_started")
    key = f"{record.recurring_payment_id}:v{record.version}:cancel{'-at-period-end' if at_period_end else ''}"
    if at_period_end:
        state = stripe_gateway.set_cancel_at_period_end(record.stripe_subscription_id, True, idempotency_key=key)
    else:
        state = stripe_gateway.cancel_subscription(record.stripe_subscription_id, idempotency_key=key)
    saved = _save_state(record, state)
    count("SubscriptionCanceled" if not at_period_end else "SubscriptionCancelScheduled")
    logger.info("subscription cancel", extra={"recurring_payment_id": record.recurring_payment_id,
                                              "at_period_end": at_period_end, "by": caller.user_id})
    return subscription_view(saved)


def resume_subscription(caller: Caller, recurring_payment_id: str) -> dict[str, Any]:
    record = _load_visible(caller, recurring_payment_id)
    if record.status in ENDED:
        raise Conflict(f"the subscription is already {record.status}", code="already_canceled")
    if not record.cancel_at_period_end or not record.stripe_subscription_id:
        raise Conflict("the subscription is not set to cancel", code="not_canceling")
    key = f"{record.recurring_payment_id}:v{record.version}:resume"
    state = stripe_gateway.set_cancel_at_period_end(record.stripe_subscription_id, False, idempotency_key=key)
    return subscription_view(_save_state(record, state))

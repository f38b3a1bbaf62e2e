"""Subscriptions: start one for a pending subscription order, cancel it (now or at period end), resume it.

Starting is a ``RecordFirst`` (``SubscriptionAtStripe``): the recurring payment record is written (and the order
pointed at it, conditioned on the order's version) before Stripe is called with the key
``<recurringPaymentId>:create`` and metadata ``{orderId, recurringPaymentId, userId}``. The subscription is
created ``incomplete``; the client pays its first invoice with the returned client secret, and the renewal
callback marks the order paid when Stripe reports the invoice paid. Asking again while it is still incomplete
returns the same subscription.

The record then follows Stripe (``payments.subscriptions.events``). One clock per comparison: a change made here
(cancel, resume) is applied to the record at once but stamped with nothing, because Stripe's answer carries no
Stripe time to compare events with, and ours must never be compared with Stripe's. It is marked
``changedByApi`` instead: the next event that disagrees with it is settled by reading the subscription from
Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.clock import from_epoch, now_iso
from payments.core.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import orders as order_store
from payments.data import store
from payments.data import subscriptions as recurring_store
from payments.data.models import OrderRecord, RecurringPaymentRecord
from payments.orders.api import on_order
from payments.orders.views import subscription_view
from payments.record_first import RecordFirst, busy
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeSubscription
from payments.subscriptions.customers import ensure_customer

ENDED = frozenset({"canceled", "incomplete_expired", "failed"})


@dataclass(frozen=True)
class SubscribeRequest:
    order_id: str
    price_id: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SubscribeRequest:
        order_id, price_id = validation.identifier(body, "orderId"), validation.identifier(body, "priceId")
        assert order_id is not None and price_id is not None
        return cls(order_id=order_id, price_id=price_id)


def apply_state(record: RecurringPaymentRecord, state: StripeSubscription) -> bool:
    """Copy Stripe's view of the subscription onto the record (no stamp); True when something changed."""
    before = (record.status, record.cancel_at_period_end, record.current_period_end, record.stripe_subscription_id)
    record.status = state.status
    record.cancel_at_period_end = state.cancel_at_period_end
    record.current_period_end = from_epoch(state.current_period_end) or record.current_period_end
    record.stripe_subscription_id = record.stripe_subscription_id or state.id
    record.stripe_customer_id = record.stripe_customer_id or state.customer_id
    record.updated_at = now_iso()
    return before != (record.status, record.cancel_at_period_end, record.current_period_end,
                      record.stripe_subscription_id)


def _check_subscribable(caller: Caller, order: OrderRecord, request: SubscribeRequest) -> None:
    if order.user_id != caller.user_id:
        raise Forbidden("only the order's owner can subscribe", code="not_order_owner")
    if order.kind != "subscription":
        raise Conflict(f"a {order.kind} order is paid through checkout", code="order_not_subscription")
    if order.price_id != request.price_id:
        raise Unprocessable("priceId is not this order's price", code="price_mismatch")
    if order.status != "pending":
        raise Conflict(f"the order is already {order.status}", code="order_not_pending")


class SubscriptionAtStripe(RecordFirst[RecurringPaymentRecord, StripeSubscription]):
    name = "Subscription"

    def __init__(self, order: OrderRecord, customer_id: str = "", price_id: str = ""):
        self.order, self.customer_id, self.price_id = order, customer_id, price_id

    def reserve(self) -> RecurringPaymentRecord:
        order, now = self.order, now_iso()
        record = RecurringPaymentRecord(new_id("sub_rec"), order_id=order.order_id, user_id=order.user_id,
                                        price_id=self.price_id, status="incomplete",
                                        stripe_customer_id=self.customer_id, created_at=now, updated_at=now)
        order.recurring_payment_id, order.updated_at = record.recurring_payment_id, now
        store.Transaction().save(record).save(order).commit()
        count("SubscriptionStarted")
        return record

    def record_id(self, record: RecurringPaymentRecord) -> str:
        return record.recurring_payment_id

    def call(self, record: RecurringPaymentRecord, idempotency_key: str) -> StripeSubscription:
        return stripe_api.create_subscription(
            idempotency_key=idempotency_key, customer_id=record.stripe_customer_id or "", price_id=record.price_id,
            metadata={"orderId": record.order_id, "recurringPaymentId": record.recurring_payment_id,
                      "userId": record.user_id})

    def record(self, record: RecurringPaymentRecord, answer: StripeSubscription) -> None:
        """Link the record to its subscription. Stripe's first events may have linked it already and moved it
        on: then they, not this older answer, say where it is."""
        def attempt() -> None:
            fresh = recurring_store.get(record.recurring_payment_id)
            if fresh is None or fresh.stripe_subscription_id or fresh.status in ENDED:
                return
            apply_state(fresh, answer)
            recurring_store.save(fresh)

        retry_on_conflict(attempt, busy)

    def release(self, record: RecurringPaymentRecord, error: ApiError) -> None:
        tx = store.Transaction()
        recurring_store.fail_unstarted(tx, record.recurring_payment_id)
        order_store.release_recurring_payment(tx, record.order_id, record.recurring_payment_id)
        tx.commit()


def start_subscription(caller: Caller, request: SubscribeRequest) -> dict[str, Any]:
    def attempt(order: OrderRecord) -> dict[str, Any]:
        _check_subscribable(caller, order, request)
        previous = recurring_store.get(order.recurring_payment_id) if order.recurring_payment_id else None
        if previous is not None and previous.status not in ENDED:
            return _resume_start(order, previous)
        action = SubscriptionAtStripe(order, ensure_customer(caller.user_id), request.price_id)
        record = action.reserve()
        return _answer(record, action.complete(record))

    return on_order(caller, request.order_id, attempt)


def _resume_start(order: OrderRecord, record: RecurringPaymentRecord) -> dict[str, Any]:
    """The subscription this order already has: the same one again while its first payment is open."""
    if not record.stripe_subscription_id:  # same idempotency key: the same Stripe subscription
        return _answer(record, SubscriptionAtStripe(order).complete(record))
    state = stripe_api.retrieve_subscription(record.stripe_subscription_id, expand_invoice=True)
    if state.status != "incomplete":
        raise Conflict(f"this order's subscription is {state.status}", code="already_subscribed")
    return _answer(record, state)


def _answer(record: RecurringPaymentRecord, state: StripeSubscription) -> dict[str, Any]:
    return {"recurringPaymentId": record.recurring_payment_id, "orderId": record.order_id,
            "stripeSubscriptionId": state.id, "status": state.status, "clientSecret": state.client_secret}


# --- cancel and resume --------------------------------------------------------------------------------------


def _load_visible(caller: Caller, recurring_payment_id: str) -> RecurringPaymentRecord:
    record = (recurring_store.get(recurring_payment_id)
              if validation.is_identifier(recurring_payment_id, "sub_rec_") else None)
    if record is None or not caller.can_see(record.user_id):
        raise NotFound("no such subscription", code="subscription_not_found")
    return record


def _save_answer(record: RecurringPaymentRecord, state: StripeSubscription) -> RecurringPaymentRecord:
    """Apply Stripe's answer to a change we asked for, marked ``changedByApi`` (no stamp: see the module)."""
    def attempt() -> RecurringPaymentRecord:
        fresh = recurring_store.get(record.recurring_payment_id) or record
        if fresh.status in ENDED:
            return fresh
        if apply_state(fresh, state):
            fresh.changed_by_api = True
            recurring_store.save(fresh)
        return fresh

    return retry_on_conflict(attempt, busy)


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
        state = stripe_api.set_cancel_at_period_end(record.stripe_subscription_id, True, idempotency_key=key)
    else:
        state = stripe_api.cancel_subscription(record.stripe_subscription_id, idempotency_key=key)
    saved = _save_answer(record, state)
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
    state = stripe_api.set_cancel_at_period_end(record.stripe_subscription_id, False, idempotency_key=key)
    return subscription_view(_save_answer(record, state))

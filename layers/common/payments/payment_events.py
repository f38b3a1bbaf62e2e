"""What one-time payment events do: PaymentIntent and Checkout Session events move our payment and order.

Both objects carry our metadata ``{orderId, paymentId, userId}``; an event whose object has none is
about something we did not create and is ignored. Moves follow ``payments.lifecycle``, so a late or
reordered event never moves anything back (a ``payment_failed`` after ``succeeded`` changes nothing).
A succeeded payment whose amount or currency differs from its order leaves the order
``amount_mismatch``; a second successful payment for an order already paid is recorded and flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from payments import store
from payments.clock import now_iso
from payments.lifecycle import order_may_move, payment_may_move
from payments.models import OrderRecord, PaymentRecord
from payments.observability import count, logger
from payments.stripe_gateway import object_id
from payments.webhooks import Decision, EventRule, StripeEvent


@dataclass(frozen=True)
class Observation:
    """What an event says about a payment, whatever object it came on."""

    status: str | None  # the status it moves the payment to, or None (informational only)
    amount: int | None = None
    currency: str | None = None
    payment_intent_id: str | None = None
    session_id: str | None = None
    charge_id: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


def observe_payment_intent(event: StripeEvent) -> Observation:
    intent = event.object
    status = {"payment_intent.succeeded": "succeeded", "payment_intent.payment_failed": "failed",
              "payment_intent.canceled": "canceled"}[event.type]
    error = intent.get("last_payment_error") or {}
    amount = intent.get("amount_received") or intent.get("amount")
    return Observation(
        status=status, amount=amount if isinstance(amount, int) else None, currency=intent.get("currency"),
        payment_intent_id=object_id(intent.get("id")), charge_id=object_id(intent.get("latest_charge")),
        failure_code=(error.get("decline_code") or error.get("code")) if status == "failed" else None,
        failure_message=error.get("message") if status == "failed" else None,
    )


def observe_checkout_session(event: StripeEvent) -> Observation:
    session = event.object
    if event.type == "checkout.session.completed":
        status = "succeeded" if session.get("payment_status") in ("paid", "no_payment_required") else None
    else:
        status = {"checkout.session.async_payment_succeeded": "succeeded",
                  "checkout.session.async_payment_failed": "failed",
                  "checkout.session.expired": "canceled"}[event.type]
    amount = session.get("amount_total")
    return Observation(
        status=status, amount=amount if isinstance(amount, int) else None, currency=session.get("currency"),
        payment_intent_id=object_id(session.get("payment_intent")), session_id=object_id(session.get("id")),
        failure_code="async_payment_failed" if status == "failed" else None,
    )


class PaymentEventRule(EventRule):
    def __init__(self, observe: Any):
        self.observe = observe

    def keys(self, event: StripeEvent) -> list[store.Key] | None:
        payment_id, order_id = event.metadata.get("paymentId"), event.metadata.get("orderId")
        if not isinstance(payment_id, str) or not isinstance(order_id, str):
            return None
        return [(PaymentRecord, payment_id), (OrderRecord, order_id)]

    def decide(self, event: StripeEvent, records: Sequence[Any]) -> Decision | None:
        payment, order = records
        if payment is None or order is None or payment.order_id != order.order_id:
            logger.warning("event for a payment we do not know", extra={"metadata": event.metadata})
            return None
        seen: Observation = self.observe(event)
        decision = Decision()
        now = now_iso()
        changed = _record_ids(payment, seen)
        if seen.status is not None and payment_may_move(payment.status, seen.status):
            payment.status = seen.status
            changed = True
            if seen.status == "succeeded":
                payment.amount_received = seen.amount
                payment.currency_received = seen.currency
                payment.failure_code = payment.failure_message = None
            elif seen.status == "failed":
                payment.failure_code = seen.failure_code
                payment.failure_message = (seen.failure_message or "")[:500] or None
            metric = f"Payment{seen.status.capitalize()}"
            decision.after_commit.append(lambda: count(metric))
            if _apply_to_order(order, payment, seen, decision):
                order.updated_at = now
                decision.transaction.save(order)
        if not changed:
            return None
        payment.updated_at = now
        payment.last_event_created = max(payment.last_event_created or 0, event.created)
        decision.transaction.save(payment)
        return decision


def _record_ids(payment: PaymentRecord, seen: Observation) -> bool:
    changed = False
    for attribute, value in (("stripe_payment_intent_id", seen.payment_intent_id),
                             ("stripe_checkout_session_id", seen.session_id),
                             ("stripe_charge_id", seen.charge_id)):
        if value and getattr(payment, attribute) is None:
            setattr(payment, attribute, value)
            changed = True
    return changed


def _apply_to_order(order: OrderRecord, payment: PaymentRecord, seen: Observation, decision: Decision) -> bool:
    """Move the order as the payment's new status says; True when the order changed."""
    changed = False
    if payment.status in ("succeeded", "canceled") and order.open_payment_id == payment.payment_id:
        order.open_payment_id = None
        changed = True
    if payment.status != "succeeded":
        return changed
    if order.status != "pending":
        logger.error("a second payment succeeded for an order that is not pending: refund it",
                     extra={"order_id": order.order_id, "payment_id": payment.payment_id,
                            "order_status": order.status})
        decision.after_commit.append(lambda: count("DuplicatePayment"))
        return changed
    matches = seen.amount == order.amount and (seen.currency or "").lower() == order.currency
    target = "paid" if matches else "amount_mismatch"
    if order_may_move(order.status, target):
        order.status = target
        order.paid_by_payment_id = payment.payment_id
        changed = True
    if not matches:
        logger.error("payment amount differs from its order",
                     extra={"order_id": order.order_id, "payment_id": payment.payment_id,
                            "order_amount": order.amount, "order_currency": order.currency,
                            "paid_amount": seen.amount, "paid_currency": seen.currency})
        decision.after_commit.append(lambda: count("AmountMismatch"))
    return changed


PAYMENT_RULES: dict[str, EventRule] = {
    **{t: PaymentEventRule(observe_payment_intent)
       for t in ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled")},
    **{t: PaymentEventRule(observe_checkout_session)
       for t in ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                 "checkout.session.async_payment_failed", "checkout.session.expired")},
}

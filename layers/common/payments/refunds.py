"""Refunds an admin asks for: reserve the amount on the payment first, then ask Stripe.

The refundable remainder of a payment is what it captured minus what is refunded minus what is
reserved by refunds still pending. ``request_refund``:

1. Reads the payment. It must have succeeded; the amount (default: the whole remainder) must fit.
2. In one transaction, conditioned on the payment's version: adds the amount to ``amountReserved``,
   writes the ``pending`` refund record, and lists it on the order. Of two racing requests that together
   exceed the remainder, one commits; the other reads again and no longer fits (422).
3. Calls Stripe with metadata ``{refundId, paymentId, orderId}`` and the idempotency key
   ``<refundId>:create``. If Stripe refuses or fails, the reservation is released and the refund says
   ``failed`` with the reason, so nothing stays reserved forever.

The refund callback (``payments.refund_events``) moves the refund on to succeeded / failed / canceled and
the reservation into ``amountRefunded``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments import store, stripe_gateway, validation
from payments.clock import now_iso
from payments.errors import ApiError, Conflict, NotFound, Unprocessable
from payments.identity import Caller
from payments.ids import new_id
from payments.models import OrderRecord, PaymentRecord, RefundRecord
from payments.observability import count, logger

REASONS = ("duplicate", "fraudulent", "requested_by_customer")
_ATTEMPTS = 5


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    amount: int | None
    reason: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RefundRequest:
        return cls(
            payment_id=validation.required_text(body, "paymentId", max_length=64),
            amount=validation.integer(body, "refundAmount", required=False, minimum=1),
            reason=validation.text(body, "reason", required=False, choices=REASONS),
        )


def captured(payment: PaymentRecord) -> int:
    return int(payment.amount_received if payment.amount_received is not None else payment.amount)


def refundable(payment: PaymentRecord) -> int:
    return captured(payment) - int(payment.amount_refunded or 0) - int(payment.amount_reserved or 0)


def request_refund(caller: Caller, request: RefundRequest) -> dict[str, Any]:
    caller.require_admin()
    refund, payment = _reserve(caller, request)
    try:
        created = stripe_gateway.create_refund(
            refund_id=refund.refund_id, payment_id=payment.payment_id, order_id=payment.order_id,
            payment_intent_id=payment.stripe_payment_intent_id or "", amount=int(refund.amount), reason=refund.reason)
    except ApiError as error:
        try:
            release_failed_refund(refund.refund_id, error.code, error.message if error.status < 500 else
                                  "the payment provider could not be used; nothing was refunded")
        except Exception:
            # The caller still hears Stripe's error; the stuck reservation is logged for an operator
            # (the refund stays pending with its amount reserved until released).
            logger.exception("could not release a refund reservation", extra={"refund_id": refund.refund_id})
            count("RefundReservationStuck")
        raise
    store.Transaction().update(refund, [RefundRecord.stripe_refund_id.set(created.id),
                                        RefundRecord.updated_at.set(now_iso())],
                               condition=RefundRecord.refund_id.exists()).commit()
    count("RefundRequested")
    logger.info("refund requested", extra={"refund_id": refund.refund_id, "payment_id": payment.payment_id,
                                           "amount": refund.amount, "by": caller.user_id})
    return {"refundId": refund.refund_id, "paymentId": payment.payment_id, "orderId": payment.order_id,
            "amount": refund.amount, "currency": refund.currency, "status": "pending",
            "stripeRefundId": created.id}


def _reserve(caller: Caller, request: RefundRequest) -> tuple[RefundRecord, PaymentRecord]:
    for _ in range(_ATTEMPTS):
        payment = store.get(PaymentRecord, request.payment_id) if request.payment_id.startswith("pay_") else None
        if payment is None:
            raise NotFound("no such payment", code="payment_not_found")
        if payment.status != "succeeded" or not payment.stripe_payment_intent_id:
            raise Conflict(f"only a succeeded payment can be refunded; this one is {payment.status}",
                           code="payment_not_refundable")
        remaining = refundable(payment)
        amount = remaining if request.amount is None else request.amount
        if remaining <= 0 or amount > remaining:
            raise Unprocessable(f"at most {max(remaining, 0)} can still be refunded (pending refunds count)",
                                code="refund_exceeds_remaining")
        now = now_iso()
        refund = RefundRecord(new_id("ref"), payment_id=payment.payment_id, order_id=payment.order_id,
                              amount=amount, currency=payment.currency_received or payment.currency,
                              status="pending", origin="api", reason=request.reason,
                              requested_by=caller.user_id, created_at=now, updated_at=now)
        payment.amount_reserved = (payment.amount_reserved or 0) + amount
        payment.updated_at = now
        order = OrderRecord(payment.order_id)
        try:
            store.Transaction().save(payment).save(refund).update(
                order, [OrderRecord.refund_ids.set((OrderRecord.refund_ids | []).append([refund.refund_id])),
                        OrderRecord.updated_at.set(now)],
                condition=OrderRecord.order_id.exists()).commit()
        except store.WriteConflict:
            continue
        return refund, payment
    raise Conflict("the payment is being changed by other requests; try again", code="concurrent_update")


def release_failed_refund(refund_id: str, code: str, message: str) -> None:
    """Stripe did not take the refund: give the reservation back and say why, once."""
    for _ in range(_ATTEMPTS):
        refund = store.get(RefundRecord, refund_id)
        if refund is None or refund.status != "pending":
            return
        payment = store.get(PaymentRecord, refund.payment_id)
        assert payment is not None
        now = now_iso()
        refund.status, refund.failure_reason, refund.updated_at = "failed", f"{code}: {message}"[:500], now
        payment.amount_reserved = max((payment.amount_reserved or 0) - refund.amount, 0)
        payment.updated_at = now
        try:
            store.Transaction().save(refund).save(payment).commit()
        except store.WriteConflict:
            continue
        count("RefundFailed")
        logger.warning("refund failed at Stripe; reservation released", extra={"refund_id": refund_id, "code": code})
        return
    logger.error("could not release a failed refund's reservation", extra={"refund_id": refund_id})

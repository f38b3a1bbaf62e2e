"""Refunds an admin asks for: reserve the amount on the payment first, then ask Stripe (``RecordFirst``).

The refundable remainder of a payment is what it captured minus what is refunded minus what is reserved by
refunds still pending.

1. **Reserve**: read the payment; it must have succeeded; the amount (default: the whole remainder) must fit.
   In one transaction, conditioned on the payment's version: add the amount to ``amountReserved``, write the
   ``pending`` refund, list it on the order. Of racing requests that together exceed the remainder, one
   commits; the others read again and no longer fit (422).
2. **Call Stripe** with metadata ``{refundId, paymentId, orderId}`` and the key ``<refundId>:create``.
3. **Record** Stripe's refund id on ours.
4. **Release** when Stripe refuses or fails: the refund is ``failed`` with the reason and the reservation given
   back. (An automatic refund that could not reach Stripe stays ``pending`` instead, for the reconciler.)

The refund callback (``payments.refunds.events``) moves the refund on and the reservation into ``amountRefunded``.

A refund of a destination charge (a marketplace payment) reverses the seller's transfer and refunds the platform's
fee, both in proportion to the amount refunded (``reverse_transfer``, ``refund_application_fee``): the seller gives
back their share of it, the platform its fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.clock import now_iso
from payments.core.errors import ApiError, Conflict, NotFound, Unprocessable
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.data import orders as order_store
from payments.data import payments as payment_store
from payments.data import refunds as refund_store
from payments.data import store
from payments.data.models import PaymentRecord, RefundRecord
from payments.record_first import RecordFirst
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeRefund

REASONS = stripe_api.REFUND_REASONS


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    amount: int | None
    reason: str | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> RefundRequest:
        payment_id = validation.identifier(body, "paymentId")
        assert payment_id is not None
        return cls(payment_id=payment_id,
                   amount=validation.integer(body, "refundAmount", required=False, minimum=1),
                   reason=validation.text(body, "reason", required=False, choices=REASONS))


def captured(payment: PaymentRecord) -> int:
    return int(payment.amount_received if payment.amount_received is not None else payment.amount)


def refundable(payment: PaymentRecord) -> int:
    return captured(payment) - int(payment.amount_refunded or 0) - int(payment.amount_reserved or 0)


def new_refund(refund_id: str, payment: PaymentRecord, amount: int, *, origin: str, reason: str | None,
               requested_by: str | None) -> RefundRecord:
    now = now_iso()
    return RefundRecord(refund_id, payment_id=payment.payment_id, order_id=payment.order_id, amount=amount,
                        currency=payment.currency_received or payment.currency, status="pending", origin=origin,
                        reason=reason, requested_by=requested_by, created_at=now, updated_at=now,
                        reverse_transfer=bool(payment.destination_account_id))


class RefundAtStripe(RecordFirst[RefundRecord, StripeRefund]):
    """A refund of ``payment_intent_id``: reserved by ``reserve`` (an admin's request), or already reserved in a
    webhook's transaction (an automatic refund, completed with ``complete``)."""

    name = "Refund"

    def __init__(self, payment_intent_id: str = "", *, caller: Caller | None = None,
                 request: RefundRequest | None = None, keep_pending_when_unavailable: bool = False):
        self.payment_intent_id = payment_intent_id
        self.caller, self.request = caller, request
        self.keep_pending_when_unavailable = keep_pending_when_unavailable

    def reserve(self) -> RefundRecord:
        assert self.caller is not None and self.request is not None
        payment = payment_store.get(self.request.payment_id) if validation.is_identifier(
            self.request.payment_id, "pay_") else None
        if payment is None:
            raise NotFound("no such payment", code="payment_not_found")
        if payment.status != "succeeded" or not payment.stripe_payment_intent_id:
            raise Conflict(f"only a succeeded payment can be refunded; this one is {payment.status}",
                           code="payment_not_refundable")
        remaining = refundable(payment)
        amount = remaining if self.request.amount is None else self.request.amount
        if remaining <= 0 or amount > remaining:
            raise Unprocessable(f"at most {max(remaining, 0)} can still be refunded (pending refunds count)",
                                code="refund_exceeds_remaining")
        refund = new_refund(new_id("ref"), payment, amount, origin="api", reason=self.request.reason,
                            requested_by=self.caller.user_id)
        tx = store.Transaction()
        refund_store.reserve(tx, payment, refund)
        order_store.add_refund(tx, payment.order_id, refund.refund_id)
        tx.commit()
        self.payment_intent_id = payment.stripe_payment_intent_id
        return refund

    def record_id(self, record: RefundRecord) -> str:
        return record.refund_id

    def call(self, record: RefundRecord, idempotency_key: str) -> StripeRefund:
        return stripe_api.create_refund(
            idempotency_key=idempotency_key, payment_intent_id=self.payment_intent_id, amount=int(record.amount),
            metadata={"refundId": record.refund_id, "paymentId": record.payment_id, "orderId": record.order_id},
            reason=record.reason, reverse_transfer=bool(record.reverse_transfer))

    def record(self, record: RefundRecord, answer: StripeRefund) -> None:
        refund_store.record_stripe_id(record.refund_id, answer.id, transfer_reversal_id=answer.transfer_reversal_id)
        record.stripe_refund_id = answer.id

    def release(self, record: RefundRecord, error: ApiError) -> None:
        if self.keep_pending_when_unavailable and error.status >= 500:
            logger.error("automatic refund not sent: Stripe unavailable; the reconciler retries it",
                         extra={"refund_id": record.refund_id})
            count("AutoRefundPending")
            return
        message = (error.message if error.status < 500
                   else "the payment provider could not be used; nothing was refunded")
        refund_store.release_failed(record.refund_id, f"{error.code}: {message}")


def request_refund(caller: Caller, request: RefundRequest) -> dict[str, Any]:
    caller.require_admin()
    refund, created = RefundAtStripe(caller=caller, request=request).run()
    count("RefundRequested")
    logger.info("refund requested", extra={"refund_id": refund.refund_id, "payment_id": refund.payment_id,
                                           "amount": refund.amount, "by": caller.user_id})
    return {"refundId": refund.refund_id, "paymentId": refund.payment_id, "orderId": refund.order_id,
            "amount": refund.amount, "currency": refund.currency, "status": "pending", "stripeRefundId": created.id}

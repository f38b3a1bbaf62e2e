"""The refunds repository: refund records and the reservation each one holds on its payment."""

from __future__ import annotations

from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import PaymentRecord, RefundRecord


def get(refund_id: str) -> RefundRecord | None:
    return store.get(RefundRecord, refund_id)


def record_stripe_id(refund_id: str, stripe_refund_id: str, *, transfer_reversal_id: str | None = None) -> None:
    """Keep Stripe's id for our refund (one UpdateItem; a webhook may have recorded it first, to the same id), and
    the transfer reversal it made (a destination charge's refund)."""
    actions = [RefundRecord.stripe_refund_id.set(stripe_refund_id), RefundRecord.updated_at.set(now_iso())]
    if transfer_reversal_id:
        actions.append(RefundRecord.stripe_transfer_reversal_id.set(transfer_reversal_id))
    store.update(RefundRecord(refund_id), actions, condition=RefundRecord.refund_id.exists())


def reserve(tx: store.Transaction, payment: PaymentRecord, refund: RefundRecord) -> None:
    """Write the pending refund and hold its amount on the payment, conditioned on the payment's version."""
    payment.amount_reserved = int(payment.amount_reserved or 0) + int(refund.amount)
    payment.updated_at = refund.created_at
    tx.save(payment).save(refund)


def release_failed(refund_id: str, reason: str) -> None:
    """Stripe did not take the refund: it is ``failed`` with the reason, and its reservation is given back.
    Raises ``WriteConflict`` when either changed meanwhile (the caller reads again)."""
    refund = store.get(RefundRecord, refund_id)
    if refund is None or refund.status != "pending":
        return
    payment = store.get(PaymentRecord, refund.payment_id)
    if payment is None:
        return
    now = now_iso()
    refund.status, refund.failure_reason, refund.updated_at = "failed", reason[:500], now
    payment.amount_reserved = max(int(payment.amount_reserved or 0) - int(refund.amount), 0)
    payment.updated_at = now
    store.Transaction().save(refund).save(payment).commit()


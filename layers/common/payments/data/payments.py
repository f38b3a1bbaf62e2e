"""The payments repository: payment attempts, their Stripe ids, and finding ours from a Stripe PaymentIntent."""

from __future__ import annotations

from pynamodb.expressions.update import Action

from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import PaymentRecord


def get(payment_id: str) -> PaymentRecord | None:
    return store.get(PaymentRecord, payment_id)


def find_by_payment_intent(intent_id: str | None) -> PaymentRecord | None:
    """Our payment holding this PaymentIntent (from the index: only its id and order id are read)."""
    return store.first_in_index(PaymentRecord.by_payment_intent, intent_id)


def record_stripe_ids(payment_id: str, *, payment_intent_id: str | None = None,
                      checkout_session_id: str | None = None) -> None:
    """Keep the ids Stripe gave the payment's objects (one UpdateItem; the payment must exist)."""
    actions = [PaymentRecord.updated_at.set(now_iso())]
    if payment_intent_id:
        actions.append(PaymentRecord.stripe_payment_intent_id.set(payment_intent_id))
    if checkout_session_id:
        actions.append(PaymentRecord.stripe_checkout_session_id.set(checkout_session_id))
    store.update(PaymentRecord(payment_id), actions, condition=PaymentRecord.payment_id.exists())


def fail_pending(tx: store.Transaction, payment_id: str, code: str, message: str) -> None:
    """A pending payment failed (Stripe refused or could not be reached): it says why."""
    tx.update(PaymentRecord(payment_id),
              [PaymentRecord.status.set("failed"), PaymentRecord.failure_code.set(code),
               PaymentRecord.failure_message.set(message[:500]), PaymentRecord.updated_at.set(now_iso()),
               *_not_pending()],
              condition=PaymentRecord.status == "pending")


def cancel_pending(tx: store.Transaction, payment_id: str) -> None:
    """A pending payment is replaced by a new attempt."""
    tx.update(PaymentRecord(payment_id), [PaymentRecord.status.set("canceled"),
                                          PaymentRecord.updated_at.set(now_iso()), *_not_pending()],
              condition=PaymentRecord.status == "pending")


def _not_pending() -> list[Action]:
    """A payment that leaves ``pending`` leaves the reconciler's ``byPendingSince`` index."""
    return [PaymentRecord.pending_mark.remove(), PaymentRecord.pending_since.remove()]


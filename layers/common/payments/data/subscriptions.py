"""The recurring payments repository: our record of each Stripe subscription, and finding it from Stripe's id."""

from __future__ import annotations

from typing import cast

from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import RecurringPaymentRecord


def get(recurring_payment_id: str) -> RecurringPaymentRecord | None:
    return store.get(RecurringPaymentRecord, recurring_payment_id)


def find_by_subscription(subscription_id: str | None) -> RecurringPaymentRecord | None:
    """Our record of this Stripe subscription (from the index: only its id and order id are read)."""
    return store.first_in_index(RecurringPaymentRecord.by_stripe_subscription, subscription_id)


def fail_unstarted(tx: store.Transaction, recurring_payment_id: str) -> None:
    """Stripe did not create the subscription: the record is ``failed`` (only while it holds no subscription)."""
    tx.update(RecurringPaymentRecord(recurring_payment_id),
              [RecurringPaymentRecord.status.set("failed"), RecurringPaymentRecord.updated_at.set(now_iso())],
              condition=RecurringPaymentRecord.stripe_subscription_id.does_not_exist())


def save(record: RecurringPaymentRecord) -> None:
    """Write the record back, conditioned on the version it was read at."""
    store.put(record)


def clear_change(recurring_payment_id: str, change_id: str) -> None:
    """The plan change ``change_id`` is no longer pending (only while it is the one marked)."""
    from pynamodb.expressions.condition import Condition

    from payments.core.errors import WriteConflict

    # pynamodb types a map's sub-attribute comparison as bool; it is a Condition on pendingChange.changeId
    marked = cast(Condition, RecurringPaymentRecord.pending_change.change_id == change_id)
    try:
        store.update(RecurringPaymentRecord(recurring_payment_id),
                     [RecurringPaymentRecord.pending_change.remove(), RecurringPaymentRecord.updated_at.set(now_iso())],
                     condition=marked)
    except WriteConflict:
        pass  # already cleared (by the subscription callback, or a later change)

"""The customers repository: each user's one Stripe customer."""

from __future__ import annotations

from payments.core.clock import now_iso
from payments.core.errors import WriteConflict
from payments.data import store
from payments.data.models import CustomerRecord


def get(user_id: str) -> CustomerRecord | None:
    return store.get(CustomerRecord, user_id)


def claim(user_id: str) -> CustomerRecord:
    """The user's row, written if it is not there yet (a concurrent claim is fine: both go on to one customer)."""
    record = CustomerRecord(user_id, created_at=now_iso())
    try:
        store.create(record)
    except WriteConflict:
        pass
    return record


def record_stripe_customer(user_id: str, customer_id: str) -> str:
    """Keep the user's Stripe customer; when another request kept one first, the stored one wins."""
    try:
        store.update(CustomerRecord(user_id), [CustomerRecord.stripe_customer_id.set(customer_id)],
                     condition=CustomerRecord.stripe_customer_id.does_not_exist())
    except WriteConflict:
        stored = store.get(CustomerRecord, user_id)
        if stored is not None and stored.stripe_customer_id:
            return str(stored.stripe_customer_id)
    return customer_id

"""One Stripe customer per user, never two, even when a user's first requests race.

The ``CustomersTable`` row for the user is claimed with a conditional write, and the Stripe customer
is created with the idempotency key ``customer:<userId>``: racing requests make the same call with
the same key, so Stripe answers all of them with one customer, and the first to record it wins.
"""

from __future__ import annotations

from payments import store, stripe_gateway
from payments.clock import now_iso
from payments.models import CustomerRecord
from payments.observability import logger


def ensure_customer(user_id: str) -> str:
    """The user's Stripe customer id, created on first need."""
    record = store.get(CustomerRecord, user_id)
    if record is not None and record.stripe_customer_id:
        return str(record.stripe_customer_id)
    if record is None:
        record = CustomerRecord(user_id, created_at=now_iso())
        try:
            store.Transaction().create(record).commit()
        except store.WriteConflict:
            pass  # a concurrent request claimed it first; the same Stripe call below answers us both
    customer_id = stripe_gateway.create_customer(user_id)
    try:
        store.Transaction().update(record, [CustomerRecord.stripe_customer_id.set(customer_id)],
                                   condition=CustomerRecord.stripe_customer_id.does_not_exist()).commit()
    except store.WriteConflict:
        stored = store.get(CustomerRecord, user_id)
        if stored is not None and stored.stripe_customer_id and stored.stripe_customer_id != customer_id:
            logger.error("two Stripe customers for one user", extra={"user_id": user_id})
            return str(stored.stripe_customer_id)
    return customer_id

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


def find_user(stripe_customer_id: str) -> str | None:
    """The user whose row holds this Stripe customer (from the ``byStripeCustomer`` index), if any."""
    hit = store.first_in_index(CustomerRecord.by_stripe_customer, stripe_customer_id)
    return str(hit.user_id) if hit is not None else None


def mark_setup(user_id: str, request_id: str, *, previous: str | None) -> None:
    """The user's row names the SetupIntent being made (``WriteConflict`` when another request marked it first)."""
    condition = (CustomerRecord.setup_request_id == previous if previous
                 else CustomerRecord.setup_request_id.does_not_exist())
    store.update(CustomerRecord(user_id), [CustomerRecord.setup_request_id.set(request_id),
                                           CustomerRecord.stripe_setup_intent_id.remove()],
                 condition=condition & CustomerRecord.user_id.exists())


def record_setup(user_id: str, request_id: str, setup_intent_id: str) -> None:
    """Keep Stripe's SetupIntent id (unless a later request marked the row since: then its one is kept)."""
    try:
        store.update(CustomerRecord(user_id), [CustomerRecord.stripe_setup_intent_id.set(setup_intent_id)],
                     condition=CustomerRecord.setup_request_id == request_id)
    except WriteConflict:
        pass


def release_setup(user_id: str, request_id: str) -> None:
    """Stripe made no SetupIntent: the mark goes (only while it is this request's)."""
    try:
        store.update(CustomerRecord(user_id), [CustomerRecord.setup_request_id.remove()],
                     condition=CustomerRecord.setup_request_id == request_id)
    except WriteConflict:
        pass

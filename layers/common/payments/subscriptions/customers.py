"""One Stripe customer per user, never two: not when a user's first requests race, not a day later.

``CustomerAtStripe`` is a ``RecordFirst``: the user's ``CustomersTable`` row is claimed first (a conditional
write), then Stripe is asked: first by search (``metadata['userId']``), which finds a customer made earlier
but never recorded (a crash, a lost answer) even after Stripe's 24 hours of idempotency are over; then, when
there is none, by creating one with the key ``customer:<userId>``, so racing requests get the same customer.
The first to record it wins; a later one takes the recorded one.
"""

from __future__ import annotations

from payments.core.errors import ApiError
from payments.data import customers as customer_store
from payments.data.models import CustomerRecord
from payments.record_first import RecordFirst
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeCustomer


class CustomerAtStripe(RecordFirst[CustomerRecord, StripeCustomer]):
    name = "Customer"

    def __init__(self, user_id: str):
        self.user_id = user_id

    def reserve(self) -> CustomerRecord:
        return customer_store.claim(self.user_id)

    def record_id(self, record: CustomerRecord) -> str:
        return record.user_id

    def idempotency_key(self, record: CustomerRecord) -> str:
        return f"customer:{record.user_id}"

    def call(self, record: CustomerRecord, idempotency_key: str) -> StripeCustomer:
        return stripe_api.find_customer(record.user_id) or stripe_api.create_customer(
            idempotency_key=idempotency_key, user_id=record.user_id)

    def record(self, record: CustomerRecord, answer: StripeCustomer) -> None:
        record.stripe_customer_id = customer_store.record_stripe_customer(record.user_id, answer.id)

    def release(self, record: CustomerRecord, error: ApiError) -> None:
        """Nothing is held: the claimed row without a customer is completed by the next request."""


def ensure_customer(user_id: str) -> str:
    """The user's Stripe customer id, created on first need."""
    record = customer_store.get(user_id)
    if record is not None and record.stripe_customer_id:
        return str(record.stripe_customer_id)
    record, _ = CustomerAtStripe(user_id).run()
    return str(record.stripe_customer_id)

"""The sellers repository: a user's seller record (keyed by the user), found from a seller id or from the Stripe
account by keys-only indexes."""

from __future__ import annotations

from payments.data import store
from payments.data.models import SellerRecord


def get(user_id: str) -> SellerRecord | None:
    return store.get(SellerRecord, user_id)


def find_by_seller_id(seller_id: str) -> SellerRecord | None:
    """The seller an order names (the index gives its user; the record is then read consistently)."""
    hit = store.first_in_index(SellerRecord.by_seller_id, seller_id)
    return get(hit.user_id) if hit is not None else None


def user_of_account(account_id: str | None) -> str | None:
    """The user whose seller holds this Stripe account (the index is keys only: the key is the user)."""
    hit = store.first_in_index(SellerRecord.by_stripe_account, account_id)
    return hit.user_id if hit is not None else None


def save(record: SellerRecord) -> None:
    """Write the record; a new one only if the user has none, else conditioned on the version read."""
    store.put(record)

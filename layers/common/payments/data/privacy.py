"""The privacy repository: everything stored about one user, found through indexes (never a table-wide read),
and the writes that move it to a pseudonym.

Found by the user id: orders (``OrdersTable.byUser``, with the payments, refunds and subscription each lists),
recurring payments (``RecurringPaymentsTable.byUser``: also those no order points at any more), usage reports
(``UsageTable.byUser``), the seller, the Stripe customer and the entitlements (tables keyed by the user).

Each move is one ``UpdateItem`` conditioned on the record still holding the old user id, so a repeat (after a
crash, or a second request) skips what moved already, and a webhook changing the record meanwhile changes it under
either id; records keyed by the user (the seller, the customer) are deleted and written again under the pseudonym
in one transaction. The entitlements are deleted: they are what the deleted Stripe customer may use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payments.core.clock import now_iso
from payments.core.errors import WriteConflict
from payments.data import store
from payments.data.models import (
    CustomerRecord,
    EntitlementsRecord,
    OrderRecord,
    PaymentRecord,
    RecurringPaymentRecord,
    RefundRecord,
    SellerRecord,
    UsageRecord,
)

PSEUDONYM_PREFIX = "erased_"  # every erased user's id starts so (payments.privacy.api.pseudonym_for)


@dataclass
class UserRecords:
    orders: list[OrderRecord] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    refunds: list[RefundRecord] = field(default_factory=list)
    recurring: list[RecurringPaymentRecord] = field(default_factory=list)
    usage: list[UsageRecord] = field(default_factory=list)
    seller: SellerRecord | None = None
    customer: CustomerRecord | None = None
    entitlements: EntitlementsRecord | None = None

    def __bool__(self) -> bool:
        return bool(self.orders or self.recurring or self.usage or self.seller or self.customer or self.entitlements)


def records_of(user_id: str) -> UserRecords:
    """Everything stored under ``user_id``."""
    found = UserRecords(orders=list(store.query_all(OrderRecord.by_user, user_id)))
    keys: list[store.Key] = []
    for order in found.orders:
        keys += [(PaymentRecord, p) for p in order.payment_ids or []]
        keys += [(RefundRecord, r) for r in order.refund_ids or []]
    keys += [(RecurringPaymentRecord, hit.recurring_payment_id)
             for hit in store.query_all(RecurringPaymentRecord.by_user, user_id)]
    keys += [(UsageRecord, hit.usage_id) for hit in store.query_all(UsageRecord.by_user, user_id)]
    children = store.batch_read(keys) if keys else {}
    ordered = [record for _, record in sorted(children.items(), key=lambda item: item[0][1])]
    found.payments = [r for r in ordered if isinstance(r, PaymentRecord)]
    found.refunds = [r for r in ordered if isinstance(r, RefundRecord)]
    found.recurring = [r for r in ordered if isinstance(r, RecurringPaymentRecord)]
    found.usage = [r for r in ordered if isinstance(r, UsageRecord)]
    found.seller = store.get(SellerRecord, user_id)
    found.customer = store.get(CustomerRecord, user_id)
    found.entitlements = store.get(EntitlementsRecord, user_id)
    return found


# --- moving a user's records to a pseudonym ----------------------------------------------------------------


def pseudonymize_order(order: OrderRecord, old: str, new: str) -> bool:
    """The order under ``new``, without its description; False when it no longer holds ``old`` (moved already)."""
    return _moved(OrderRecord(order.order_id), [OrderRecord.user_id.set(new), OrderRecord.description.set(""),
                                                OrderRecord.updated_at.set(now_iso())], OrderRecord.user_id == old)


def pseudonymize_payment(payment: PaymentRecord, old: str, new: str) -> bool:
    """The payment under ``new``, without the URLs the customer was sent back to."""
    return _moved(PaymentRecord(payment.payment_id),
                  [PaymentRecord.user_id.set(new), PaymentRecord.success_url.remove(),
                   PaymentRecord.cancel_url.remove(), PaymentRecord.updated_at.set(now_iso())],
                  PaymentRecord.user_id == old)


def pseudonymize_recurring(record: RecurringPaymentRecord, old: str, new: str) -> bool:
    return _moved(RecurringPaymentRecord(record.recurring_payment_id),
                  [RecurringPaymentRecord.user_id.set(new), RecurringPaymentRecord.updated_at.set(now_iso())],
                  RecurringPaymentRecord.user_id == old)


def pseudonymize_usage(record: UsageRecord, old: str, new: str) -> bool:
    return _moved(UsageRecord(record.usage_id), [UsageRecord.user_id.set(new),
                                                 UsageRecord.updated_at.set(now_iso())], UsageRecord.user_id == old)


def _moved(record: Any, actions: list[Any], still_old: Any) -> bool:
    """One UpdateItem, only while the record still holds the old user id (a lost condition: moved already)."""
    try:
        store.update(record, actions, condition=still_old)
    except WriteConflict:
        return False
    return True


def move_seller(old: str, new: str) -> None:
    """The seller record under ``new`` (deleted and written again in one transaction: the table is keyed by the
    user). Raises ``WriteConflict`` when it changed meanwhile (read again, move again)."""
    seller = store.get(SellerRecord, old)
    if seller is None:
        return
    moved = SellerRecord(new, **{name: getattr(seller, name) for name in _copied(SellerRecord)})
    moved.updated_at = now_iso()
    store.Transaction().delete(seller).save(moved).commit()


def move_customer(old: str, new: str) -> None:
    """The customer row under ``new``: it keeps the (deleted) Stripe customer's id, for the accounts."""
    customer = store.get(CustomerRecord, old)
    if customer is None:
        return
    moved = CustomerRecord(new, stripe_customer_id=customer.stripe_customer_id, created_at=customer.created_at)
    store.Transaction().delete(customer, CustomerRecord.user_id.exists()).create(moved).commit()


def delete_entitlements(entitlements: EntitlementsRecord) -> None:
    """The user's entitlements gone (at the version read: a summary landing meanwhile makes this a WriteConflict,
    read again and delete again)."""
    store.delete(entitlements)


def _copied(model: type[Any]) -> list[str]:
    """The attributes of ``model`` other than its hash key and version."""
    attributes = model.get_attributes()
    key = model._hash_key_attribute().attr_name
    return [name for name, attribute in attributes.items()
            if attribute.attr_name != key and name != model._version_attribute_name]

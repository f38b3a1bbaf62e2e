"""The orders repository: an order and the ids of everything under it, and a user's orders, newest first."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from typing import Any

from payments.core.clock import now_iso
from payments.core.errors import InvalidField
from payments.core.validation import is_clean_text
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord, RecurringPaymentRecord, RefundRecord


def get(order_id: str) -> OrderRecord | None:
    return store.get(OrderRecord, order_id)


def create(order: OrderRecord) -> None:
    store.put(order)


def new(*, order_id: str, user_id: str, kind: str, amount: int, currency: str, description: str,
        **fields: Any) -> OrderRecord:
    now = now_iso()
    return OrderRecord(order_id, user_id=user_id, kind=kind, amount=amount, currency=currency,
                       description=description, status="pending", created_at=now, updated_at=now,
                       created_sort=f"{now}#{order_id}", **fields)


def release_open_payment(tx: store.Transaction, order_id: str, payment_id: str) -> None:
    """The order no longer points at ``payment_id`` as its open payment (only if it still does)."""
    tx.update(OrderRecord(order_id), [OrderRecord.open_payment_id.remove(), OrderRecord.updated_at.set(now_iso())],
              condition=OrderRecord.open_payment_id == payment_id)


def add_refund(tx: store.Transaction, order_id: str, refund_id: str) -> None:
    tx.update(OrderRecord(order_id), [OrderRecord.refund_ids.set((OrderRecord.refund_ids | []).append([refund_id])),
                                      OrderRecord.updated_at.set(now_iso())],
              condition=OrderRecord.order_id.exists())


def release_recurring_payment(tx: store.Transaction, order_id: str, recurring_payment_id: str) -> None:
    tx.update(OrderRecord(order_id), [OrderRecord.recurring_payment_id.remove(),
                                      OrderRecord.updated_at.set(now_iso())],
              condition=OrderRecord.recurring_payment_id == recurring_payment_id)


# --- an order with everything under it ---------------------------------------------------------------------


def children(orders: Sequence[OrderRecord]) -> dict[store.Key, Any]:
    """The payments, refunds and recurring payments of ``orders``, by key, in as few BatchGetItems as they need."""
    keys: list[store.Key] = []
    for order in orders:
        keys += [(PaymentRecord, p) for p in order.payment_ids or []]
        keys += [(RefundRecord, r) for r in order.refund_ids or []]
        if order.recurring_payment_id:
            keys.append((RecurringPaymentRecord, order.recurring_payment_id))
    return store.batch_read(keys) if keys else {}


def pick(found: dict[store.Key, Any], model: type[Any], ids: Iterable[str]) -> list[Any]:
    return [found[(model, i)] for i in ids if (model, i) in found]


# --- a user's orders, a page at a time --------------------------------------------------------------------------


def page_for_user(user_id: str, *, limit: int, cursor: str | None) -> tuple[list[OrderRecord], str | None]:
    """Up to ``limit`` of the user's orders, newest first (ties by orderId, descending), and the next cursor."""
    start = _decode_cursor(user_id, cursor) if cursor else None
    orders = store.query_page(OrderRecord.by_user, user_id, limit=limit + 1, newest_first=True, start=start)
    page, more = orders[:limit], len(orders) > limit
    return page, (_encode_cursor(page[-1]) if more else None)


def _encode_cursor(order: OrderRecord) -> str:
    key = {"userId": order.user_id, "createdSort": order.created_sort, "orderId": order.order_id}
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(user_id: str, cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidField("cursor", "is not a cursor this API gave out") from None
    if (not isinstance(key, dict) or set(key) != {"userId", "createdSort", "orderId"}
            or not all(isinstance(v, str) and is_clean_text(v) for v in key.values()) or key["userId"] != user_id):
        raise InvalidField("cursor", "is not a cursor this API gave out")
    return {name: {"S": value} for name, value in key.items()}

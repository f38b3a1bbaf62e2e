"""Given-state builders: records as the product itself writes them, for tests that start mid-flow."""

from __future__ import annotations

from typing import Any

from payments import store
from payments.clock import now_iso
from payments.ids import new_id
from payments.models import OrderRecord, PaymentRecord, ProcessedEventRecord


def given_order_with_payment(*, amount: int = 1999, currency: str = "usd", user_id: str = "user-alice",
                             payment_status: str = "pending", mode: str = "payment_intent",
                             intent_id: str | None = None, order_id: str | None = None,
                             payment_id: str | None = None) -> tuple[OrderRecord, PaymentRecord]:
    """A pending one_time order whose open payment is ``payment_status`` (as after a checkout)."""
    now = now_iso()
    order_id, payment_id = order_id or new_id("ord"), payment_id or new_id("pay")
    payment = PaymentRecord(payment_id, order_id=order_id, user_id=user_id, amount=amount, currency=currency,
                            mode=mode, status=payment_status, stripe_payment_intent_id=intent_id,
                            created_at=now, updated_at=now)
    order = OrderRecord(order_id, user_id=user_id, kind="one_time", amount=amount, currency=currency,
                        description="Test order", status="pending", open_payment_id=payment_id,
                        payment_ids=[payment_id], created_at=now, updated_at=now, created_sort=f"{now}#{order_id}")
    store.Transaction().save(payment).save(order).commit()
    return order, payment


def reload(record: Any) -> Any:
    model = type(record)
    return store.get(model, record._get_hash_range_key_serialized_values()[0])


def ledger_entries() -> list[ProcessedEventRecord]:
    store.connection()
    return list(ProcessedEventRecord.scan())  # test-only inspection of the whole ledger


def metadata(order: OrderRecord, payment: PaymentRecord) -> dict[str, str]:
    return {"orderId": order.order_id, "paymentId": payment.payment_id, "userId": order.user_id}

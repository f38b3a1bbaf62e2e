"""Given-state builders: records as the product itself writes them, for tests that start mid-flow."""

from __future__ import annotations

from typing import Any

from payments.core.clock import now_iso
from payments.core.ids import new_id
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord, ProcessedEventRecord

INTENT_ID = "pi_3QTEST000000000000000001"
SESSION_ID = "cs_test_a1"
UNSET: Any = object()


def given_order_with_payment(*, amount: int = 1999, currency: str = "usd", user_id: str = "user-alice",
                             payment_status: str = "pending", mode: str = "payment_intent",
                             intent_id: str | None = UNSET, session_id: str | None = UNSET,
                             order_id: str | None = None,
                             payment_id: str | None = None) -> tuple[OrderRecord, PaymentRecord]:
    """A pending one_time order whose open payment is ``payment_status`` (as after a checkout), linked to its
    Stripe object as checkout leaves it: a PaymentIntent (``INTENT_ID``), or in checkout_session mode a Session
    (``SESSION_ID``) whose PaymentIntent is not known yet."""
    now = now_iso()
    order_id, payment_id = order_id or new_id("ord"), payment_id or new_id("pay")
    web = mode == "checkout_session"
    intent_id = (None if web else INTENT_ID) if intent_id is UNSET else intent_id
    session_id = (SESSION_ID if web else None) if session_id is UNSET else session_id
    payment = PaymentRecord(payment_id, order_id=order_id, user_id=user_id, amount=amount, currency=currency,
                            mode=mode, status=payment_status, stripe_payment_intent_id=intent_id,
                            stripe_checkout_session_id=session_id, created_at=now, updated_at=now)
    order = OrderRecord(order_id, user_id=user_id, kind="one_time", amount=amount, currency=currency,
                        description="Test order", status="pending", open_payment_id=payment_id,
                        payment_ids=[payment_id], created_at=now, updated_at=now, created_sort=f"{now}#{order_id}")
    store.Transaction().save(payment).save(order).commit()
    return order, payment


def reload(record: Any) -> Any:
    model = type(record)
    return store.get(model, record._get_hash_range_key_serialized_values()[0])


def ledger_entries() -> list[ProcessedEventRecord]:
    store.bind()
    return list(ProcessedEventRecord.scan())  # test-only inspection of the whole ledger


def metadata(order: OrderRecord, payment: PaymentRecord) -> dict[str, str]:
    return {"orderId": order.order_id, "paymentId": payment.payment_id, "userId": order.user_id}


def given_second_tab(client: Any, order_id: str, payment_id: str, *, user_id: str = "user-alice",
                     amount: int = 1999) -> str:
    """Another tab's payment of an order (pending, its own PaymentIntent at the emulator with a card, not yet
    confirmed), listed on the order; the PaymentIntent's id."""
    now = now_iso()
    tab = client.v1.payment_intents.create({"amount": amount, "currency": "usd", "payment_method": "pm_card_visa",
                                            "metadata": {"orderId": order_id, "paymentId": payment_id}})
    second = PaymentRecord(payment_id, order_id=order_id, user_id=user_id, amount=amount, currency="usd",
                           mode="payment_intent", status="pending", stripe_payment_intent_id=tab.id,
                           created_at=now, updated_at=now)
    order = store.get(OrderRecord, order_id)
    order.payment_ids = [*order.payment_ids, payment_id]
    store.Transaction().save(second).save(order).commit()
    return str(tab.id)

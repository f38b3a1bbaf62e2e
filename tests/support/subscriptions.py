"""Given-state and Stripe payloads for subscription tests, in the pinned API version's shapes."""

from __future__ import annotations

import time
from typing import Any

from devstack.stripe_events import stripe_event, stripe_object
from payments.core.clock import now_iso
from payments.core.ids import new_id
from payments.data import store
from payments.data.models import OrderRecord, RecurringPaymentRecord

PRICE = "price_monthly_pro"


def given_started_subscription(*, user: str = "user-alice", amount: int = 999, currency: str = "usd",
                               status: str = "incomplete") -> tuple[OrderRecord, RecurringPaymentRecord]:
    """A subscription order and its recurring payment, as POST /subscriptions leaves them."""
    now = now_iso()
    order_id, rid = new_id("ord"), new_id("sub_rec")
    order = OrderRecord(order_id, user_id=user, kind="subscription", amount=amount, currency=currency,
                        description="Pro plan", status="pending", price_id=PRICE, recurring_payment_id=rid,
                        created_at=now, updated_at=now, created_sort=f"{now}#{order_id}")
    record = RecurringPaymentRecord(rid, order_id=order_id, user_id=user, price_id=PRICE, status=status,
                                    stripe_subscription_id="sub_" + rid[-16:], stripe_customer_id="cus_test",
                                    created_at=now, updated_at=now)
    store.Transaction().save(order).save(record).commit()
    return order, record


def metadata(order: OrderRecord, record: RecurringPaymentRecord) -> dict[str, str]:
    return {"orderId": order.order_id, "recurringPaymentId": record.recurring_payment_id, "userId": order.user_id}


def subscription_event(event_type: str, order: OrderRecord, record: RecurringPaymentRecord, *, status: str,
                       created: int, cancel_at_period_end: bool = False, period_end: int | None = None,
                       with_metadata: bool = True) -> dict[str, Any]:
    period_end = period_end or created + 30 * 86400
    item = {"id": "si_1", "object": "subscription_item", "current_period_start": period_end - 30 * 86400,
            "current_period_end": period_end, "price": {"id": PRICE, "object": "price"}, "quantity": 1}
    subscription = stripe_object(
        "subscription", id=record.stripe_subscription_id, status=status, customer="cus_test",
        cancel_at_period_end=cancel_at_period_end, items={"object": "list", "data": [item]},
        metadata=metadata(order, record) if with_metadata else {})
    return stripe_event(event_type, subscription, created=created)


def invoice_event(event_type: str, order: OrderRecord, record: RecurringPaymentRecord, *, reason: str,
                  invoice_id: str | None = None, amount: int | None = None, created: int | None = None,
                  with_metadata: bool = True) -> dict[str, Any]:
    amount = order.amount if amount is None else amount
    paid = event_type == "invoice.paid"
    invoice = stripe_object(
        "invoice", id=invoice_id or "in_" + new_id("x")[-20:], billing_reason=reason, currency=order.currency,
        amount_due=amount, amount_paid=amount if paid else 0, status="paid" if paid else "open",
        customer="cus_test",
        parent={"type": "subscription_details", "quote_details": None,
                "subscription_details": {"subscription": record.stripe_subscription_id,
                                         "metadata": metadata(order, record) if with_metadata else {}}})
    return stripe_event(event_type, invoice, created=created or int(time.time()))

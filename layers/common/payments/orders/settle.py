"""How a payment that succeeded settles its order, written once for every way money arrives (a PaymentIntent,
a Checkout Session, a subscription invoice).

- The order was pending: it is ``paid`` by that payment, or ``amount_mismatch`` when the money differs from
  what the order expects (the payment itself stays ``succeeded``: the money did arrive). Logged and counted.
- The order was already paid (or flagged) by another payment: this is a second payment for one order. It is
  recorded, counted (``DuplicatePayment``) and refunded automatically by the caller.

What the order "expects" is decided by whoever priced it, before the money arrived:

- a one-time order: its amount, less the discount of the promotion code the payment was made with (the server
  computed it when the payment was created, ``payments.billing.promotions``);
- a subscription's order, paid by its first invoice: ``firstInvoiceAmount`` on the subscription's record (the
  price less the discount; 0 with a trial);
- a renewal or adjustment order: nobody priced it before Stripe (proration, discounts and credit balances are
  Stripe's computation), so the order takes the invoice's ``amount_due`` when it is made, and expects it in full,
  in the subscription's currency.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.core.clock import now_iso
from payments.core.lifecycle import order_may_move
from payments.core.observability import logger
from payments.data.models import OrderRecord


@dataclass(frozen=True)
class Settlement:
    changed: bool  # the order changed and must be written
    metrics: tuple[str, ...] = ()
    duplicate: bool = False  # the order was paid by another payment: refund this one


def settle_order(order: OrderRecord, payment_id: str, *, paid_amount: int | None, paid_currency: str | None,
                 expected_amount: int, expected_currency: str) -> Settlement:
    if order.paid_by_payment_id == payment_id:
        return Settlement(changed=False)
    if order.status != "pending":
        logger.error("a second payment succeeded for an order already paid: refunding it",
                     extra={"order_id": order.order_id, "payment_id": payment_id, "order_status": order.status})
        return Settlement(changed=False, metrics=("DuplicatePayment",), duplicate=True)
    matches = paid_amount == expected_amount and (paid_currency or "").lower() == expected_currency
    target = "paid" if matches else "amount_mismatch"
    if not order_may_move(order.status, target):
        return Settlement(changed=False)
    order.status, order.paid_by_payment_id, order.updated_at = target, payment_id, now_iso()
    if matches:
        return Settlement(changed=True, metrics=("OrderPaid",))
    logger.error("payment amount differs from its order",
                 extra={"order_id": order.order_id, "payment_id": payment_id, "order_amount": expected_amount,
                        "order_currency": expected_currency, "paid_amount": paid_amount,
                        "paid_currency": paid_currency})
    return Settlement(changed=True, metrics=("AmountMismatch",))

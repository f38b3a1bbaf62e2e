"""The API's JSON shapes, built from records (the same shape for every read of an order, and in every domain
event), and ``order_views``: orders with everything under them, read in as few BatchGetItems as they need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from payments.data import orders as order_store
from payments.data.models import OrderItem, OrderRecord, PaymentRecord, RecurringPaymentRecord, RefundRecord


def payment_view(payment: PaymentRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "paymentId": payment.payment_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": payment.status,
        "amountRefunded": payment.amount_refunded or 0,
        "stripePaymentIntentId": payment.stripe_payment_intent_id,
        "createdAt": payment.created_at,
    }
    if payment.stripe_checkout_session_id:
        view["stripeCheckoutSessionId"] = payment.stripe_checkout_session_id
    if payment.failure_code:
        view["failureCode"] = payment.failure_code
        view["failureMessage"] = payment.failure_message
    if payment.discount is not None:
        view["discount"] = {"promotionCode": payment.discount.promotion_code, "amount": int(payment.discount.amount)}
    if payment.payment_method_id:
        view["paymentMethodId"] = payment.payment_method_id
    if payment.destination_account_id:  # a destination charge: the platform's fee and the seller's share
        view["destinationAccountId"] = payment.destination_account_id
        view["applicationFeeAmount"] = payment.application_fee_amount
        view["transferAmount"] = payment.transfer_amount
        view["stripeTransferId"] = payment.stripe_transfer_id
    return view


def refund_view(refund: RefundRecord) -> dict[str, Any]:
    view = {
        "refundId": refund.refund_id,
        "paymentId": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "status": refund.status,
        "stripeRefundId": refund.stripe_refund_id,
        "createdAt": refund.created_at,
    }
    if refund.failure_reason:
        view["failureReason"] = refund.failure_reason
    if refund.reverse_transfer:  # of a destination charge: the seller's share and the fee go back in proportion
        view["reverseTransfer"] = True
        view["stripeTransferReversalId"] = refund.stripe_transfer_reversal_id
    return view


def subscription_view(recurring: RecurringPaymentRecord) -> dict[str, Any]:
    view = {
        "recurringPaymentId": recurring.recurring_payment_id,
        "stripeSubscriptionId": recurring.stripe_subscription_id,
        "priceId": recurring.price_id,
        "status": recurring.status,
        "cancelAtPeriodEnd": bool(recurring.cancel_at_period_end),
        "currentPeriodEnd": recurring.current_period_end,
    }
    if recurring.trial_end:
        view["trialEnd"] = recurring.trial_end
    return view


def item_view(item: OrderItem) -> dict[str, Any]:
    """An order's line; a recurring price's also says what period its amount buys (``interval``, ``intervalCount``)."""
    view: dict[str, Any] = {"priceId": item.price_id, "quantity": item.quantity, "unitAmount": item.unit_amount}
    if item.interval:
        view["interval"], view["intervalCount"] = item.interval, int(item.interval_count or 1)
    return view


def order_view(order: OrderRecord, payments: Iterable[PaymentRecord] = (), refunds: Iterable[RefundRecord] = (),
               recurring: RecurringPaymentRecord | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "orderId": order.order_id,
        "userId": order.user_id,
        "kind": order.kind,
        "amount": order.amount,
        "currency": order.currency,
        "description": order.description or "",
        "status": order.status,
        "parentOrderId": order.parent_order_id,
        "createdAt": order.created_at,
        "updatedAt": order.updated_at,
        "payments": [payment_view(p) for p in sorted(payments, key=lambda p: p.created_at)],
        "refunds": [refund_view(r) for r in sorted(refunds, key=lambda r: r.created_at)],
        "subscription": subscription_view(recurring) if recurring is not None else None,
    }
    if order.items:
        view["items"] = [item_view(i) for i in order.items]
    if order.stripe_invoice_id:
        view["stripeInvoiceId"] = order.stripe_invoice_id
    if order.lines is not None:  # the lines of the invoice the order was paid by
        view["lines"] = [{"description": line.description, "amount": int(line.amount),
                          "proration": bool(line.proration), "priceId": line.price_id} for line in order.lines]
    if order.seller_id:
        view["sellerId"] = order.seller_id
        view["applicationFeeAmount"] = order.application_fee_amount
    return view


def order_views(orders: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    """Each order's JSON with its payments, refunds and subscription: one BatchGetItem per 100 records under them."""
    found = order_store.children(orders)
    return [
        order_view(order, order_store.pick(found, PaymentRecord, order.payment_ids or []),
                   order_store.pick(found, RefundRecord, order.refund_ids or []),
                   found.get((RecurringPaymentRecord, order.recurring_payment_id or "")))
        for order in orders
    ]

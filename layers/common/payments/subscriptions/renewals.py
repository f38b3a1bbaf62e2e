"""What subscription invoices do: every paid subscription invoice is exactly one order of ours. The first pays the
subscription's order; each later one is a new order of its own.

- ``invoice.paid`` / ``invoice.payment_failed`` with ``billing_reason: subscription_create``: the subscription
  order's payment (``pay_<invoice id>``) succeeds or fails; a paid first invoice settles the order
  (``payments.orders.settle``: ``paid``, or ``amount_mismatch`` when it differs from what the first invoice should
  bill: the order's amount less the promotion code's discount, or 0 for a trial: ``firstInvoiceAmount`` on the
  record, decided when the subscription was started).
- ``billing_reason: subscription_cycle`` (a renewal, and the first charge after a trial): the ``renewal`` order
  ``ord_<invoice id>``; ``subscription_update`` (a plan change invoiced at once, ``always_invoice``): the
  ``adjustment`` order ``ord_<invoice id>``. Both have ``parentOrderId`` set and are visible in ``GET /orders``,
  with the payment ``pay_<invoice id>``. Their ids come from the invoice, so however often and however
  concurrently Stripe reports the invoice, there is one order. A failed charge leaves it ``pending`` with a failed
  payment; Stripe's successful retry pays it.
- **Expected amount** of a renewal or adjustment order: nobody priced it before Stripe did (the proration, the
  discounts, the credit balance are Stripe's computation), so the order takes the invoice's ``amount_due`` when it
  is made, and the invoice is expected to be paid in full in the subscription's currency (a partial payment or
  another currency leaves it ``amount_mismatch``).
- Every order made from an invoice carries the invoice's lines (``lines``: description, amount, proration, price)
  and the invoice id; a discount on the invoice is recorded on its payment (``discount``: the promotion code the
  subscription was started with, and the amount the invoice took off).

The invoice's subscription is read from where the pinned API version puts it (``parent.subscription_details``),
falling back to the older field; its metadata is a hint for our records, and without it the subscription is
looked up by its Stripe id. Links, not labels: the invoice changes our records only when its subscription is
the one our record holds (or, before that record is linked, belongs to the record's own Stripe customer).
The subscription's own status (``past_due``, ``active``) follows the subscription events.
"""

from __future__ import annotations

from payments.core.clock import now_iso
from payments.core.lifecycle import payment_may_move
from payments.core.observability import logger
from payments.data import orders as order_store
from payments.data import store
from payments.data import subscriptions as recurring_store
from payments.data.models import Discount, InvoiceLine, OrderRecord, PaymentRecord, RecurringPaymentRecord
from payments.orders.settle import settle_order
from payments.stripe.objects import StripeInvoice
from payments.subscriptions.events import link_subscription
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, EventRule, NotOurs, Records, hinted_ids, newest

FIRST, CYCLE, UPDATE = "subscription_create", "subscription_cycle", "subscription_update"
ORDER_KINDS = {CYCLE: "renewal", UPDATE: "adjustment"}  # the order each later invoice makes


def payment_id_for(invoice: StripeInvoice) -> str:
    return f"pay_{invoice.id}"


def invoice_order_id_for(invoice: StripeInvoice) -> str:
    return f"ord_{invoice.id}"


class RenewalEventRule(EventRule[StripeInvoice]):
    def read(self, event: StripeEvent) -> StripeInvoice:
        return StripeInvoice.parse(event.object)

    def locate(self, event: StripeEvent, subject: StripeInvoice) -> dict[str, store.Key] | None:
        if subject.billing_reason not in (FIRST, *ORDER_KINDS) or not subject.subscription_id:
            logger.info("an invoice that is not a subscription's first, cycle or update invoice",
                        extra={"invoice": subject.id, "billing_reason": subject.billing_reason})
            return None
        ids = hinted_ids(subject.subscription_metadata, recurring=("recurringPaymentId", "sub_rec_"),
                         order=("orderId", "ord_"))
        if ids is None:
            found = recurring_store.find_by_subscription(subject.subscription_id)
            if found is None:
                return None
            ids = {"recurring": found.recurring_payment_id, "order": found.order_id}
        keys: dict[str, store.Key] = {"recurring": (RecurringPaymentRecord, ids["recurring"]),
                                      "parent": (OrderRecord, ids["order"]),
                                      "payment": (PaymentRecord, payment_id_for(subject))}
        if subject.billing_reason in ORDER_KINDS:
            keys["invoice_order"] = (OrderRecord, invoice_order_id_for(subject))
        return keys

    def decide(self, event: StripeEvent, subject: StripeInvoice, records: Records) -> Decision | None:
        recurring = records.require("recurring", RecurringPaymentRecord)
        parent = records.require("parent", OrderRecord)
        if parent.order_id != recurring.order_id:
            raise NotOurs("the order is not the subscription's")
        link_subscription(recurring, subject.subscription_id, subject.customer_id)
        paid = event.type == "invoice.paid"
        amount = subject.amount_paid if paid else subject.amount_due
        currency = subject.currency or parent.currency
        now, decision = now_iso(), Decision()
        if subject.billing_reason == FIRST:
            order = parent
            expected = int(parent.amount if recurring.first_invoice_amount is None else recurring.first_invoice_amount)
        else:
            order = records.get("invoice_order", OrderRecord) or _new_invoice_order(subject, recurring, parent,
                                                                                    currency)
            expected = int(order.amount)
        if order.lines is None and subject.lines is not None:
            order.lines = [InvoiceLine(description=line.description, amount=line.amount, proration=line.proration,
                                       price_id=line.price_id) for line in subject.lines]
            order.stripe_invoice_id = order.stripe_invoice_id or subject.id
        status = "succeeded" if paid else "failed"
        payment = records.get("payment", PaymentRecord)
        if payment is None:
            payment = PaymentRecord(payment_id_for(subject), order_id=order.order_id, user_id=order.user_id,
                                    amount=amount, currency=currency, mode="invoice", status="pending",
                                    created_at=now, updated_at=now)
            order.payment_ids = [*(order.payment_ids or []), payment.payment_id]
        elif payment.order_id != order.order_id:
            raise NotOurs("the invoice's payment belongs to another order")
        elif not payment_may_move(payment.status, status):
            return None  # already paid, or a failure reported after the success: nothing moves back
        payment.status, payment.updated_at = status, now
        payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or subject.payment_intent_id
        payment.last_event_created = newest(payment.last_event_created, event)
        if subject.discount_amount and recurring.discount is not None and payment.discount is None:
            payment.discount = Discount(promotion_code=recurring.discount.promotion_code,
                                        promotion_code_id=recurring.discount.promotion_code_id,
                                        amount=subject.discount_amount)
        if paid:
            payment.amount_received, payment.currency_received = amount, currency
            payment.failure_code = payment.failure_message = None
            settlement = settle_order(order, payment.payment_id, paid_amount=amount, paid_currency=currency,
                                      expected_amount=expected, expected_currency=parent.currency)
            for metric in settlement.metrics:
                decision.count(metric)
            if settlement.changed:
                decision.count({"renewal": "RenewalPaid", "adjustment": "AdjustmentPaid"}.get(order.kind,
                                                                                            "SubscriptionPaid"))
        else:
            payment.failure_code, payment.failure_message = "invoice_payment_failed", "the invoice's charge failed"
            decision.count("RenewalPaymentFailed")
        order.updated_at = now
        return decision.save(payment).save(order)


def _new_invoice_order(invoice: StripeInvoice, recurring: RecurringPaymentRecord, parent: OrderRecord,
                       currency: str) -> OrderRecord:
    """The order a renewal or plan-change invoice makes: its amount is what Stripe billed (``amount_due``)."""
    kind = ORDER_KINDS[invoice.billing_reason or CYCLE]
    label = {"renewal": "Renewal", "adjustment": "Plan change"}[kind]
    description = f"{label}: {parent.description}".strip() if parent.description else label
    return order_store.new(order_id=invoice_order_id_for(invoice), user_id=parent.user_id, kind=kind,
                           amount=invoice.amount_due, currency=currency, description=description,
                           parent_order_id=parent.order_id, price_id=recurring.price_id,
                           recurring_payment_id=recurring.recurring_payment_id, stripe_invoice_id=invoice.id)


RENEWAL_RULES: dict[str, EventRule[StripeInvoice]] = {
    t: RenewalEventRule() for t in ("invoice.paid", "invoice.payment_failed")}

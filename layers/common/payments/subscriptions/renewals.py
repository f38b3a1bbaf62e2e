"""What subscription invoices do: the first one pays the subscription's order; each later one is a new
``renewal`` order of its own.

- ``invoice.paid`` / ``invoice.payment_failed`` with ``billing_reason: subscription_create``: the subscription
  order's payment (``pay_<invoice id>``) succeeds or fails; a paid first invoice settles the order
  (``payments.orders.settle``: ``paid``, or ``amount_mismatch`` when it differs from the order).
- ``billing_reason: subscription_cycle``: the renewal order ``ord_<invoice id>`` (``parentOrderId`` set, visible
  in ``GET /orders``) with its payment ``pay_<invoice id>``. Its ids come from the invoice, so however often and
  however concurrently Stripe reports the invoice, there is one renewal order. A failed charge leaves it
  ``pending`` with a failed payment; Stripe's successful retry pays it.

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
from payments.data.models import OrderRecord, PaymentRecord, RecurringPaymentRecord
from payments.orders.settle import settle_order
from payments.stripe.objects import StripeInvoice
from payments.subscriptions.events import link_subscription
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, EventRule, NotOurs, Records, hinted_ids, newest

FIRST, CYCLE = "subscription_create", "subscription_cycle"


def payment_id_for(invoice: StripeInvoice) -> str:
    return f"pay_{invoice.id}"


def renewal_order_id_for(invoice: StripeInvoice) -> str:
    return f"ord_{invoice.id}"


class RenewalEventRule(EventRule[StripeInvoice]):
    def read(self, event: StripeEvent) -> StripeInvoice:
        return StripeInvoice.parse(event.object)

    def locate(self, event: StripeEvent, subject: StripeInvoice) -> dict[str, store.Key] | None:
        if subject.billing_reason not in (FIRST, CYCLE) or not subject.subscription_id:
            logger.info("an invoice that is not a subscription's first or cycle invoice",
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
        if subject.billing_reason == CYCLE:
            keys["renewal"] = (OrderRecord, renewal_order_id_for(subject))
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
        else:
            order = records.get("renewal", OrderRecord) or _new_renewal(subject, recurring, parent, amount, currency)
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
        if paid:
            payment.amount_received, payment.currency_received = amount, currency
            payment.failure_code = payment.failure_message = None
            settlement = settle_order(order, payment.payment_id, paid_amount=amount, paid_currency=currency,
                                      expected_amount=int(parent.amount), expected_currency=parent.currency)
            for metric in settlement.metrics:
                decision.count(metric)
            if settlement.changed:
                decision.count("RenewalPaid" if order.kind == "renewal" else "SubscriptionPaid")
        else:
            payment.failure_code, payment.failure_message = "invoice_payment_failed", "the renewal charge failed"
            decision.count("RenewalPaymentFailed")
        order.updated_at = now
        return decision.save(payment).save(order)


def _new_renewal(invoice: StripeInvoice, recurring: RecurringPaymentRecord, parent: OrderRecord, amount: int,
                 currency: str) -> OrderRecord:
    description = f"Renewal: {parent.description}".strip() if parent.description else "Renewal"
    return order_store.new(order_id=renewal_order_id_for(invoice), user_id=parent.user_id, kind="renewal",
                           amount=amount or int(parent.amount), currency=currency, description=description,
                           parent_order_id=parent.order_id, price_id=parent.price_id,
                           recurring_payment_id=recurring.recurring_payment_id, stripe_invoice_id=invoice.id)


RENEWAL_RULES: dict[str, EventRule[StripeInvoice]] = {
    t: RenewalEventRule() for t in ("invoice.paid", "invoice.payment_failed")}

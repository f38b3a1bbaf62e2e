"""What subscription invoices do: the first one pays the subscription's order; each later one is a new
``renewal`` order of its own.

- ``invoice.paid`` / ``invoice.payment_failed`` with ``billing_reason: subscription_create``: the
  subscription order's payment (``pay_<invoice id>``) succeeds or fails; a paid first invoice pays the
  order (``amount_mismatch`` if the amount or currency differs from the order).
- ``billing_reason: subscription_cycle``: the renewal order ``ord_<invoice id>`` (``parentOrderId`` set,
  visible in ``GET /orders``) with its payment ``pay_<invoice id>``. Its ids come from the invoice, so
  however often and however concurrently Stripe reports the invoice, there is one renewal order. A
  failed charge leaves it ``pending`` with a failed payment; Stripe's successful retry pays it.

The subscription is read from where the pinned API version puts it (``parent.subscription_details``),
falling back to the older ``subscription`` field; its metadata names our records, and without it the
subscription is looked up by its Stripe id. The subscription's own status (``past_due``, ``active``)
follows the subscription events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from payments import store, stripe_gateway
from payments.clock import now_iso
from payments.lifecycle import order_may_move, payment_may_move
from payments.models import OrderRecord, PaymentRecord, RecurringPaymentRecord
from payments.observability import count, logger
from payments.subscription_events import recurring_payment_for
from payments.webhooks import Decision, EventRule, StripeEvent

FIRST, CYCLE = "subscription_create", "subscription_cycle"


@dataclass(frozen=True)
class InvoiceReport:
    event: StripeEvent
    invoice_id: str
    billing_reason: str
    paid: bool
    amount: int
    currency: str
    payment_intent_id: str | None
    recurring_payment_id: str
    order_id: str

    @property
    def target_order_id(self) -> str:
        return self.order_id if self.billing_reason == FIRST else f"ord_{self.invoice_id}"

    @property
    def payment_id(self) -> str:
        return f"pay_{self.invoice_id}"


def _subscription_of(invoice: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    subscription = details.get("subscription") or invoice.get("subscription")
    metadata = details.get("metadata") or (invoice.get("subscription_details") or {}).get("metadata") or {}
    return stripe_gateway.object_id(subscription), metadata if isinstance(metadata, dict) else {}


def _payment_intent_of(invoice: dict[str, Any]) -> str | None:
    for entry in ((invoice.get("payments") or {}).get("data") or []):
        intent = stripe_gateway.object_id(((entry or {}).get("payment") or {}).get("payment_intent"))
        if intent:
            return intent
    return stripe_gateway.object_id(invoice.get("payment_intent"))


class RenewalEventRule(EventRule):
    def prepare(self, event: StripeEvent) -> InvoiceReport | None:
        invoice = event.object
        reason = invoice.get("billing_reason")
        subscription_id, metadata = _subscription_of(invoice)
        if reason not in (FIRST, CYCLE) or not subscription_id:
            logger.info("an invoice that is not a subscription's first or cycle invoice",
                        extra={"invoice": invoice.get("id"), "billing_reason": reason})
            return None
        ours = (metadata.get("recurringPaymentId"), metadata.get("orderId"))
        if not (isinstance(ours[0], str) and ours[0].startswith("sub_rec_") and isinstance(ours[1], str)):
            found = recurring_payment_for(subscription_id)
            if found is None:
                return None
            ours = found
        paid = event.type == "invoice.paid"
        amount = invoice.get("amount_paid") if paid else invoice.get("amount_due")
        return InvoiceReport(event=event, invoice_id=str(invoice["id"]), billing_reason=reason, paid=paid,
                             amount=int(amount or 0), currency=str(invoice.get("currency") or ""),
                             payment_intent_id=_payment_intent_of(invoice), recurring_payment_id=str(ours[0]),
                             order_id=str(ours[1]))

    def keys(self, report: InvoiceReport) -> list[store.Key]:
        keys: list[store.Key] = [(RecurringPaymentRecord, report.recurring_payment_id),
                                 (OrderRecord, report.order_id), (PaymentRecord, report.payment_id)]
        if report.billing_reason == CYCLE:
            keys.append((OrderRecord, report.target_order_id))
        return keys

    def decide(self, report: InvoiceReport, records: Sequence[Any]) -> Decision | None:
        recurring, parent, payment, *renewal = records
        if recurring is None or parent is None:
            return None
        now, decision = now_iso(), Decision()
        if report.billing_reason == FIRST:
            order = parent
        else:
            order = renewal[0] or _new_renewal(report, recurring, parent, now)
        status = "succeeded" if report.paid else "failed"
        if payment is None:
            payment = PaymentRecord(report.payment_id, order_id=order.order_id, user_id=order.user_id,
                                    amount=report.amount, currency=report.currency or order.currency, mode="invoice",
                                    status="pending", created_at=now, updated_at=now)
            order.payment_ids = [*(order.payment_ids or []), payment.payment_id]
        elif not payment_may_move(payment.status, status):
            return None  # already paid, or a failure reported after the success: nothing moves back
        payment.status, payment.updated_at = status, now
        payment.stripe_payment_intent_id = payment.stripe_payment_intent_id or report.payment_intent_id
        payment.last_event_created = max(int(payment.last_event_created or 0), report.event.created)
        if report.paid:
            payment.amount_received, payment.currency_received = report.amount, report.currency
            payment.failure_code = payment.failure_message = None
            _pay(order, payment, expected=parent, decision=decision)
        else:
            payment.failure_code, payment.failure_message = "invoice_payment_failed", "the renewal charge failed"
            decision.after_commit.append(lambda: count("RenewalPaymentFailed"))
        order.updated_at = now
        decision.transaction.save(payment).save(order)
        return decision


def _new_renewal(report: InvoiceReport, recurring: RecurringPaymentRecord, parent: OrderRecord,
                 now: str) -> OrderRecord:
    order_id = report.target_order_id
    return OrderRecord(order_id, user_id=parent.user_id, kind="renewal", amount=report.amount or parent.amount,
                       currency=report.currency or parent.currency,
                       description=f"Renewal: {parent.description}".strip() if parent.description else "Renewal",
                       status="pending", parent_order_id=parent.order_id, price_id=parent.price_id,
                       recurring_payment_id=recurring.recurring_payment_id, stripe_invoice_id=report.invoice_id,
                       created_at=now, updated_at=now, created_sort=f"{now}#{order_id}")


def _pay(order: OrderRecord, payment: PaymentRecord, *, expected: OrderRecord, decision: Decision) -> None:
    """The order the invoice is for is paid, or flagged when the invoice does not match its price."""
    matches = payment.amount_received == expected.amount and payment.currency_received == expected.currency
    target = "paid" if matches else "amount_mismatch"
    if not order_may_move(order.status, target):
        return
    order.status, order.paid_by_payment_id = target, payment.payment_id
    decision.after_commit.append(lambda: count("RenewalPaid" if order.kind == "renewal" else "SubscriptionPaid"))
    if not matches:
        logger.error("invoice amount differs from the subscription's order",
                     extra={"order_id": order.order_id, "invoice_amount": payment.amount_received,
                            "order_amount": expected.amount})
        decision.after_commit.append(lambda: count("AmountMismatch"))


RENEWAL_RULES: dict[str, EventRule] = {t: RenewalEventRule() for t in ("invoice.paid", "invoice.payment_failed")}

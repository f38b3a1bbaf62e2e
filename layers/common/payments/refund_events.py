"""What refund events do: the refund record moves forward, and the payment's totals and order follow.

Reported by ``refund.created``, ``refund.updated``, ``refund.failed`` (one refund each) and
``charge.refunded`` (every refund of a charge; when the payload does not list them they are read from
Stripe). One refund is always one record, however often and by whichever event Stripe reports it:

- a refund we started carries ``refundId`` in its metadata;
- one made elsewhere (the Stripe Dashboard) becomes the record ``ref_<Stripe refund id>``, found
  through its PaymentIntent on the payments table's ``byPaymentIntent`` index.

Forward only: statuses move as ``payments.lifecycle`` allows (Stripe may fail a refund it reported
succeeded, so that move exists), and an event older than the last one applied to a refund changes nothing.

A refund holds money on its payment by its status: ``pending`` reserves it (so the API cannot refund it
again), ``succeeded`` counts it as refunded, ``failed`` / ``canceled`` hold nothing. Moving a refund
moves its amount between those totals, so nothing is counted twice. The order follows the payment
that paid it: ``partially_refunded`` while some is refunded, ``refunded`` when all of it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from payments import store, stripe_gateway
from payments.clock import now_iso
from payments.lifecycle import order_may_move, refund_may_move
from payments.models import OrderRecord, PaymentRecord, RefundRecord
from payments.observability import count, logger
from payments.refunds import captured
from payments.stripe_gateway import RefundRef
from payments.webhooks import Decision, EventRule, StripeEvent

_STATUS = {"pending": "pending", "requires_action": "pending", "succeeded": "succeeded", "failed": "failed",
           "canceled": "canceled"}


def holds(status: str | None, amount: int) -> tuple[int, int]:
    """(reserved, refunded) that a refund in ``status`` holds on its payment."""
    return {"pending": (amount, 0), "succeeded": (0, amount)}.get(status or "", (0, 0))


def record_id(refund: RefundRef) -> str:
    ours = refund.metadata.get("refundId")
    return ours if ours and ours.startswith("ref_") else f"ref_{refund.id}"


@dataclass(frozen=True)
class RefundReport:
    event: StripeEvent
    refunds: list[RefundRef]
    payment_id: str
    order_id: str


class RefundEventRule(EventRule):
    def prepare(self, event: StripeEvent) -> RefundReport | None:
        if event.type == "charge.refunded":
            listed = (event.object.get("refunds") or {}).get("data")
            if isinstance(listed, list) and not (event.object.get("refunds") or {}).get("has_more"):
                refunds = [RefundRef.from_payload(r) for r in listed if isinstance(r, dict)]
            else:
                refunds = stripe_gateway.list_charge_refunds(event.object["id"])
            intent_id = stripe_gateway.object_id(event.object.get("payment_intent"))
        else:
            refunds = [RefundRef.from_payload(event.object)]
            intent_id = refunds[0].payment_intent_id
        if not refunds:
            return None
        ours = refunds[0].metadata
        if ours.get("paymentId", "").startswith("pay_") and ours.get("orderId", "").startswith("ord_"):
            return RefundReport(event, refunds, ours["paymentId"], ours["orderId"])
        found = store.first_in_index(PaymentRecord.by_payment_intent, intent_id)
        if found is None:
            logger.info("refund of a payment we did not take", extra={"payment_intent": intent_id})
            return None
        return RefundReport(event, refunds, found.payment_id, found.order_id)

    def keys(self, report: RefundReport) -> list[store.Key]:
        return [(PaymentRecord, report.payment_id), (OrderRecord, report.order_id),
                *((RefundRecord, record_id(r)) for r in report.refunds)]

    def decide(self, report: RefundReport, records: Sequence[Any]) -> Decision | None:
        payment, order, *existing = records
        if payment is None or order is None:
            return None
        decision, now, changed = Decision(), now_iso(), False
        for reported, record in zip(report.refunds, existing, strict=True):
            new_status = _STATUS.get(reported.status or "", "pending")
            if record is None:
                record = RefundRecord(record_id(reported), payment_id=payment.payment_id, order_id=order.order_id,
                                      amount=reported.amount, currency=reported.currency or payment.currency,
                                      status=new_status, origin="stripe", reason=reported.reason,
                                      stripe_refund_id=reported.id, created_at=now, updated_at=now)
                old_status = None
                order.refund_ids = [*(order.refund_ids or []), record.refund_id]
                decision.after_commit.append(lambda: count("RefundMadeElsewhere"))
            elif report.event.created < (record.last_event_created or 0):
                continue  # older than what we applied: a late delivery never moves a refund back
            elif refund_may_move(record.status, new_status) or _stripe_revives(record, new_status):
                old_status, record.status = record.status, new_status
            elif record.stripe_refund_id is None:
                old_status = record.status  # first word from Stripe on it: just learn its id
            else:
                continue
            record.stripe_refund_id = record.stripe_refund_id or reported.id
            record.failure_reason = reported.failure_reason if new_status == "failed" else record.failure_reason
            record.updated_at = now
            record.last_event_created = max(record.last_event_created or 0, report.event.created)
            _move_totals(payment, holds(old_status, int(record.amount)), holds(record.status, int(record.amount)))
            decision.transaction.save(record)
            changed = True
            if record.status != old_status and record.status in ("succeeded", "failed"):
                decision.after_commit.append(_counter(f"Refund{record.status.capitalize()}"))
        if not changed:
            return None
        payment.updated_at = now
        decision.transaction.save(payment)
        _follow(order, payment, now)
        decision.transaction.save(order)
        return decision


def _counter(name: str) -> Callable[[], None]:
    return lambda: count(name)


def _stripe_revives(record: RefundRecord, new_status: str) -> bool:
    """We marked it failed because Stripe could not be reached; Stripe says it exists after all."""
    return record.status == "failed" and record.stripe_refund_id is None and new_status in ("pending", "succeeded")


def _move_totals(payment: PaymentRecord, before: tuple[int, int], after: tuple[int, int]) -> None:
    payment.amount_reserved = (payment.amount_reserved or 0) - before[0] + after[0]
    payment.amount_refunded = (payment.amount_refunded or 0) - before[1] + after[1]
    if payment.amount_reserved < 0 or payment.amount_refunded + payment.amount_reserved > captured(payment):
        logger.error("refund totals out of bounds: check this payment at Stripe",
                     extra={"payment_id": payment.payment_id, "reserved": payment.amount_reserved,
                            "refunded": payment.amount_refunded, "captured": captured(payment)})
        payment.amount_reserved = max(payment.amount_reserved, 0)


def _follow(order: OrderRecord, payment: PaymentRecord, now: str) -> None:
    """The order's status after a refund of ``payment`` moved (only the payment that paid it counts)."""
    order.updated_at = now
    if order.paid_by_payment_id != payment.payment_id or not payment.amount_refunded:
        return
    target = "refunded" if payment.amount_refunded >= captured(payment) else "partially_refunded"
    if order.status != target and order_may_move(order.status, target):
        order.status = target


REFUND_RULES: dict[str, EventRule] = {
    t: RefundEventRule() for t in ("refund.created", "refund.updated", "refund.failed", "charge.refunded")}

"""What refund events do: the refund record moves forward, and the payment's totals and order follow.

Reported by ``refund.created``, ``refund.updated``, ``refund.failed`` (one refund each) and ``charge.refunded``
(every refund of a charge; when the payload does not list them all they are read from Stripe). One refund is
always one record, however often and by whichever event Stripe reports it:

- a refund we started carries ``refundId`` in its metadata;
- one made elsewhere (the Stripe Dashboard) becomes the record ``ref_<Stripe refund id>``.

Metadata only finds records; the link proves them: a reported refund changes our records only when it is a refund
of the PaymentIntent our payment holds (and, for a record that already knows its Stripe refund, that very
refund). Anything else is ``ignored``.

Forward only: statuses move as ``payments.core.lifecycle`` allows (Stripe may fail a refund it reported
succeeded, so that move exists), and an event older than the last one applied to a refund changes nothing.

A refund holds money on its payment by its status: ``pending`` reserves it (so the API cannot refund it again),
``succeeded`` counts it as refunded, ``failed`` / ``canceled`` hold nothing. Moving a refund moves its amount
between those totals, so nothing is counted twice. The order follows the payment that paid it:
``partially_refunded`` while some is refunded, ``refunded`` when all of it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.core import validation
from payments.core.clock import now_iso
from payments.core.lifecycle import order_may_move, refund_may_move
from payments.core.observability import logger
from payments.data import payments as payment_store
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord, RefundRecord
from payments.refunds.api import captured
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeCharge, StripeRefund
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import (
    Decision,
    EventRule,
    NotOurs,
    Records,
    hinted_ids,
    is_stale,
    newest,
    require_link,
)

_STATUS = {"pending": "pending", "requires_action": "pending", "succeeded": "succeeded", "failed": "failed",
           "canceled": "canceled"}


@dataclass(frozen=True)
class StripeRefunds:
    """The refunds an event reports, and the PaymentIntent they are refunds of."""

    payment_intent_id: str | None
    refunds: list[StripeRefund]


def holds(status: str | None, amount: int) -> tuple[int, int]:
    """(reserved, refunded) that a refund in ``status`` holds on its payment."""
    return {"pending": (amount, 0), "succeeded": (0, amount)}.get(status or "", (0, 0))


def record_id(refund: StripeRefund) -> str:
    ours = refund.metadata.get("refundId", "")
    return ours if validation.is_identifier(ours, "ref_") else f"ref_{refund.id}"


class _RefundRule(EventRule[StripeRefunds]):
    def locate(self, event: StripeEvent, subject: StripeRefunds) -> dict[str, store.Key] | None:
        if not subject.refunds:
            return None
        ids = hinted_ids(subject.refunds[0].metadata, payment=("paymentId", "pay_"), order=("orderId", "ord_"))
        if ids is None:
            found = payment_store.find_by_payment_intent(subject.payment_intent_id)
            if found is None:
                logger.info("refund of a payment we did not take", extra={"payment_intent": subject.payment_intent_id})
                return None
            ids = {"payment": found.payment_id, "order": found.order_id}
        keys: dict[str, store.Key] = {"payment": (PaymentRecord, ids["payment"]), "order": (OrderRecord, ids["order"])}
        keys.update({f"refund:{r.id}": (RefundRecord, record_id(r)) for r in subject.refunds})
        return keys

    def decide(self, event: StripeEvent, subject: StripeRefunds, records: Records) -> Decision | None:
        payment = records.require("payment", PaymentRecord)
        order = records.require("order", OrderRecord)
        if payment.order_id != order.order_id:
            raise NotOurs("the payment is not the order's")
        decision, now, changed = Decision(), now_iso(), False
        for reported in subject.refunds:
            require_link(payment.stripe_payment_intent_id, reported.payment_intent_id or subject.payment_intent_id,
                         "refund's PaymentIntent")
            record = records.get(f"refund:{reported.id}", RefundRecord)
            if record is not None and record.payment_id != payment.payment_id:
                raise NotOurs("the refund record is another payment's")
            if record is not None and record.stripe_refund_id not in (None, reported.id):
                raise NotOurs("the refund record holds another Stripe refund")
            moved = _move(record, reported, payment, order, event, now, decision)
            changed = changed or moved
        if not changed:
            return None
        payment.updated_at = now
        decision.save(payment)
        _follow(order, payment, now)
        decision.save(order)
        return decision


class RefundObjectRule(_RefundRule):
    """``refund.created`` / ``refund.updated`` / ``refund.failed``: one refund."""

    def read(self, event: StripeEvent) -> StripeRefunds:
        refund = StripeRefund.parse(event.object)
        return StripeRefunds(refund.payment_intent_id, [refund])


class ChargeRefundedRule(_RefundRule):
    """``charge.refunded``: every refund of the charge (read from Stripe when the payload lists only some)."""

    def read(self, event: StripeEvent) -> StripeRefunds:
        charge = StripeCharge.parse(event.object)
        refunds = charge.refunds if charge.refunds is not None else stripe_api.list_charge_refunds(charge.id)
        return StripeRefunds(charge.payment_intent_id, refunds)


def _move(record: RefundRecord | None, reported: StripeRefund, payment: PaymentRecord, order: OrderRecord,
          event: StripeEvent | None, now: str, decision: Decision) -> bool:
    """Apply one reported refund to its record (created when it is new); True when something changed. Without an
    ``event`` the refund was read from Stripe just now (the reconciler): its state is current, and no Stripe stamp
    is recorded."""
    new_status = _STATUS.get(reported.status or "", "pending")
    if record is None:
        record = RefundRecord(record_id(reported), payment_id=payment.payment_id, order_id=order.order_id,
                              amount=reported.amount, currency=reported.currency or payment.currency,
                              status=new_status, origin="stripe", reason=reported.reason,
                              stripe_refund_id=reported.id, created_at=now, updated_at=now,
                              reverse_transfer=reported.transfer_reversal_id is not None)
        old_status = None
        order.refund_ids = [*(order.refund_ids or []), record.refund_id]
        decision.count("RefundMadeElsewhere")
    elif event is not None and is_stale(record.last_event_created, event):
        return False  # older than what we applied: a late delivery never moves a refund back
    elif refund_may_move(record.status, new_status) or _stripe_revives(record, new_status):
        old_status, record.status = record.status, new_status
    elif record.stripe_refund_id is None:
        old_status = record.status  # first word from Stripe on it: just learn its id
    else:
        return False
    record.stripe_refund_id = record.stripe_refund_id or reported.id
    record.stripe_transfer_reversal_id = record.stripe_transfer_reversal_id or reported.transfer_reversal_id
    if new_status == "failed":
        record.failure_reason = reported.failure_reason or record.failure_reason
    record.updated_at = now
    if event is not None:
        record.last_event_created = newest(record.last_event_created, event)
    _move_totals(payment, holds(old_status, int(record.amount)), holds(record.status, int(record.amount)))
    decision.save(record)
    if record.status != old_status and record.status in ("succeeded", "failed"):
        decision.count(f"Refund{record.status.capitalize()}")
    return True


def _stripe_revives(record: RefundRecord, new_status: str) -> bool:
    """We marked it failed because Stripe could not be reached; Stripe says it exists after all."""
    return record.status == "failed" and record.stripe_refund_id is None and new_status in ("pending", "succeeded")


def _move_totals(payment: PaymentRecord, before: tuple[int, int], after: tuple[int, int]) -> None:
    payment.amount_reserved = int(payment.amount_reserved or 0) - before[0] + after[0]
    payment.amount_refunded = int(payment.amount_refunded or 0) - before[1] + after[1]
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


def settle_from_stripe(record: RefundRecord, reported: StripeRefund, payment: PaymentRecord,
                       order: OrderRecord) -> Decision | None:
    """Our pending ``record`` moved to the state Stripe reports for it now (read by the reconciler, not an event):
    its reservation becomes refunded (succeeded) or is given back (failed, canceled), never both, and the order
    follows. None when Stripe has it still in progress. Links first, as for an event."""
    require_link(payment.stripe_payment_intent_id, reported.payment_intent_id or payment.stripe_payment_intent_id,
                 "refund's PaymentIntent")
    if record.payment_id != payment.payment_id or payment.order_id != order.order_id:
        raise NotOurs("the refund, its payment and its order do not belong together")
    decision, now = Decision(), now_iso()
    if not _move(record, reported, payment, order, None, now, decision):
        return None
    payment.updated_at = now
    decision.save(payment)
    _follow(order, payment, now)
    return decision.save(order)


REFUND_RULES: dict[str, EventRule[StripeRefunds]] = {
    **{t: RefundObjectRule() for t in ("refund.created", "refund.updated", "refund.failed")},
    "charge.refunded": ChargeRefundedRule(),
}

"""A refund stuck ``pending`` with its amount reserved: settled from what Stripe says about it now.

The reconciler (``payments.reconcile``) asks here for each refund pending longer than ``StuckAfterMinutes`` (our
clock against our own stamp), after it has applied Stripe's listed events. Stripe's state is found by reading it:

1. the refund Stripe gave us (``stripeRefundId``);
2. else a refund of the payment's PaymentIntent whose metadata names ours (Stripe made it, its answer was lost);
3. else it never reached Stripe (an automatic refund of a duplicate payment sent while Stripe was unreachable, or
   a request cut short): it is sent now through ``RecordFirst.complete`` with its own idempotency key
   (``<refundId>:create``), so it can never be refunded twice; a refusal releases it as ``failed``.

Then the refund moves as Stripe has it (``payments.refunds.events.settle_from_stripe``): ``succeeded`` counts its
amount as refunded, ``failed`` / ``canceled`` gives the reservation back, never both; still ``pending`` at Stripe
(a bank refund can take days), it is looked at again later.
"""

from __future__ import annotations

from payments.core.errors import ApiError
from payments.core.observability import logger
from payments.data import pending, store
from payments.data.models import OrderRecord, PaymentRecord, RefundRecord
from payments.reconcile.settling import SETTLED, SKIPPED, STILL_PENDING, settle
from payments.refunds.api import RefundAtStripe
from payments.refunds.events import settle_from_stripe
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeResourceMissing
from payments.stripe.objects import StripeRefund
from payments.webhooks.pipeline import NotOurs, commit


def _read(found: RefundRecord) -> tuple[RefundRecord | None, PaymentRecord | None, OrderRecord | None]:
    refund, payment, order = store.read_items([(RefundRecord, found.refund_id), (PaymentRecord, found.payment_id),
                                               (OrderRecord, found.order_id)])
    return refund, payment, order


def settle_stuck_refund(found: RefundRecord) -> str:
    """``settled``, ``pending`` (still in progress, or Stripe unreachable) or ``skipped``. ``found`` is the index's
    copy (its key, payment id and order id)."""
    refund, payment, order = _read(found)
    if refund is None or payment is None or order is None or refund.status != "pending":
        return SKIPPED
    if not payment.stripe_payment_intent_id:
        logger.error("a pending refund of a payment without a PaymentIntent", extra={"refund_id": refund.refund_id})
        return SKIPPED
    reported = _at_stripe(refund, payment.stripe_payment_intent_id)
    if reported is None:
        fresh = _read(found)[0]
        if fresh is None or fresh.status != "pending":
            return SETTLED if fresh is not None else SKIPPED  # Stripe refused it: released as failed
        pending.look_again_later(fresh)
        return STILL_PENDING

    def attempt() -> str:
        refund_now, payment_now, order_now = _read(found)
        if refund_now is None or payment_now is None or order_now is None or refund_now.status != "pending":
            return SKIPPED
        try:
            decision = settle_from_stripe(refund_now, reported, payment_now, order_now)
        except NotOurs as why:
            logger.error("a stuck refund does not match what Stripe holds", extra={"detail": str(why)})
            return SKIPPED
        if decision is None:
            pending.look_again_later(refund_now)
            return STILL_PENDING
        commit(decision)
        if refund_now.status == "pending":  # Stripe has it in progress: we learnt its id, it stays watched
            pending.look_again_later(store.reload(refund_now))
            return STILL_PENDING
        return SETTLED

    return settle(attempt, "refund", refund_id=found.refund_id, stripe_status=reported.status)


def _at_stripe(refund: RefundRecord, payment_intent_id: str) -> StripeRefund | None:
    """The refund as Stripe has it now; None when Stripe could not be reached (try again next run)."""
    try:
        if refund.stripe_refund_id:
            return stripe_api.retrieve_refund(refund.stripe_refund_id)
        for candidate in stripe_api.list_payment_intent_refunds(payment_intent_id):
            if candidate.metadata.get("refundId") == refund.refund_id:
                return candidate
        logger.warning("a reserved refund never reached Stripe: sending it now, with its own idempotency key",
                       extra={"refund_id": refund.refund_id})
        return RefundAtStripe(payment_intent_id, keep_pending_when_unavailable=True).complete(refund)
    except StripeResourceMissing:
        logger.error("a pending refund's Stripe refund is gone", extra={"refund_id": refund.refund_id})
        return None
    except ApiError as error:
        # Refused: RecordFirst released it as failed (the next read sees it so). Unreachable: it stays pending.
        logger.warning("Stripe could not settle a stuck refund now", extra={"refund_id": refund.refund_id,
                                                                            "code": error.code})
        return None

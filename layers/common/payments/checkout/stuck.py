"""A one-time payment stuck ``pending``: settled from what Stripe says about its PaymentIntent or Session now.

The reconciler (``payments.reconcile``) asks here for each payment pending longer than ``StuckAfterMinutes``
(our clock against our own stamp), after it has applied Stripe's listed events, so this only sees payments whose
events are gone (older than Stripe's 30 days) or never existed:

- its Checkout Session completed and paid, or its PaymentIntent succeeded: ``succeeded``, and the order settles
  exactly as for the webhook (``paid``, ``amount_mismatch``, or a second payment refunded automatically);
- its Session expired, or its PaymentIntent was canceled: ``canceled``; a PaymentIntent whose last attempt was
  declined: ``failed`` (it may still succeed later, as always);
- still open at Stripe (the customer never paid): left pending and looked at again later, a bounded number of
  times (``payments.data.pending``);
- no Stripe object recorded at all (its checkout never recorded Stripe's answer, and nobody has its client
  secret, which only that answer carried): ``canceled``, and the order is free for a new checkout.

The change is written like an event's (the same ``apply_outcome``), conditioned on the versions read, without a
ledger claim: there is no event.
"""

from __future__ import annotations

from payments.checkout.events import LINK_WAIT, StripePaymentResult, apply_outcome
from payments.core.clock import parse_iso, utc_now
from payments.core.observability import logger
from payments.data import pending, store
from payments.data.models import OrderRecord, PaymentRecord
from payments.reconcile.settling import SETTLED, SKIPPED, STILL_PENDING, settle
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeResourceMissing
from payments.stripe.objects import StripeCheckoutSession, StripePaymentIntent
from payments.webhooks.pipeline import commit


def settle_stuck_payment(found: PaymentRecord) -> str:
    """``settled``, ``pending`` (still in progress at Stripe) or ``skipped`` (no longer pending, or not ours to
    settle). ``found`` is the index's copy (its key and order id)."""
    payment, order = store.read_items([(PaymentRecord, found.payment_id), (OrderRecord, found.order_id)])
    if payment is None or order is None or payment.status != "pending":
        return SKIPPED
    if utc_now() - parse_iso(payment.created_at) < LINK_WAIT:
        return SKIPPED  # its checkout may still be recording Stripe's answer
    outcome, learnt_intent = _outcome_at_stripe(payment)
    if outcome.status is None:
        pending.look_again_later(payment)
        return STILL_PENDING

    def attempt() -> str:
        fresh, fresh_order = store.read_items([(PaymentRecord, found.payment_id), (OrderRecord, found.order_id)])
        if fresh is None or fresh_order is None or fresh.status != "pending":
            return SKIPPED
        learnt = learnt_intent is not None and fresh.stripe_payment_intent_id is None
        if learnt:
            fresh.stripe_payment_intent_id = learnt_intent
        decision = apply_outcome(None, fresh, fresh_order, outcome, changed=learnt)
        if decision is None:
            return SKIPPED
        commit(decision)
        return SETTLED

    return settle(attempt, "payment", payment_id=payment.payment_id, status=outcome.status)


def _outcome_at_stripe(payment: PaymentRecord) -> tuple[StripePaymentResult, str | None]:
    """What Stripe says happened (status None: still in progress), and the Session's PaymentIntent if learnt."""
    try:
        if payment.stripe_checkout_session_id:
            session = stripe_api.retrieve_checkout_session(payment.stripe_checkout_session_id)
            return _from_session(session), session.payment_intent_id
        if payment.stripe_payment_intent_id:
            return _from_intent(stripe_api.retrieve_payment_intent(payment.stripe_payment_intent_id)), None
    except StripeResourceMissing:
        logger.warning("a pending payment's Stripe object is gone", extra={"payment_id": payment.payment_id})
        return StripePaymentResult(status="canceled"), None
    return StripePaymentResult(status="canceled", failure_code="never_created"), None


def _from_intent(intent: StripePaymentIntent) -> StripePaymentResult:
    if intent.status == "succeeded":
        return StripePaymentResult("succeeded", amount=intent.amount_received or intent.amount,
                                   currency=intent.currency)
    if intent.status == "canceled":
        return StripePaymentResult("canceled")
    if intent.status == "requires_payment_method" and intent.failure_code:
        return StripePaymentResult("failed", failure_code=intent.failure_code, failure_message=intent.failure_message)
    return StripePaymentResult(None)


def _from_session(session: StripeCheckoutSession) -> StripePaymentResult:
    if session.status == "complete" and session.payment_status in ("paid", "no_payment_required"):
        return StripePaymentResult("succeeded", amount=session.amount_total, currency=session.currency)
    if session.status == "expired":
        return StripePaymentResult("canceled")
    return StripePaymentResult(None)

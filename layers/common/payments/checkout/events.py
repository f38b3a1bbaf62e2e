"""What one-time payment events do: PaymentIntent and Checkout Session events move our payment and its order.

- **Finding** the payment: the object's metadata ``{orderId, paymentId}`` is the hint; without it, a
  PaymentIntent is looked up on the payments' ``byPaymentIntent`` index.
- **Links, not labels**: a PaymentIntent event changes a payment only when the payment holds that PaymentIntent,
  a Checkout Session event only when it holds that Session. An object we never created, whatever its metadata
  says, is ``ignored``. A payment still waiting for its Stripe id (its checkout is recording Stripe's answer)
  answers 500, so Stripe delivers again a moment later. A Session's PaymentIntent is learnt from the Session.
- **Forward only**: moves follow ``payments.core.lifecycle``, so a late or reordered event never moves anything
  back (a ``payment_failed`` after ``succeeded`` changes nothing).
- **Destination charges** (marketplace): a succeeded payment records its transfer to the seller (``tr_...``), from
  the PaymentIntent's charge (read from Stripe when the payload does not hold it expanded).
- **Settling**: a succeeded payment settles its order (``payments.orders.settle``): ``paid``, or
  ``amount_mismatch`` when the amount or currency differs from the order's less the payment's discount (a
  promotion code). A second successful payment for an order already paid is recorded and refunded automatically
  (``payments.refunds.automatic``).
- A Checkout Session in ``mode: subscription`` is a subscription's, not a payment's: its events go to
  ``payments.subscriptions.checkout``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from payments.core.clock import now_iso, parse_iso, utc_now
from payments.core.lifecycle import payment_may_move
from payments.data import payments as payment_store
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from payments.orders.settle import settle_order
from payments.refunds import automatic
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeCheckoutSession, StripePaymentIntent
from payments.subscriptions import checkout as subscription_checkout
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import (
    Decision,
    EventRule,
    NotLinkedYet,
    NotOurs,
    Records,
    hinted_ids,
    newest,
    require_link,
)


@dataclass(frozen=True)
class StripePaymentResult:
    """What an event says happened to a payment, whichever object it came on."""

    status: str | None  # the status it moves the payment to, or None (informational only)
    amount: int | None = None
    currency: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    transfer_id: str | None = None  # a destination charge's transfer to the seller


def _payment_keys(metadata: dict[str, str], intent_id: str | None) -> dict[str, store.Key] | None:
    ids = hinted_ids(metadata, payment=("paymentId", "pay_"), order=("orderId", "ord_"))
    if ids is None:
        found = payment_store.find_by_payment_intent(intent_id)
        if found is None:
            return None
        ids = {"payment": found.payment_id, "order": found.order_id}
    return {"payment": (PaymentRecord, ids["payment"]), "order": (OrderRecord, ids["order"])}


def _payment_and_order(records: Records) -> tuple[PaymentRecord, OrderRecord]:
    payment = records.require("payment", PaymentRecord)
    order = records.require("order", OrderRecord)
    if payment.order_id != order.order_id:
        raise NotOurs("the payment is not the order's")
    return payment, order


LINK_WAIT = timedelta(minutes=10)


def _waiting_for_link(payment: PaymentRecord, mode: str) -> bool:
    """A payment of ``mode`` whose checkout is still recording Stripe's id: pending, without one, and made
    within ``LINK_WAIT`` (our clock against our own stamp). Older, its checkout is gone: it waits for no event."""
    unlinked = payment.mode == mode and payment.status == "pending" and not (
        payment.stripe_payment_intent_id or payment.stripe_checkout_session_id)
    return unlinked and utc_now() - parse_iso(payment.created_at) < LINK_WAIT


class PaymentIntentRule(EventRule[StripePaymentIntent]):
    STATUS = {"payment_intent.succeeded": "succeeded", "payment_intent.payment_failed": "failed",
              "payment_intent.canceled": "canceled"}

    def read(self, event: StripeEvent) -> StripePaymentIntent:
        intent = StripePaymentIntent.parse(event.object)
        if (self.STATUS[event.type] == "succeeded" and intent.transfer_destination and intent.transfer_id is None
                and intent.charge_id):
            intent = replace(intent, transfer_id=stripe_api.retrieve_charge(intent.charge_id).transfer_id)
        return intent

    def locate(self, event: StripeEvent, subject: StripePaymentIntent) -> dict[str, store.Key] | None:
        return _payment_keys(subject.metadata, subject.id)

    def decide(self, event: StripeEvent, subject: StripePaymentIntent, records: Records) -> Decision | None:
        payment, order = _payment_and_order(records)
        if payment.mode == "invoice":
            # A subscription invoice's payment follows its invoice (payments.subscriptions.renewals): its
            # PaymentIntent's events change nothing, whichever arrives first, so the reconciler never counts
            # them as events the webhooks missed.
            return None
        if payment.stripe_payment_intent_id is None and _waiting_for_link(payment, "payment_intent"):
            raise NotLinkedYet(f"payment {payment.payment_id} is still recording its PaymentIntent")
        require_link(payment.stripe_payment_intent_id, subject.id, "PaymentIntent")
        status = self.STATUS[event.type]
        failed = status == "failed"
        outcome = StripePaymentResult(status=status, amount=subject.amount_received or subject.amount,
                                 currency=subject.currency, failure_code=subject.failure_code if failed else None,
                                 failure_message=subject.failure_message if failed else None,
                                 transfer_id=subject.transfer_id)
        return apply_outcome(event, payment, order, outcome, charge_id=subject.charge_id)


class CheckoutSessionRule(EventRule[StripeCheckoutSession]):
    def read(self, event: StripeEvent) -> StripeCheckoutSession:
        return StripeCheckoutSession.parse(event.object)

    def locate(self, event: StripeEvent, subject: StripeCheckoutSession) -> dict[str, store.Key] | None:
        if subject.mode == "subscription":
            return subscription_checkout.session_keys(subject)
        return _payment_keys(subject.metadata, None)

    def decide(self, event: StripeEvent, subject: StripeCheckoutSession, records: Records) -> Decision | None:
        if subject.mode == "subscription":
            return subscription_checkout.decide_session(event, subject, records)
        payment, order = _payment_and_order(records)
        if payment.stripe_checkout_session_id is None and _waiting_for_link(payment, "checkout_session"):
            raise NotLinkedYet(f"payment {payment.payment_id} is still recording its Checkout Session")
        require_link(payment.stripe_checkout_session_id, subject.id, "Checkout Session")
        if event.type == "checkout.session.completed":
            status = "succeeded" if subject.payment_status in ("paid", "no_payment_required") else None
        else:
            status = {"checkout.session.async_payment_succeeded": "succeeded",
                      "checkout.session.async_payment_failed": "failed",
                      "checkout.session.expired": "canceled"}[event.type]
        outcome = StripePaymentResult(status=status, amount=subject.amount_total, currency=subject.currency,
                                 failure_code="async_payment_failed" if status == "failed" else None)
        learnt = payment.stripe_payment_intent_id is None and subject.payment_intent_id is not None
        if learnt:  # the Session's PaymentIntent: a link Stripe gives us, from the object we hold
            payment.stripe_payment_intent_id = subject.payment_intent_id
        return apply_outcome(event, payment, order, outcome, changed=learnt)


def apply_outcome(event: StripeEvent | None, payment: PaymentRecord, order: OrderRecord,
                  outcome: StripePaymentResult, *, charge_id: str | None = None,
                  changed: bool = False) -> Decision | None:
    """Move ``payment`` (and its order) as ``outcome`` says; None when nothing changes. ``event`` is None when the
    outcome was read from Stripe just now (the reconciler): no Stripe stamp is recorded then."""
    decision, now = Decision(), now_iso()
    if charge_id and payment.stripe_charge_id is None:
        payment.stripe_charge_id, changed = charge_id, True
    if outcome.transfer_id and payment.destination_account_id and payment.stripe_transfer_id is None:
        payment.stripe_transfer_id, changed = outcome.transfer_id, True
    if outcome.status is not None and payment_may_move(payment.status, outcome.status):
        payment.status, changed = outcome.status, True
        decision.count(f"Payment{outcome.status.capitalize()}")
        if outcome.status == "succeeded":
            payment.amount_received, payment.currency_received = outcome.amount, outcome.currency
            payment.failure_code = payment.failure_message = None
            _settle(payment, order, decision)
        elif outcome.status == "failed":
            payment.failure_code = outcome.failure_code
            payment.failure_message = (outcome.failure_message or "")[:500] or None
        if payment.status in ("succeeded", "canceled") and order.open_payment_id == payment.payment_id:
            order.open_payment_id, order.updated_at = None, now
            decision.save(order)
    if not changed:
        return None
    payment.updated_at = now
    if event is not None:
        payment.last_event_created = newest(payment.last_event_created, event)
    decision.save(payment)
    return decision


def _settle(payment: PaymentRecord, order: OrderRecord, decision: Decision) -> None:
    discount = int(payment.discount.amount) if payment.discount is not None else 0
    settlement = settle_order(order, payment.payment_id, paid_amount=_int(payment.amount_received),
                              paid_currency=payment.currency_received, expected_amount=int(order.amount) - discount,
                              expected_currency=order.currency)
    for metric in settlement.metrics:
        decision.count(metric)
    if settlement.changed:
        decision.save(order)
    if settlement.duplicate and payment.stripe_payment_intent_id:
        refund = automatic.reserve(payment, order)
        decision.save(order).save(refund)
        intent_id = payment.stripe_payment_intent_id
        decision.then(lambda: automatic.send(refund, intent_id))


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


PAYMENT_RULES: dict[str, EventRule[StripePaymentIntent] | EventRule[StripeCheckoutSession]] = {
    **{t: PaymentIntentRule() for t in PaymentIntentRule.STATUS},
    **{t: CheckoutSessionRule() for t in ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                                          "checkout.session.async_payment_failed", "checkout.session.expired")},
}

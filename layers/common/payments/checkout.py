"""One-time checkout: a PaymentIntent (mobile) or a Checkout Session (web) for a pending one_time order.

The amount always comes from the order. The flow, and why:

1. Read the order (owner only, pending, one_time; a given amount/currency must equal the order's).
2. If the order has an open payment in the same mode that Stripe still considers open, return it:
   asking twice never makes two PaymentIntents.
3. Otherwise write a new ``pending`` payment and point the order's ``openPaymentId`` at it, in one
   transaction conditioned on the order's version: of two concurrent requests exactly one creates it,
   the other finds it at step 2.
4. Call Stripe with the idempotency key ``<paymentId>:create`` and metadata ``{orderId, paymentId,
   userId}``, then record Stripe's id on the payment. If Stripe fails, the payment is marked ``failed``
   with the reason and released from the order, so nothing claims a payment that does not exist.

A payment that failed or is being replaced is canceled at Stripe first (best effort), so an old
PaymentIntent cannot be paid beside the new one.

First checkout of an order: three DynamoDB calls and one Stripe call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pynamodb.expressions.update import Action

from payments import money, store, stripe_gateway, validation
from payments.clock import now_iso
from payments.config import get_settings
from payments.errors import ApiError, Conflict, Forbidden, Unprocessable
from payments.identity import Caller
from payments.ids import new_id
from payments.models import OrderRecord, PaymentRecord
from payments.observability import count, logger
from payments.orders import load_visible_order

MODES = ("payment_intent", "checkout_session")
_ATTEMPTS = 4


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: str
    mode: str
    amount: int | None = None
    currency: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CheckoutRequest:
        mode = validation.text(body, "mode", required=False, choices=MODES) or "payment_intent"
        currency = body.get("currency")
        return cls(
            order_id=validation.required_text(body, "orderId", max_length=64),
            mode=mode,
            amount=validation.integer(body, "amount", required=False, minimum=1),
            currency=money.parse_currency(currency).code if currency is not None else None,
            success_url=validation.url(body, "successUrl", required=mode == "checkout_session"),
            cancel_url=validation.url(body, "cancelUrl", required=mode == "checkout_session"),
        )


def _check_payable(caller: Caller, order: OrderRecord, request: CheckoutRequest) -> None:
    if order.user_id != caller.user_id:
        raise Forbidden("only the order's owner can pay it", code="not_order_owner")
    if request.amount is not None and request.amount != order.amount:
        raise Unprocessable("amount does not match the order's amount", code="amount_mismatch")
    if request.currency is not None and request.currency != order.currency:
        raise Unprocessable("currency does not match the order's currency", code="amount_mismatch")
    if order.kind != "one_time":
        raise Conflict(f"a {order.kind} order is not paid through checkout", code="order_not_payable")
    if order.status != "pending":
        raise Conflict(f"the order is already {order.status}", code="order_not_pending")


def start_checkout(caller: Caller, request: CheckoutRequest) -> dict[str, Any]:
    order = load_visible_order(caller, request.order_id)
    for _ in range(_ATTEMPTS):
        _check_payable(caller, order, request)
        previous = store.get(PaymentRecord, order.open_payment_id) if order.open_payment_id else None
        if previous is not None and previous.status == "pending" and previous.mode == request.mode:
            answer = _resume(order, previous)
            if answer is not None:
                return answer
            # else Stripe no longer considers it open: nothing left to cancel there
        elif previous is not None and previous.status in ("pending", "failed"):
            _cancel_at_stripe(previous)
        payment = _new_payment(order, request)
        transaction = store.Transaction().save(payment)
        order.open_payment_id = payment.payment_id
        order.payment_ids = [*(order.payment_ids or []), payment.payment_id]
        order.updated_at = payment.created_at
        transaction.save(order)
        if previous is not None and previous.status == "pending":
            transaction.update(previous, [PaymentRecord.status.set("canceled"),
                                          PaymentRecord.updated_at.set(payment.created_at)],
                               condition=PaymentRecord.status == "pending")
        try:
            transaction.commit()
        except store.WriteConflict:
            order = store.reload(order)
            continue
        count("CheckoutStarted")
        return _create_at_stripe(order, payment)
    raise Conflict("the order is being changed by another request; try again", code="concurrent_update")


def _new_payment(order: OrderRecord, request: CheckoutRequest) -> PaymentRecord:
    now = now_iso()
    return PaymentRecord(
        new_id("pay"), order_id=order.order_id, user_id=order.user_id, amount=order.amount,
        currency=order.currency, mode=request.mode, status="pending", success_url=request.success_url,
        cancel_url=request.cancel_url, created_at=now, updated_at=now,
    )


def _stripe_create(order: OrderRecord, payment: PaymentRecord) -> dict[str, Any]:
    """Create (or, with the same idempotency key, find again) the Stripe object for ``payment``."""
    common: dict[str, Any] = {"payment_id": payment.payment_id, "order_id": order.order_id, "user_id": order.user_id,
              "amount": payment.amount, "currency": payment.currency, "description": order.description or ""}
    if payment.mode == "checkout_session":
        session = stripe_gateway.create_checkout_session(
            **common, success_url=payment.success_url or "", cancel_url=payment.cancel_url or "")
        return {"stripeCheckoutSessionId": session.id, "checkoutUrl": session.url}
    intent = stripe_gateway.create_payment_intent(**common)
    return {"stripePaymentIntentId": intent.id, "clientSecret": intent.client_secret}


def _record_stripe_ids(payment: PaymentRecord, created: Mapping[str, Any]) -> None:
    actions: list[Action] = [PaymentRecord.updated_at.set(now_iso())]
    if created.get("stripePaymentIntentId"):
        actions.append(PaymentRecord.stripe_payment_intent_id.set(created["stripePaymentIntentId"]))
    if created.get("stripeCheckoutSessionId"):
        actions.append(PaymentRecord.stripe_checkout_session_id.set(created["stripeCheckoutSessionId"]))
    store.Transaction().update(payment, actions, condition=PaymentRecord.payment_id.exists()).commit()


def _create_at_stripe(order: OrderRecord, payment: PaymentRecord) -> dict[str, Any]:
    try:
        created = _stripe_create(order, payment)
    except ApiError as error:
        _release_failed(order, payment, error)
        raise
    _record_stripe_ids(payment, created)
    return _answer(payment, created)


def _release_failed(order: OrderRecord, payment: PaymentRecord, error: ApiError) -> None:
    """Stripe did not give us a usable object: the payment says so, and the order is free to try again."""
    now = now_iso()
    try:
        store.Transaction().update(
            payment,
            [PaymentRecord.status.set("failed"), PaymentRecord.failure_code.set(error.code),
             PaymentRecord.failure_message.set(error.message if error.status < 500 else "the payment provider "
                                               "could not be used; nothing was charged"),
             PaymentRecord.updated_at.set(now)],
            condition=PaymentRecord.status == "pending",
        ).update(
            order, [OrderRecord.open_payment_id.remove(), OrderRecord.updated_at.set(now)],
            condition=OrderRecord.open_payment_id == payment.payment_id,
        ).commit()
    except store.WriteConflict:
        logger.info("payment changed while releasing it", extra={"payment_id": payment.payment_id})
    count("CheckoutStripeFailed")
    logger.warning("checkout failed at Stripe", extra={"payment_id": payment.payment_id, "code": error.code})


def _resume(order: OrderRecord, payment: PaymentRecord) -> dict[str, Any] | None:
    """The open payment's answer again, or None when Stripe no longer considers it open."""
    if not (payment.stripe_payment_intent_id or payment.stripe_checkout_session_id):
        # Its creator is still talking to Stripe, or crashed before recording the answer: the same
        # idempotency key gives back the same Stripe object either way.
        return _create_at_stripe(order, payment)
    try:
        return _resume_open(payment)
    except stripe_gateway.StripeResourceMissing:
        logger.warning("an open payment's Stripe object is gone", extra={"payment_id": payment.payment_id})
        return None


def _resume_open(payment: PaymentRecord) -> dict[str, Any] | None:
    if payment.mode == "checkout_session":
        session = _refuse_if_taking_money(
            stripe_gateway.retrieve_checkout_session(payment.stripe_checkout_session_id or ""))
        if session.is_open:
            return _answer(payment, {"checkoutUrl": session.url})
        return None
    intent = _refuse_if_taking_money(stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id or ""))
    if intent.is_open:
        return _answer(payment, {"clientSecret": intent.client_secret})
    return None


def _cancel_at_stripe(payment: PaymentRecord) -> None:
    """Make sure a payment we are replacing can no longer take money (best effort, but not blind)."""
    try:
        if payment.stripe_checkout_session_id:
            session = _refuse_if_taking_money(
                stripe_gateway.retrieve_checkout_session(payment.stripe_checkout_session_id))
            if session.is_open:
                stripe_gateway.expire_checkout_session(session.id, payment_id=payment.payment_id)
        elif payment.stripe_payment_intent_id:
            intent = _refuse_if_taking_money(stripe_gateway.retrieve_payment_intent(payment.stripe_payment_intent_id))
            if intent.is_open:
                stripe_gateway.cancel_payment_intent(intent.id, payment_id=payment.payment_id)
    except (stripe_gateway.StripeRejected, stripe_gateway.StripeResourceMissing):
        logger.warning("could not cancel a replaced payment at Stripe", extra={"payment_id": payment.payment_id})


Ref = TypeVar("Ref", stripe_gateway.PaymentIntentRef, stripe_gateway.CheckoutSessionRef)


def _refuse_if_taking_money(ref: Ref) -> Ref:
    """A payment Stripe is completing is neither answered again nor replaced: the webhook will pay the order."""
    if ref.is_taking_money:
        raise Conflict("this order's payment is being completed; it will read paid shortly",
                       code="payment_processing")
    return ref


def _answer(payment: PaymentRecord, created: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "paymentId": payment.payment_id,
        "orderId": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": "pending",
        "mode": payment.mode,
        "clientSecret": created.get("clientSecret"),
        "publishableKey": get_settings().stripe_publishable_key(),
        "checkoutUrl": created.get("checkoutUrl"),
    }

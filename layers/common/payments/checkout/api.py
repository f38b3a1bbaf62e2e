"""One-time checkout: a PaymentIntent (mobile) or a Checkout Session (web) for a pending one_time order.

The amount always comes from the order. The flow, and why:

1. Read the order (owner only, pending, one_time; a given amount/currency must equal the order's).
2. If the order has an open payment in the same mode that Stripe still considers open, return it: asking twice
   never makes two PaymentIntents. A payment whose Stripe object was never recorded (its creator crashed) is
   completed with the same idempotency key, which gives back the same object.
3. Otherwise (``CheckoutAtStripe``, a ``RecordFirst``) write a new ``pending`` payment and point the order's
   ``openPaymentId`` at it, in one transaction conditioned on the order's version: of two concurrent requests
   exactly one creates it, the other finds it at step 2. Then call Stripe with the key ``<paymentId>:create``
   and metadata ``{orderId, paymentId, userId}``, and record Stripe's id. If Stripe fails, the payment is
   ``failed`` with the reason and released from the order.

A payment that failed or is being replaced is canceled at Stripe first, so an old PaymentIntent cannot be paid
beside the new one (if it is anyway, the second payment is refunded automatically). An order takes at most
``MAX_CHECKOUT_ATTEMPTS`` payments (409 ``too_many_checkout_attempts``), which also bounds what reading it costs.

An order that names a seller (marketplace) is paid by a destination charge: the seller must still be ``active``
(409 ``seller_not_active``), and the PaymentIntent carries ``transfer_data.destination`` (the seller's connected
account) and ``application_fee_amount`` (the order's fee). The payment records the destination, the fee and the
seller's share when it is reserved, and the transfer's id when the payment callback learns it.

Only an admin's order shows its description at Stripe (on the hosted page, on the PaymentIntent): a user's own
free text is never shown on Stripe's pages. A catalog order's hosted page lists its prices, which Stripe shows
with their products' names.

Saved cards and promotion codes:

- ``paymentMethodId`` (``payment_intent`` mode): one of the caller's saved cards (``payments.billing.payment_methods``:
  attached at Stripe to the caller's own customer, else a 404 as if it did not exist). The PaymentIntent is made
  for the caller's customer and confirmed here, with the customer present (on-session: the user tapped "pay"), so
  a card that needs 3-D Secure answers ``requiresAction: true`` with the client secret, and the app finishes it
  (Stripe.js ``handleNextAction`` / ``confirmCardPayment(clientSecret)``). A decline is a 422 ``stripe_rejected``
  and the payment ``failed``. The webhook pays the order either way.
- ``promotionCode``: checked at Stripe (``payments.billing.promotions``; a bad one is a 400 naming it). The payment
  is for the order's amount less the discount the server computed, and records the discount; the order's amount
  stays what it was priced at, and a payment of that discounted amount pays it. Stripe's minimum charge still
  applies to what is charged (400 ``amount_below_minimum`` on ``promotionCode``). A Checkout Session carries the
  code itself (``discounts``), so Stripe shows it on its page.

A marketplace order (one naming a seller) is paid by a destination charge to the seller's connected account,
with the platform's fee (the order's, never more than what is charged); its seller must be ``active`` (else 409).

Asking again returns the open payment only when it was asked for the same way (mode, saved card, code).

First checkout of an order: three DynamoDB calls and one Stripe call, and the handler's attempt count (one
UpdateItem, ``payments.limits.attempts``). A saved card adds one GetItem and one Stripe read; a promotion code one
Stripe read; a seller one Query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from payments.billing import payment_methods, promotions
from payments.core import money, validation
from payments.core.clock import now_iso
from payments.core.config import get_settings
from payments.core.errors import ApiError, Conflict, Forbidden, InvalidField, Unprocessable
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.data import orders as order_store
from payments.data import payments as payment_store
from payments.data import store
from payments.data.models import Discount, OrderRecord, PaymentRecord
from payments.orders.api import on_order
from payments.record_first import RecordFirst
from payments.sellers.orders import active_seller
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeRejected, StripeResourceMissing
from payments.stripe.objects import StripeCheckoutSession, StripePaymentIntent

MODES = ("payment_intent", "checkout_session")
StripeAnswer = StripePaymentIntent | StripeCheckoutSession


@dataclass(frozen=True)
class CheckoutRequest:
    order_id: str
    mode: str
    amount: int | None = None
    currency: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    payment_method_id: str | None = None
    promotion_code: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> CheckoutRequest:
        mode = validation.text(body, "mode", required=False, choices=MODES) or "payment_intent"
        currency = body.get("currency")
        origins = get_settings().redirect_origins
        web = mode == "checkout_session"
        order_id = validation.identifier(body, "orderId")
        assert order_id is not None
        payment_method_id = payment_methods.parse_id(body, "paymentMethodId", required=False)
        if payment_method_id is not None and web:
            raise InvalidField("paymentMethodId", "a saved card pays in payment_intent mode only")
        return cls(
            order_id=order_id,
            mode=mode,
            amount=validation.integer(body, "amount", required=False, minimum=1),
            currency=money.parse_currency(currency).code if currency is not None else None,
            success_url=validation.redirect_url(body, "successUrl", required=web, allowed_origins=origins),
            cancel_url=validation.redirect_url(body, "cancelUrl", required=web, allowed_origins=origins),
            payment_method_id=payment_method_id,
            promotion_code=promotions.parse_code(body),
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


def _check_attempts_left(order: OrderRecord) -> None:
    if len(order.payment_ids or []) >= get_settings().max_checkout_attempts:
        raise Conflict("this order has had too many payment attempts; create a new order",
                       code="too_many_checkout_attempts")


@dataclass(frozen=True)
class Terms:
    """How the caller pays: a saved card (and its customer), a promotion code's discount."""

    customer_id: str | None = None
    payment_method_id: str | None = None
    discount: Discount | None = None
    destination: str | None = None  # a marketplace order: the seller's connected account

    @property
    def promotion_code_id(self) -> str | None:
        return self.discount.promotion_code_id if self.discount is not None else None


def _terms(caller: Caller, order: OrderRecord, request: CheckoutRequest) -> Terms:
    """The caller's saved card (404 unless it is theirs) and the promotion code's discount (400 unless valid)."""
    customer_id = None
    if request.payment_method_id is not None:
        customer_id = payment_methods.require_own(caller, request.payment_method_id).customer_id
    promotion = promotions.promotion_for(request.promotion_code, amount=int(order.amount), currency=order.currency,
                                         customer_id=customer_id)
    if promotion is not None:
        minimum = money.MINIMUM_CHARGE.get(order.currency, 1)
        if int(order.amount) - promotion.amount_off < minimum:
            raise InvalidField("promotionCode", "the discounted amount is below Stripe's minimum charge for "
                               f"{order.currency.upper()}", code="amount_below_minimum")
    destination = active_seller(order.seller_id).stripe_account_id if order.seller_id else None
    return Terms(customer_id=customer_id, payment_method_id=request.payment_method_id,
                 discount=promotion.discount() if promotion else None, destination=destination)


def _same_terms(payment: PaymentRecord, terms: Terms) -> bool:
    paid_with = payment.discount.promotion_code_id if payment.discount is not None else None
    return payment.payment_method_id == terms.payment_method_id and paid_with == terms.promotion_code_id


class CheckoutAtStripe(RecordFirst[PaymentRecord, StripeAnswer]):
    """A new payment of ``order`` and its Stripe object (``previous``: the open payment it replaces; ``terms``: how
    the caller pays, and for a marketplace order the seller's connected account)."""

    name = "Checkout"

    def __init__(self, order: OrderRecord, request: CheckoutRequest | None = None,
                 previous: PaymentRecord | None = None, terms: Terms | None = None):
        self.order, self.request, self.previous, self.terms = order, request, previous, terms or Terms()

    def reserve(self) -> PaymentRecord:
        order, request, terms = self.order, self.request, self.terms
        assert request is not None
        _check_attempts_left(order)
        now = now_iso()
        amount = int(order.amount) - (int(terms.discount.amount) if terms.discount is not None else 0)
        payment = PaymentRecord(
            new_id("pay"), order_id=order.order_id, user_id=order.user_id, amount=amount,
            currency=order.currency, mode=request.mode, status="pending", success_url=request.success_url,
            cancel_url=request.cancel_url, payment_method_id=terms.payment_method_id, discount=terms.discount,
            created_at=now, updated_at=now)
        if terms.destination is not None:  # a marketplace order: the platform's fee, the rest is the seller's
            fee = min(int(order.application_fee_amount or 0), amount)
            payment.destination_account_id, payment.application_fee_amount = terms.destination, fee
            payment.transfer_amount = amount - fee
        order.open_payment_id = payment.payment_id
        order.payment_ids = [*(order.payment_ids or []), payment.payment_id]
        order.updated_at = now
        tx = store.Transaction().save(payment).save(order)
        if self.previous is not None and self.previous.status == "pending":
            payment_store.cancel_pending(tx, self.previous.payment_id)
        tx.commit()
        count("CheckoutStarted")
        return payment

    def record_id(self, record: PaymentRecord) -> str:
        return record.payment_id

    def call(self, record: PaymentRecord, idempotency_key: str) -> StripeAnswer:
        order = self.order
        metadata = {"orderId": order.order_id, "paymentId": record.payment_id, "userId": order.user_id}
        # A user's own text is never shown on Stripe's pages; an admin's order description is the admin's.
        admin_text = order.description if not order.items else None
        destination = (stripe_api.Destination(record.destination_account_id, int(record.application_fee_amount or 0))
                       if record.destination_account_id else None)
        if record.mode == "checkout_session":
            lines = ([stripe_api.LineItem(quantity=int(i.quantity), price_id=i.price_id) for i in order.items]
                     if order.items else
                     [stripe_api.LineItem(quantity=1, amount=int(record.amount), name=admin_text or None)])
            return stripe_api.create_checkout_session(
                idempotency_key=idempotency_key, currency=record.currency, lines=lines, metadata=metadata,
                client_reference_id=order.order_id, success_url=record.success_url or "",
                cancel_url=record.cancel_url or "", destination=destination,
                promotion_code_id=record.discount.promotion_code_id if record.discount is not None else None)
        return stripe_api.create_payment_intent(idempotency_key=idempotency_key, amount=int(record.amount),
                                                currency=record.currency, metadata=metadata, description=admin_text,
                                                customer_id=self.terms.customer_id,
                                                payment_method_id=record.payment_method_id, destination=destination)

    def record(self, record: PaymentRecord, answer: StripeAnswer) -> None:
        if isinstance(answer, StripeCheckoutSession):
            payment_store.record_stripe_ids(record.payment_id, checkout_session_id=answer.id)
        else:
            payment_store.record_stripe_ids(record.payment_id, payment_intent_id=answer.id)

    def release(self, record: PaymentRecord, error: ApiError) -> None:
        message = error.message if error.status < 500 else "the payment provider could not be used; nothing was charged"
        tx = store.Transaction()
        payment_store.fail_pending(tx, record.payment_id, error.code, message)
        order_store.release_open_payment(tx, record.order_id, record.payment_id)
        tx.commit()


def start_checkout(caller: Caller, request: CheckoutRequest) -> dict[str, Any]:
    settled: list[Terms] = []  # the payment's terms, settled once (a code or a saved card is checked at Stripe)

    def attempt(order: OrderRecord) -> dict[str, Any]:
        _check_payable(caller, order, request)
        if not settled:
            settled.append(_terms(caller, order, request))
        terms = settled[0]
        previous = payment_store.get(order.open_payment_id) if order.open_payment_id else None
        resumable = (previous is not None and previous.status == "pending" and previous.mode == request.mode
                     and _same_terms(previous, terms))
        if resumable and previous is not None:
            answer = _resume(order, previous, terms)
            if answer is not None:
                return answer  # else Stripe no longer considers it open: nothing left to cancel there
        _check_attempts_left(order)  # before anything is replaced: a refused attempt leaves the open one as it is
        if not resumable and previous is not None and previous.status in ("pending", "failed"):
            _cancel_at_stripe(previous)
        action = CheckoutAtStripe(order, request, previous, terms)
        payment = action.reserve()
        return _answer(payment, action.complete(payment))

    return on_order(caller, request.order_id, attempt)


def _resume(order: OrderRecord, payment: PaymentRecord, terms: Terms) -> dict[str, Any] | None:
    """The open payment's answer again, or None when Stripe no longer considers it open."""
    if not (payment.stripe_payment_intent_id or payment.stripe_checkout_session_id):
        # Its creator is still talking to Stripe, or crashed before recording the answer: the same
        # idempotency key gives back the same Stripe object either way.
        return _answer(payment, CheckoutAtStripe(order, terms=terms).complete(payment))
    try:
        if payment.stripe_checkout_session_id:
            session = _refuse_if_taking_money(stripe_api.retrieve_checkout_session(payment.stripe_checkout_session_id))
            return _answer(payment, session) if session.is_open else None
        intent = _refuse_if_taking_money(stripe_api.retrieve_payment_intent(payment.stripe_payment_intent_id or ""))
        return _answer(payment, intent) if intent.is_open else None
    except StripeResourceMissing:
        logger.warning("an open payment's Stripe object is gone", extra={"payment_id": payment.payment_id})
        return None


def _cancel_at_stripe(payment: PaymentRecord) -> None:
    """Make sure a payment we are replacing can no longer take money (best effort, but not blind)."""
    key = f"{payment.payment_id}:cancel"
    try:
        if payment.stripe_checkout_session_id:
            session = _refuse_if_taking_money(stripe_api.retrieve_checkout_session(payment.stripe_checkout_session_id))
            if session.is_open:
                stripe_api.expire_checkout_session(session.id, idempotency_key=key)
        elif payment.stripe_payment_intent_id:
            intent = _refuse_if_taking_money(stripe_api.retrieve_payment_intent(payment.stripe_payment_intent_id))
            if intent.is_open:
                stripe_api.cancel_payment_intent(intent.id, idempotency_key=key)
    except (StripeRejected, StripeResourceMissing):
        logger.warning("could not cancel a replaced payment at Stripe", extra={"payment_id": payment.payment_id})


Answer = TypeVar("Answer", StripePaymentIntent, StripeCheckoutSession)


def _refuse_if_taking_money(answer: Answer) -> Answer:
    """A payment Stripe is completing is neither answered again nor replaced: the webhook will pay the order."""
    if answer.is_taking_money:
        raise Conflict("this order's payment is being completed; it will read paid shortly",
                       code="payment_processing")
    return answer


def _answer(payment: PaymentRecord, stripe_answer: StripeAnswer) -> dict[str, Any]:
    session = stripe_answer if isinstance(stripe_answer, StripeCheckoutSession) else None
    intent = stripe_answer if isinstance(stripe_answer, StripePaymentIntent) else None
    discount = payment.discount
    return {
        "paymentId": payment.payment_id,
        "orderId": payment.order_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "status": "pending",
        "mode": payment.mode,
        "clientSecret": intent.client_secret if intent else None,
        "publishableKey": get_settings().stripe_publishable_key(),
        "checkoutUrl": session.url if session else None,
        # a saved card confirmed here that needs 3-D Secure: the app finishes it with the client secret
        "requiresAction": bool(intent and intent.status == "requires_action"),
        "discount": {"promotionCode": discount.promotion_code, "amount": int(discount.amount)} if discount else None,
    }

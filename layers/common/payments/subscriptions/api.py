"""Subscriptions: start one for a pending subscription order, cancel it (now or at period end), resume it.

Starting is a ``RecordFirst`` (``SubscriptionAtStripe``): the recurring payment record is written (and the order
pointed at it, conditioned on the order's version) before Stripe is called with the key
``<recurringPaymentId>:create`` and metadata ``{orderId, recurringPaymentId, userId}``. Two ways to start:

- ``payment_intent`` (the default, for apps): the subscription is created ``incomplete``; the client pays its
  first invoice with the returned client secret, and the renewal callback marks the order paid when Stripe reports
  the invoice paid. Asking again while it is still incomplete returns the same subscription.
- ``checkout_session`` (for the web): a hosted Stripe Checkout in subscription mode, for the user's own Stripe
  customer, with ``successUrl``/``cancelUrl`` on an allowed origin. The record holds the Session; Stripe creates
  the subscription when the customer pays, and ``checkout.session.completed`` (payment callback) links the record
  to it by the Session's own ``subscription`` link, while the first ``invoice.paid`` (renewal callback) pays the
  order. Either may arrive first. Asking again while the Session is open answers its URL again.

Terms, both ways: ``trialDays`` (1..730; 0 is none) starts the subscription ``trialing`` with a first invoice of 0
that pays the order, and the returned client secret is the trial's SetupIntent (``clientSecretType:
setup_intent``), which saves the card Stripe charges when the trial ends. A trial that ends without a card
**cancels** the subscription (``trial_settings.end_behavior.missing_payment_method: cancel``: it ends
``canceled``, and the user subscribes again with a new order). ``promotionCode`` is checked at Stripe
(``payments.billing.promotions``): a bad one is a 400 naming it, before anything is created. The record keeps
what the first invoice should bill (``firstInvoiceAmount``: the price less the discount, 0 with a trial) and the
discount, which the renewal callback records on the first payment.

The record then follows Stripe (``payments.subscriptions.events``). One clock per comparison: a change made here
(cancel, resume, a plan change) is applied to the record at once but stamped with nothing, because Stripe's answer
carries no Stripe time to compare events with, and ours must never be compared with Stripe's. It is marked
``changedByApi`` instead: the next event that disagrees with it is settled by reading the subscription from
Stripe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.billing import promotions
from payments.core import validation
from payments.core.clock import from_epoch, now_iso
from payments.core.config import get_settings
from payments.core.errors import ApiError, Conflict, Forbidden, NotFound, Unprocessable
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.lifecycle import SUBSCRIPTION_ENDED
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import orders as order_store
from payments.data import store
from payments.data import subscriptions as recurring_store
from payments.data.models import OrderRecord, RecurringPaymentRecord
from payments.orders.api import on_order
from payments.orders.views import subscription_view
from payments.record_first import RecordFirst, busy
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeCheckoutSession, StripeSubscription
from payments.subscriptions.customers import ensure_customer

ENDED = SUBSCRIPTION_ENDED
MODES = ("payment_intent", "checkout_session")
MAX_TRIAL_DAYS = 730  # Stripe's limit
TRIAL_END_BEHAVIOR = "cancel"  # a trial that ends without a card cancels the subscription (see the module)


@dataclass(frozen=True)
class SubscribeRequest:
    order_id: str
    price_id: str
    mode: str = "payment_intent"
    trial_days: int = 0
    promotion_code: str | None = None
    success_url: str | None = None
    cancel_url: str | None = None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> SubscribeRequest:
        order_id, price_id = validation.identifier(body, "orderId"), validation.identifier(body, "priceId")
        assert order_id is not None and price_id is not None
        mode = validation.text(body, "mode", required=False, choices=MODES) or "payment_intent"
        web, origins = mode == "checkout_session", get_settings().redirect_origins
        return cls(order_id=order_id, price_id=price_id, mode=mode,
                   trial_days=validation.integer(body, "trialDays", required=False, minimum=0,
                                                 maximum=MAX_TRIAL_DAYS) or 0,
                   promotion_code=promotions.parse_code(body),
                   success_url=validation.redirect_url(body, "successUrl", required=web, allowed_origins=origins),
                   cancel_url=validation.redirect_url(body, "cancelUrl", required=web, allowed_origins=origins))

    @property
    def trial(self) -> stripe_api.Trial | None:
        return stripe_api.Trial(self.trial_days, TRIAL_END_BEHAVIOR) if self.trial_days else None


def apply_state(record: RecurringPaymentRecord, state: StripeSubscription) -> bool:
    """Copy Stripe's view of the subscription onto the record (no stamp); True when something changed."""
    before = (record.status, record.cancel_at_period_end, record.current_period_end, record.stripe_subscription_id,
              record.price_id, record.trial_end, record.pending_change is None)
    record.status = state.status
    record.cancel_at_period_end = state.cancel_at_period_end
    record.current_period_end = from_epoch(state.current_period_end) or record.current_period_end
    record.stripe_subscription_id = record.stripe_subscription_id or state.id
    record.stripe_customer_id = record.stripe_customer_id or state.customer_id
    record.price_id = state.price_id or record.price_id  # the plan follows Stripe (a change here or in the portal)
    record.stripe_item_id = state.item_id or record.stripe_item_id
    record.trial_end = from_epoch(state.trial_end) or record.trial_end
    change = record.pending_change
    if change is not None and change.price_id == record.price_id:
        record.pending_change = None  # the plan change is made (whoever reported it first)
    record.updated_at = now_iso()
    return before != (record.status, record.cancel_at_period_end, record.current_period_end,
                      record.stripe_subscription_id, record.price_id, record.trial_end, record.pending_change is None)


def _check_subscribable(caller: Caller, order: OrderRecord, request: SubscribeRequest) -> None:
    if order.user_id != caller.user_id:
        raise Forbidden("only the order's owner can subscribe", code="not_order_owner")
    if order.kind != "subscription":
        raise Conflict(f"a {order.kind} order is paid through checkout", code="order_not_subscription")
    if order.price_id != request.price_id:
        raise Unprocessable("priceId is not this order's price", code="price_mismatch")
    if order.status != "pending":
        raise Conflict(f"the order is already {order.status}", code="order_not_pending")


Started = StripeSubscription | StripeCheckoutSession


class SubscriptionAtStripe(RecordFirst[RecurringPaymentRecord, Started]):
    """A subscription of ``order`` at Stripe: made at once (``payment_intent``) or by a hosted Checkout."""

    name = "Subscription"

    def __init__(self, order: OrderRecord, request: SubscribeRequest | None = None, customer_id: str = "",
                 promotion: promotions.Promotion | None = None):
        self.order, self.request, self.customer_id, self.promotion = order, request, customer_id, promotion

    def reserve(self) -> RecurringPaymentRecord:
        order, request, now = self.order, self.request, now_iso()
        assert request is not None
        discount = self.promotion.discount() if self.promotion else None
        first = 0 if request.trial_days else int(order.amount) - (int(discount.amount) if discount else 0)
        record = RecurringPaymentRecord(new_id("sub_rec"), order_id=order.order_id, user_id=order.user_id,
                                        price_id=request.price_id, currency=order.currency, status="incomplete",
                                        mode=request.mode,
                                        stripe_customer_id=self.customer_id, trial_days=request.trial_days,
                                        first_invoice_amount=first, discount=discount,
                                        success_url=request.success_url, cancel_url=request.cancel_url,
                                        created_at=now, updated_at=now)
        order.recurring_payment_id, order.updated_at = record.recurring_payment_id, now
        store.Transaction().save(record).save(order).commit()
        count("SubscriptionStarted")
        return record

    def record_id(self, record: RecurringPaymentRecord) -> str:
        return record.recurring_payment_id

    def call(self, record: RecurringPaymentRecord, idempotency_key: str) -> Started:
        metadata = {"orderId": record.order_id, "recurringPaymentId": record.recurring_payment_id,
                    "userId": record.user_id}
        trial = stripe_api.Trial(int(record.trial_days), TRIAL_END_BEHAVIOR) if record.trial_days else None
        promotion_id = record.discount.promotion_code_id if record.discount else None
        if record.mode == "checkout_session":
            return stripe_api.create_subscription_checkout(
                idempotency_key=idempotency_key, customer_id=record.stripe_customer_id or "",
                price_id=record.price_id, metadata=metadata, client_reference_id=record.order_id,
                success_url=record.success_url or "", cancel_url=record.cancel_url or "", trial=trial,
                promotion_code_id=promotion_id)
        return stripe_api.create_subscription(
            idempotency_key=idempotency_key, customer_id=record.stripe_customer_id or "", price_id=record.price_id,
            metadata=metadata, trial=trial, promotion_code_id=promotion_id)

    def record(self, record: RecurringPaymentRecord, answer: Started) -> None:
        """Link the record to its subscription (or its Checkout Session). Stripe's first events may have linked it
        already and moved it on: then they, not this older answer, say where it is."""
        def attempt() -> None:
            fresh = recurring_store.get(record.recurring_payment_id)
            if fresh is None or fresh.status in ENDED:
                return
            if isinstance(answer, StripeCheckoutSession):
                if fresh.stripe_checkout_session_id:
                    return
                fresh.stripe_checkout_session_id, fresh.updated_at = answer.id, now_iso()
            elif fresh.stripe_subscription_id:
                return
            else:
                apply_state(fresh, answer)
            recurring_store.save(fresh)

        retry_on_conflict(attempt, busy)

    def release(self, record: RecurringPaymentRecord, error: ApiError) -> None:
        tx = store.Transaction()
        recurring_store.fail_unstarted(tx, record.recurring_payment_id)
        order_store.release_recurring_payment(tx, record.order_id, record.recurring_payment_id)
        tx.commit()


def start_subscription(caller: Caller, request: SubscribeRequest) -> dict[str, Any]:
    terms: dict[str, Any] = {}

    def attempt(order: OrderRecord) -> dict[str, Any]:
        _check_subscribable(caller, order, request)
        previous = recurring_store.get(order.recurring_payment_id) if order.recurring_payment_id else None
        if previous is not None and previous.status not in ENDED:
            return _resume_start(order, previous, request)
        if "customer" not in terms:  # once, however many races are lost
            terms["customer"] = ensure_customer(caller.user_id)
            terms["promotion"] = promotions.promotion_for(
                request.promotion_code, amount=int(order.amount), currency=order.currency,
                customer_id=terms["customer"])
        action = SubscriptionAtStripe(order, request, terms["customer"], terms["promotion"])
        record = action.reserve()
        return _answer(record, action.complete(record))

    return on_order(caller, request.order_id, attempt)


def _resume_start(order: OrderRecord, record: RecurringPaymentRecord, request: SubscribeRequest) -> dict[str, Any]:
    """The subscription this order already has: the same one again while its first payment is open."""
    if record.mode != request.mode:
        raise Conflict(f"this order's subscription was started in {record.mode} mode and is not finished",
                       code="subscription_in_progress")
    if not (record.stripe_subscription_id or record.stripe_checkout_session_id):
        # same idempotency key: the same Stripe subscription (or Session)
        return _answer(record, SubscriptionAtStripe(order, request).complete(record))
    if record.mode == "checkout_session" and not record.stripe_subscription_id:
        session = stripe_api.retrieve_checkout_session(record.stripe_checkout_session_id or "")
        if session.is_open:
            return _answer(record, session)
        raise Conflict(f"this order's checkout is {session.status}", code="already_subscribed")
    state = stripe_api.retrieve_subscription(record.stripe_subscription_id or "", expand_invoice=True)
    if state.status != "incomplete":
        raise Conflict(f"this order's subscription is {state.status}", code="already_subscribed")
    return _answer(record, state)


def _answer(record: RecurringPaymentRecord, state: Started) -> dict[str, Any]:
    session = state if isinstance(state, StripeCheckoutSession) else None
    subscription = state if isinstance(state, StripeSubscription) else None
    secret, secret_type = None, None
    if subscription is not None and subscription.setup_secret and subscription.status == "trialing":
        secret, secret_type = subscription.setup_secret, "setup_intent"
    elif subscription is not None and subscription.client_secret:
        secret, secret_type = subscription.client_secret, "payment_intent"
    return {"recurringPaymentId": record.recurring_payment_id, "orderId": record.order_id,
            "stripeSubscriptionId": subscription.id if subscription else record.stripe_subscription_id,
            "status": subscription.status if subscription else record.status, "mode": record.mode,
            "clientSecret": secret, "clientSecretType": secret_type,
            "checkoutUrl": session.url if session else None,
            "trialEnd": from_epoch(subscription.trial_end) if subscription else None}


# --- cancel and resume --------------------------------------------------------------------------------------


def load_visible_subscription(caller: Caller, recurring_payment_id: str) -> RecurringPaymentRecord:
    record = (recurring_store.get(recurring_payment_id)
              if validation.is_identifier(recurring_payment_id, "sub_rec_") else None)
    if record is None or not caller.can_see(record.user_id):
        raise NotFound("no such subscription", code="subscription_not_found")
    return record


def save_api_answer(record: RecurringPaymentRecord, state: StripeSubscription) -> RecurringPaymentRecord:
    """Apply Stripe's answer to a change we asked for, marked ``changedByApi`` (no stamp: see the module)."""
    def attempt() -> RecurringPaymentRecord:
        fresh = recurring_store.get(record.recurring_payment_id) or record
        if fresh.status in ENDED:
            return fresh
        if apply_state(fresh, state):
            fresh.changed_by_api = True
            recurring_store.save(fresh)
        return fresh

    return retry_on_conflict(attempt, busy)


def cancel_subscription(caller: Caller, recurring_payment_id: str, *, at_period_end: bool) -> dict[str, Any]:
    record = load_visible_subscription(caller, recurring_payment_id)
    if record.status in ENDED:
        raise Conflict(f"the subscription is already {record.status}", code="already_canceled")
    if at_period_end and record.cancel_at_period_end:
        raise Conflict("the subscription is already set to cancel at the end of its period",
                       code="already_canceled")
    if not record.stripe_subscription_id:
        raise Conflict("the subscription has not started yet", code="subscription_not_started")
    key = f"{record.recurring_payment_id}:v{record.version}:cancel{'-at-period-end' if at_period_end else ''}"
    if at_period_end:
        state = stripe_api.set_cancel_at_period_end(record.stripe_subscription_id, True, idempotency_key=key)
    else:
        state = stripe_api.cancel_subscription(record.stripe_subscription_id, idempotency_key=key)
    saved = save_api_answer(record, state)
    count("SubscriptionCanceled" if not at_period_end else "SubscriptionCancelScheduled")
    logger.info("subscription cancel", extra={"recurring_payment_id": record.recurring_payment_id,
                                              "at_period_end": at_period_end, "by": caller.user_id})
    return subscription_view(saved)


def resume_subscription(caller: Caller, recurring_payment_id: str) -> dict[str, Any]:
    record = load_visible_subscription(caller, recurring_payment_id)
    if record.status in ENDED:
        raise Conflict(f"the subscription is already {record.status}", code="already_canceled")
    if not record.cancel_at_period_end or not record.stripe_subscription_id:
        raise Conflict("the subscription is not set to cancel", code="not_canceling")
    key = f"{record.recurring_payment_id}:v{record.version}:resume"
    state = stripe_api.set_cancel_at_period_end(record.stripe_subscription_id, False, idempotency_key=key)
    return subscription_view(save_api_answer(record, state))

"""The Stripe adapter: the only module that calls Stripe's API.

- One ``StripeClient``, created on first use with the key from the settings (``STRIPE_API_BASE`` points
  it at a local emulator). The ``stripe`` package is imported only then, so a function that never calls
  Stripe does not pay for it.
- Every create call carries an idempotency key derived from our own record id, so a retry (ours, the
  SDK's, or a client's) can never make a second object.
- Answers come back as small frozen dataclasses; Stripe's failures come back as ``payments.errors``
  (503 unreachable or rate-limited, 502 broken, 422 refused, ``StripeResourceMissing`` for an unknown id).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from payments.config import get_settings
from payments.errors import NotFound, Unprocessable, UpstreamError, UpstreamUnavailable
from payments.observability import logger

if TYPE_CHECKING:
    import stripe


class StripeResourceMissing(NotFound):
    code = "stripe_resource_missing"

    def __init__(self, message: str, *, param: str | None):
        super().__init__(message)
        self.param = param


class StripeRejected(Unprocessable):
    """Stripe refused the request as invalid (e.g. an amount below its minimum for the currency)."""

    code = "stripe_rejected"


@dataclass(frozen=True)
class PaymentIntentRef:
    id: str
    status: str
    client_secret: str | None
    amount: int
    currency: str

    @property
    def is_open(self) -> bool:
        return self.status not in ("canceled", "succeeded")

    @property
    def is_taking_money(self) -> bool:
        return self.status in ("succeeded", "processing")


@dataclass(frozen=True)
class CheckoutSessionRef:
    id: str
    status: str | None  # open | complete | expired
    url: str | None
    payment_intent_id: str | None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_taking_money(self) -> bool:
        return self.status == "complete"


@dataclass(frozen=True)
class PriceRef:
    id: str
    currency: str
    unit_amount: int | None
    recurring: bool
    active: bool


@functools.cache
def client() -> stripe.StripeClient:
    import stripe

    settings = get_settings()
    return stripe.StripeClient(
        settings.stripe_secret_key(),
        base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
        max_network_retries=settings.stripe_max_network_retries,
        http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
    )


def reset() -> None:
    client.cache_clear()


@contextmanager
def stripe_errors(action: str) -> Iterator[None]:
    """Stripe's exceptions, as the product's errors. Messages never carry a key."""
    import stripe

    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("Stripe unavailable", extra={"action": action, "stripe_error": type(error).__name__})
        code = "stripe_rate_limited" if isinstance(error, stripe.RateLimitError) else "stripe_unavailable"
        raise UpstreamUnavailable("the payment provider is unavailable; try again shortly", code=code,
                                  headers={"Retry-After": "2"}) from error
    except stripe.InvalidRequestError as error:
        if error.code == "resource_missing":
            raise StripeResourceMissing(error.user_message or "not found at Stripe", param=error.param) from error
        logger.warning("Stripe refused a request",
                       extra={"action": action, "stripe_code": error.code, "param": error.param})
        raise StripeRejected(error.user_message or "the payment provider refused the request") from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        logger.error("Stripe rejected our credentials", extra={"action": action})
        raise UpstreamError("the payment provider is misconfigured", code="stripe_misconfigured") from error
    except stripe.StripeError as error:
        logger.warning("Stripe failed", extra={"action": action, "stripe_error": type(error).__name__,
                                                "http_status": error.http_status})
        raise UpstreamError("the payment provider failed; try again shortly") from error


def _intent(obj: stripe.PaymentIntent) -> PaymentIntentRef:
    return PaymentIntentRef(id=obj.id, status=obj.status, client_secret=obj.client_secret,
                            amount=obj.amount, currency=obj.currency)


def _session(obj: stripe.checkout.Session) -> CheckoutSessionRef:
    return CheckoutSessionRef(id=obj.id, status=obj.status, url=obj.url,
                              payment_intent_id=object_id(obj.payment_intent))


def create_payment_intent(*, payment_id: str, order_id: str, user_id: str, amount: int, currency: str,
                          description: str) -> PaymentIntentRef:
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": amount,
        "currency": currency,
        "automatic_payment_methods": {"enabled": True},
        "metadata": {"orderId": order_id, "paymentId": payment_id, "userId": user_id},
    }
    if description:
        params["description"] = description[:1000]
    with stripe_errors("payment_intents.create"):
        intent = client().v1.payment_intents.create(params, {"idempotency_key": f"{payment_id}:create"})
    return _intent(intent)


def retrieve_payment_intent(intent_id: str) -> PaymentIntentRef:
    with stripe_errors("payment_intents.retrieve"):
        return _intent(client().v1.payment_intents.retrieve(intent_id))


def cancel_payment_intent(intent_id: str, *, payment_id: str) -> PaymentIntentRef:
    with stripe_errors("payment_intents.cancel"):
        intent = client().v1.payment_intents.cancel(intent_id, {}, {"idempotency_key": f"{payment_id}:cancel"})
    return _intent(intent)


def create_checkout_session(*, payment_id: str, order_id: str, user_id: str, amount: int, currency: str,
                            description: str, success_url: str, cancel_url: str) -> CheckoutSessionRef:
    metadata = {"orderId": order_id, "paymentId": payment_id, "userId": user_id}
    params: stripe.params.checkout.SessionCreateParams = {
        "mode": "payment",
        "client_reference_id": order_id,
        "line_items": [{
            "quantity": 1,
            "price_data": {"currency": currency, "unit_amount": amount,
                           "product_data": {"name": (description or f"Order {order_id}")[:250]}},
        }],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    with stripe_errors("checkout.sessions.create"):
        session = client().v1.checkout.sessions.create(params, {"idempotency_key": f"{payment_id}:create"})
    return _session(session)


def retrieve_checkout_session(session_id: str) -> CheckoutSessionRef:
    with stripe_errors("checkout.sessions.retrieve"):
        return _session(client().v1.checkout.sessions.retrieve(session_id))


def expire_checkout_session(session_id: str, *, payment_id: str) -> CheckoutSessionRef:
    with stripe_errors("checkout.sessions.expire"):
        session = client().v1.checkout.sessions.expire(session_id, {}, {"idempotency_key": f"{payment_id}:expire"})
    return _session(session)


def retrieve_price(price_id: str) -> PriceRef:
    with stripe_errors("prices.retrieve"):
        price = client().v1.prices.retrieve(price_id)
    return PriceRef(id=price.id, currency=price.currency, unit_amount=price.unit_amount,
                    recurring=price.recurring is not None, active=bool(price.active))


@dataclass(frozen=True)
class RefundRef:
    id: str
    status: str | None
    amount: int
    currency: str
    payment_intent_id: str | None
    charge_id: str | None
    metadata: dict[str, str]
    reason: str | None = None
    failure_reason: str | None = None

    @classmethod
    def from_payload(cls, obj: dict[str, Any]) -> RefundRef:
        """From a refund as a webhook payload carries it (a plain dict)."""
        metadata = obj.get("metadata")
        return cls(id=obj["id"], status=obj.get("status"), amount=int(obj.get("amount") or 0),
                   currency=str(obj.get("currency") or ""), payment_intent_id=object_id(obj.get("payment_intent")),
                   charge_id=object_id(obj.get("charge")),
                   metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
                   reason=obj.get("reason"), failure_reason=obj.get("failure_reason"))


def object_id(value: Any) -> str | None:
    """The id of a Stripe reference however it comes: an id string, an expanded object, or its dict."""
    if isinstance(value, dict):
        value = value.get("id")
    elif value is not None and not isinstance(value, str):
        value = getattr(value, "id", None)
    return value if isinstance(value, str) else None


def create_refund(*, refund_id: str, payment_id: str, order_id: str, payment_intent_id: str, amount: int,
                  reason: str | None) -> RefundRef:
    params: stripe.params.RefundCreateParams = {
        "payment_intent": payment_intent_id,
        "amount": amount,
        "metadata": {"refundId": refund_id, "paymentId": payment_id, "orderId": order_id},
    }
    if reason in ("duplicate", "fraudulent", "requested_by_customer"):
        params["reason"] = reason
    with stripe_errors("refunds.create"):
        refund = client().v1.refunds.create(params, {"idempotency_key": f"{refund_id}:create"})
    return RefundRef.from_payload(refund.to_dict())


def list_charge_refunds(charge_id: str) -> list[RefundRef]:
    """Every refund of a charge (a ``charge.refunded`` payload may not list them)."""
    with stripe_errors("refunds.list"):
        page = client().v1.refunds.list({"charge": charge_id, "limit": 100})
    return [RefundRef.from_payload(refund.to_dict()) for refund in page.auto_paging_iter()]


# --- billing ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriptionState:
    """What we keep of a Stripe subscription, from an API answer or an event payload alike."""

    id: str
    status: str
    cancel_at_period_end: bool
    current_period_end: int | None
    customer_id: str | None
    metadata: dict[str, str]
    client_secret: str | None = None  # of the latest invoice's payment, when it was expanded

    @classmethod
    def from_payload(cls, obj: dict[str, Any]) -> SubscriptionState:
        items = (obj.get("items") or {}).get("data") or []
        # The current API version keeps the period on each item; older ones on the subscription.
        period_end = (items[0].get("current_period_end") if items and isinstance(items[0], dict) else None) \
            or obj.get("current_period_end")
        invoice = obj.get("latest_invoice")
        secret = None
        if isinstance(invoice, dict):
            confirmation = invoice.get("confirmation_secret") or {}
            intent = invoice.get("payment_intent") or {}
            secret = confirmation.get("client_secret") or (intent.get("client_secret") if isinstance(intent, dict)
                                                           else None)
        metadata = obj.get("metadata")
        return cls(id=obj["id"], status=str(obj.get("status") or ""),
                   cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
                   current_period_end=period_end if isinstance(period_end, int) else None,
                   customer_id=object_id(obj.get("customer")),
                   metadata={str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {},
                   client_secret=secret)


def create_customer(user_id: str) -> str:
    """The user's Stripe customer. The key is the user's, so concurrent first requests get one customer."""
    params: stripe.params.CustomerCreateParams = {"metadata": {"userId": user_id}}
    with stripe_errors("customers.create"):
        customer = client().v1.customers.create(params, {"idempotency_key": f"customer:{user_id}"})
    return customer.id


def create_subscription(*, recurring_payment_id: str, order_id: str, user_id: str, customer_id: str,
                        price_id: str) -> SubscriptionState:
    """An ``incomplete`` subscription whose first invoice the client pays with the returned client secret."""
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer_id,
        "items": [{"price": price_id, "quantity": 1}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret"],
        "metadata": {"orderId": order_id, "recurringPaymentId": recurring_payment_id, "userId": user_id},
    }
    with stripe_errors("subscriptions.create"):
        subscription = client().v1.subscriptions.create(
            params, {"idempotency_key": f"{recurring_payment_id}:create"})
    return SubscriptionState.from_payload(subscription.to_dict())


def retrieve_subscription(subscription_id: str, *, expand_invoice: bool = False) -> SubscriptionState:
    params: stripe.params.SubscriptionRetrieveParams = (
        {"expand": ["latest_invoice.confirmation_secret"]} if expand_invoice else {})
    with stripe_errors("subscriptions.retrieve"):
        subscription = client().v1.subscriptions.retrieve(subscription_id, params)
    return SubscriptionState.from_payload(subscription.to_dict())


def set_cancel_at_period_end(subscription_id: str, value: bool, *, idempotency_key: str) -> SubscriptionState:
    params: stripe.params.SubscriptionUpdateParams = {"cancel_at_period_end": value}
    with stripe_errors("subscriptions.update"):
        subscription = client().v1.subscriptions.update(subscription_id, params,
                                                         {"idempotency_key": idempotency_key})
    return SubscriptionState.from_payload(subscription.to_dict())


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> SubscriptionState:
    with stripe_errors("subscriptions.cancel"):
        subscription = client().v1.subscriptions.cancel(subscription_id, {}, {"idempotency_key": idempotency_key})
    return SubscriptionState.from_payload(subscription.to_dict())

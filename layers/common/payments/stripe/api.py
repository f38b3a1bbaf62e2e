"""Every call the product makes to Stripe, with typed answers (``payments.stripe.objects``).

Each create call takes the idempotency key its caller derives from our own record id (``payments.record_first``
builds them), so a retry (ours, the SDK's, or a client's) can never make a second object. The metadata our
objects carry names our records: a hint for finding them when Stripe reports back, never proof (see
``payments.webhooks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from payments.stripe.client import client, stripe_errors
from payments.stripe.objects import (
    StripeCheckoutSession,
    StripeCustomer,
    StripeEventPage,
    StripePaymentIntent,
    StripePrice,
    StripeRefund,
    StripeSubscription,
    StripeWebhookEndpoint,
)

if TYPE_CHECKING:
    import stripe

REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


@dataclass(frozen=True)
class LineItem:
    """One line of a hosted Checkout: a catalog price (Stripe shows its product), or an amount and a name."""

    quantity: int
    price_id: str | None = None
    amount: int | None = None
    name: str | None = None


# --- one-time payments ----------------------------------------------------------------------------------------


def create_payment_intent(*, idempotency_key: str, amount: int, currency: str, metadata: dict[str, str],
                          description: str | None) -> StripePaymentIntent:
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": amount,
        "currency": currency,
        "automatic_payment_methods": {"enabled": True},
        "metadata": metadata,
    }
    if description:
        params["description"] = description[:1000]
    with stripe_errors("payment_intents.create"):
        intent = client().v1.payment_intents.create(params, {"idempotency_key": idempotency_key})
    return StripePaymentIntent.parse(intent.to_dict())


def retrieve_payment_intent(intent_id: str) -> StripePaymentIntent:
    with stripe_errors("payment_intents.retrieve"):
        return StripePaymentIntent.parse(client().v1.payment_intents.retrieve(intent_id).to_dict())


def cancel_payment_intent(intent_id: str, *, idempotency_key: str) -> StripePaymentIntent:
    with stripe_errors("payment_intents.cancel"):
        intent = client().v1.payment_intents.cancel(intent_id, {}, {"idempotency_key": idempotency_key})
    return StripePaymentIntent.parse(intent.to_dict())


def create_checkout_session(*, idempotency_key: str, currency: str, lines: Sequence[LineItem],
                            metadata: dict[str, str], client_reference_id: str, success_url: str,
                            cancel_url: str) -> StripeCheckoutSession:
    line_items: list[stripe.params.checkout.SessionCreateParamsLineItem] = []
    for line in lines:
        if line.price_id is not None:
            line_items.append({"price": line.price_id, "quantity": line.quantity})
        else:
            line_items.append({"quantity": line.quantity, "price_data": {
                "currency": currency, "unit_amount": line.amount or 0,
                "product_data": {"name": (line.name or client_reference_id)[:250]}}})
    params: stripe.params.checkout.SessionCreateParams = {
        "mode": "payment",
        "client_reference_id": client_reference_id,
        "line_items": line_items,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    with stripe_errors("checkout.sessions.create"):
        session = client().v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    return StripeCheckoutSession.parse(session.to_dict())


def retrieve_checkout_session(session_id: str) -> StripeCheckoutSession:
    with stripe_errors("checkout.sessions.retrieve"):
        return StripeCheckoutSession.parse(client().v1.checkout.sessions.retrieve(session_id).to_dict())


def expire_checkout_session(session_id: str, *, idempotency_key: str) -> StripeCheckoutSession:
    with stripe_errors("checkout.sessions.expire"):
        session = client().v1.checkout.sessions.expire(session_id, {}, {"idempotency_key": idempotency_key})
    return StripeCheckoutSession.parse(session.to_dict())


def retrieve_price(price_id: str) -> StripePrice:
    with stripe_errors("prices.retrieve"):
        return StripePrice.parse(client().v1.prices.retrieve(price_id).to_dict())


# --- refunds --------------------------------------------------------------------------------------------------


def create_refund(*, idempotency_key: str, payment_intent_id: str, amount: int, metadata: dict[str, str],
                  reason: str | None) -> StripeRefund:
    params: stripe.params.RefundCreateParams = {"payment_intent": payment_intent_id, "amount": amount,
                                                "metadata": metadata}
    if reason in REFUND_REASONS:
        params["reason"] = reason
    with stripe_errors("refunds.create"):
        refund = client().v1.refunds.create(params, {"idempotency_key": idempotency_key})
    return StripeRefund.parse(refund.to_dict())


def retrieve_refund(refund_id: str) -> StripeRefund:
    with stripe_errors("refunds.retrieve"):
        return StripeRefund.parse(client().v1.refunds.retrieve(refund_id).to_dict())


def list_payment_intent_refunds(payment_intent_id: str) -> list[StripeRefund]:
    """Every refund of a PaymentIntent (the reconciler looks for one of ours that was never recorded)."""
    with stripe_errors("refunds.list"):
        page = client().v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
        return [StripeRefund.parse(refund.to_dict()) for refund in page.auto_paging_iter()]


def list_charge_refunds(charge_id: str) -> list[StripeRefund]:
    """Every refund of a charge (a ``charge.refunded`` payload may not list them all)."""
    with stripe_errors("refunds.list"):
        page = client().v1.refunds.list({"charge": charge_id, "limit": 100})
        return [StripeRefund.parse(refund.to_dict()) for refund in page.auto_paging_iter()]


# --- customers and subscriptions -------------------------------------------------------------------------------


def find_customer(user_id: str) -> StripeCustomer | None:
    """The customer Stripe holds for our user (``metadata.userId``), if any: the oldest when there are several.
    Stripe's search index lags by up to a minute; the idempotency key covers that window."""
    query = "metadata['userId']:'" + user_id.replace("\\", "\\\\").replace("'", "\\'") + "'"
    with stripe_errors("customers.search"):
        found = client().v1.customers.search({"query": query, "limit": 10})
        customers = sorted(found.data, key=lambda c: (c.created, c.id))
    return StripeCustomer.parse(customers[0].to_dict()) if customers else None


def create_customer(*, idempotency_key: str, user_id: str) -> StripeCustomer:
    params: stripe.params.CustomerCreateParams = {"metadata": {"userId": user_id}}
    with stripe_errors("customers.create"):
        customer = client().v1.customers.create(params, {"idempotency_key": idempotency_key})
    return StripeCustomer.parse(customer.to_dict())


def create_subscription(*, idempotency_key: str, customer_id: str, price_id: str,
                        metadata: dict[str, str]) -> StripeSubscription:
    """An ``incomplete`` subscription whose first invoice the client pays with the returned client secret."""
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer_id,
        "items": [{"price": price_id, "quantity": 1}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret"],
        "metadata": metadata,
    }
    with stripe_errors("subscriptions.create"):
        subscription = client().v1.subscriptions.create(params, {"idempotency_key": idempotency_key})
    return StripeSubscription.parse(subscription.to_dict())


def retrieve_subscription(subscription_id: str, *, expand_invoice: bool = False) -> StripeSubscription:
    params: stripe.params.SubscriptionRetrieveParams = (
        {"expand": ["latest_invoice.confirmation_secret"]} if expand_invoice else {})
    with stripe_errors("subscriptions.retrieve"):
        subscription = client().v1.subscriptions.retrieve(subscription_id, params)
    return StripeSubscription.parse(subscription.to_dict())


def set_cancel_at_period_end(subscription_id: str, value: bool, *, idempotency_key: str) -> StripeSubscription:
    params: stripe.params.SubscriptionUpdateParams = {"cancel_at_period_end": value}
    with stripe_errors("subscriptions.update"):
        subscription = client().v1.subscriptions.update(subscription_id, params, {"idempotency_key": idempotency_key})
    return StripeSubscription.parse(subscription.to_dict())


def cancel_subscription(subscription_id: str, *, idempotency_key: str) -> StripeSubscription:
    with stripe_errors("subscriptions.cancel"):
        subscription = client().v1.subscriptions.cancel(subscription_id, {}, {"idempotency_key": idempotency_key})
    return StripeSubscription.parse(subscription.to_dict())


# --- events (the reconciler) -------------------------------------------------------------------------------------

MAX_EVENT_TYPES = 20  # Stripe's limit on ``types[]`` in one list call


def list_events(*, created_gte: int, types: Sequence[str] | None, starting_after: str | None = None,
                limit: int = 100) -> StripeEventPage:
    """One page of Stripe's events created at or after ``created_gte`` (Stripe's clock), newest first, of
    ``types`` (at most 20; None: every type), after ``starting_after`` (the last id of the previous page)."""
    params: dict[str, Any] = {"created": {"gte": created_gte}, "limit": limit}
    if types:
        params["types"] = list(types)
    if starting_after:
        params["starting_after"] = starting_after
    with stripe_errors("events.list"):
        page = client().v1.events.list(cast("stripe.params.EventListParams", params))
    return StripeEventPage(events=[event.to_dict() for event in page.data], has_more=bool(page.has_more))


# --- webhook endpoints (registration: the stack's custom resource and the local stack) ------------------------


def list_webhook_endpoints() -> list[StripeWebhookEndpoint]:
    with stripe_errors("webhook_endpoints.list"):
        page = client().v1.webhook_endpoints.list({"limit": 100})
        return [StripeWebhookEndpoint.parse(e.to_dict()) for e in page.auto_paging_iter()]


def create_webhook_endpoint(*, url: str, events: Sequence[str], api_version: str, metadata: Mapping[str, str],
                            description: str, idempotency_key: str) -> StripeWebhookEndpoint:
    """A new endpoint; its answer is the only time Stripe shows its signing secret (``secret``)."""
    params = {"url": url, "enabled_events": list(events), "api_version": api_version, "metadata": dict(metadata),
              "description": description[:5000]}
    with stripe_errors("webhook_endpoints.create"):
        endpoint = client().v1.webhook_endpoints.create(cast("stripe.params.WebhookEndpointCreateParams", params),
                                                        {"idempotency_key": idempotency_key})
    return StripeWebhookEndpoint.parse(endpoint.to_dict())


def update_webhook_endpoint(endpoint_id: str, *, url: str, events: Sequence[str]) -> StripeWebhookEndpoint:
    """Its URL and event types (Stripe cannot change an endpoint's API version: that takes a new endpoint)."""
    params = {"url": url, "enabled_events": list(events)}
    with stripe_errors("webhook_endpoints.update"):
        endpoint = client().v1.webhook_endpoints.update(
            endpoint_id, cast("stripe.params.WebhookEndpointUpdateParams", params))
    return StripeWebhookEndpoint.parse(endpoint.to_dict())


def delete_webhook_endpoint(endpoint_id: str) -> None:
    with stripe_errors("webhook_endpoints.delete"):
        client().v1.webhook_endpoints.delete(endpoint_id)

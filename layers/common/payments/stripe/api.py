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

from payments.stripe.client import StripeResourceMissing, client, stripe_errors
from payments.stripe.objects import (
    StripeAccount,
    StripeAccountLink,
    StripeCharge,
    StripeCheckoutSession,
    StripeCustomer,
    StripeEntitlement,
    StripeEventPage,
    StripeInvoicePreview,
    StripeMeterErrorReport,
    StripeMeterEvent,
    StripePaymentIntent,
    StripePaymentMethod,
    StripePortalSession,
    StripePrice,
    StripePromotionCode,
    StripeRefund,
    StripeSetupIntent,
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


@dataclass(frozen=True)
class Destination:
    """A destination charge (Connect): the connected account the money goes to, less the platform's fee."""

    account_id: str
    application_fee_amount: int


# --- one-time payments ----------------------------------------------------------------------------------------


def create_payment_intent(*, idempotency_key: str, amount: int, currency: str, metadata: dict[str, str],
                          description: str | None, customer_id: str | None = None,
                          payment_method_id: str | None = None,
                          destination: Destination | None = None) -> StripePaymentIntent:
    """A PaymentIntent the client confirms; or, with ``payment_method_id`` (a saved card of ``customer_id``),
    one confirmed here with the customer present (on-session): it succeeds, is declined (``StripeRejected``),
    or answers ``requires_action`` for the client to finish 3-D Secure with its client secret. ``destination``:
    a destination charge to a seller's connected account, with the platform's fee."""
    params: stripe.params.PaymentIntentCreateParams = {
        "amount": amount,
        "currency": currency,
        "automatic_payment_methods": {"enabled": True},
        "metadata": metadata,
    }
    if description:
        params["description"] = description[:1000]
    if customer_id:
        params["customer"] = customer_id
    if payment_method_id:
        # A saved card confirmed here: no redirect-based method can be used without a return URL.
        params["payment_method"] = payment_method_id
        params["confirm"] = True
        params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
    if destination is not None:
        params["transfer_data"] = {"destination": destination.account_id}
        if destination.application_fee_amount:  # no fee: none asked for (the whole amount goes to the seller)
            params["application_fee_amount"] = destination.application_fee_amount
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
                            cancel_url: str, promotion_code_id: str | None = None,
                            destination: Destination | None = None) -> StripeCheckoutSession:
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
    if promotion_code_id:
        params["discounts"] = [{"promotion_code": promotion_code_id}]
    if destination is not None:
        params["payment_intent_data"] = {"metadata": metadata,
                                         "transfer_data": {"destination": destination.account_id}}
        if destination.application_fee_amount:
            params["payment_intent_data"]["application_fee_amount"] = destination.application_fee_amount
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
                  reason: str | None, reverse_transfer: bool = False) -> StripeRefund:
    """A refund; of a destination charge (``reverse_transfer``), it takes back the seller's share and refunds the
    platform's fee, both in proportion to the amount refunded."""
    params: stripe.params.RefundCreateParams = {"payment_intent": payment_intent_id, "amount": amount,
                                                "metadata": metadata}
    if reason in REFUND_REASONS:
        params["reason"] = reason
    if reverse_transfer:
        params["reverse_transfer"] = True
        params["refund_application_fee"] = True
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


@dataclass(frozen=True)
class Trial:
    """A free trial: ``days`` long; without a card by its end, the subscription ends as ``end_behavior`` says
    (Stripe's ``trial_settings.end_behavior.missing_payment_method``: ``cancel`` or ``pause``)."""

    days: int
    end_behavior: str


def _trial_params(trial: Trial) -> dict[str, object]:
    return {"trial_period_days": trial.days,
            "trial_settings": {"end_behavior": {"missing_payment_method": trial.end_behavior}}}


def create_subscription(*, idempotency_key: str, customer_id: str, price_id: str, metadata: dict[str, str],
                        trial: Trial | None = None, promotion_code_id: str | None = None) -> StripeSubscription:
    """An ``incomplete`` subscription whose first invoice the client pays with the returned client secret; with a
    trial, a ``trialing`` one whose pending SetupIntent's client secret saves the card for the trial's end."""
    params: stripe.params.SubscriptionCreateParams = {
        "customer": customer_id,
        "items": [{"price": price_id, "quantity": 1}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"],
        "metadata": metadata,
    }
    if trial is not None:
        params.update(_trial_params(trial))  # type: ignore[typeddict-item]
    if promotion_code_id:
        params["discounts"] = [{"promotion_code": promotion_code_id}]
    with stripe_errors("subscriptions.create"):
        subscription = client().v1.subscriptions.create(params, {"idempotency_key": idempotency_key})
    return StripeSubscription.parse(subscription.to_dict())


def create_subscription_checkout(*, idempotency_key: str, customer_id: str, price_id: str,
                                 metadata: dict[str, str], client_reference_id: str, success_url: str,
                                 cancel_url: str, trial: Trial | None = None,
                                 promotion_code_id: str | None = None) -> StripeCheckoutSession:
    """A hosted Checkout in subscription mode for our customer: the subscription exists once it completes."""
    subscription_data: dict[str, object] = {"metadata": metadata}
    if trial is not None:
        subscription_data.update(_trial_params(trial))
    params: stripe.params.checkout.SessionCreateParams = {
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": client_reference_id,
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": metadata,
        "subscription_data": subscription_data,  # type: ignore[typeddict-item]
    }
    if promotion_code_id:
        params["discounts"] = [{"promotion_code": promotion_code_id}]
    with stripe_errors("checkout.sessions.create"):
        session = client().v1.checkout.sessions.create(params, {"idempotency_key": idempotency_key})
    return StripeCheckoutSession.parse(session.to_dict())


def retrieve_subscription(subscription_id: str, *, expand_invoice: bool = False) -> StripeSubscription:
    params: stripe.params.SubscriptionRetrieveParams = (
        {"expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"]} if expand_invoice else {})
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


PRORATIONS = ("create_prorations", "none", "always_invoice")


def change_subscription_price(subscription_id: str, *, item_id: str, price_id: str, proration: str,
                              proration_date: int | None, idempotency_key: str) -> StripeSubscription:
    """The subscription's item moved to ``price_id``; with ``always_invoice``, the proration is invoiced (and
    charged) now, with ``create_prorations`` on the next invoice, with ``none`` not at all."""
    params: stripe.params.SubscriptionUpdateParams = {
        "items": [{"id": item_id, "price": price_id}],
        "proration_behavior": proration,
    }
    if proration_date is not None and proration != "none":
        params["proration_date"] = proration_date
    with stripe_errors("subscriptions.update"):
        subscription = client().v1.subscriptions.update(subscription_id, params, {"idempotency_key": idempotency_key})
    return StripeSubscription.parse(subscription.to_dict())


def preview_subscription_change(*, customer_id: str, subscription_id: str, item_id: str, price_id: str,
                                proration: str, proration_date: int) -> StripeInvoicePreview:
    """Stripe's invoice preview of the change: what the next invoice would be (``always_invoice``: the one the
    change makes now). Changes nothing."""
    params: stripe.params.InvoiceCreatePreviewParams = {
        "customer": customer_id,
        "subscription": subscription_id,
        "subscription_details": {"items": [{"id": item_id, "price": price_id}],
                                 "proration_behavior": proration,
                                 "proration_date": proration_date},
    }
    with stripe_errors("invoices.create_preview"):
        return StripeInvoicePreview.parse(client().v1.invoices.create_preview(params).to_dict())


# --- promotion codes ------------------------------------------------------------------------------------------


def find_promotion_code(code: str) -> StripePromotionCode | None:
    """The promotion code customers type (``FALL20``), its coupon expanded: the active one when there are several
    (a code is unique among active codes), else the newest."""
    with stripe_errors("promotion_codes.list"):
        page = client().v1.promotion_codes.list({"code": code, "limit": 10, "expand": ["data.promotion.coupon"]})
        found = [StripePromotionCode.parse(p.to_dict()) for p in page.data]
    return next((p for p in found if p.active), found[0] if found else None)


# --- saved payment methods, the customer portal ---------------------------------------------------------------


def retrieve_customer(customer_id: str) -> StripeCustomer:
    with stripe_errors("customers.retrieve"):
        return StripeCustomer.parse(client().v1.customers.retrieve(customer_id).to_dict())


def create_setup_intent(*, idempotency_key: str, customer_id: str, metadata: dict[str, str]) -> StripeSetupIntent:
    """A SetupIntent that saves a card to the customer for later off-session use (dynamic payment methods)."""
    params: stripe.params.SetupIntentCreateParams = {
        "customer": customer_id, "usage": "off_session", "automatic_payment_methods": {"enabled": True},
        "metadata": metadata}
    with stripe_errors("setup_intents.create"):
        intent = client().v1.setup_intents.create(params, {"idempotency_key": idempotency_key})
    return StripeSetupIntent.parse(intent.to_dict())


def retrieve_setup_intent(setup_intent_id: str) -> StripeSetupIntent:
    with stripe_errors("setup_intents.retrieve"):
        return StripeSetupIntent.parse(client().v1.setup_intents.retrieve(setup_intent_id).to_dict())


def list_payment_methods(customer_id: str) -> list[StripePaymentMethod]:
    """The customer's saved cards (at most 100: a customer with more is not a case this product serves)."""
    with stripe_errors("payment_methods.list"):
        page = client().v1.payment_methods.list({"customer": customer_id, "type": "card", "limit": 100})
        return [StripePaymentMethod.parse(m.to_dict()) for m in page.data]


def retrieve_payment_method(payment_method_id: str) -> StripePaymentMethod:
    with stripe_errors("payment_methods.retrieve"):
        return StripePaymentMethod.parse(client().v1.payment_methods.retrieve(payment_method_id).to_dict())


def set_default_payment_method(customer_id: str, payment_method_id: str, *, idempotency_key: str) -> StripeCustomer:
    params: stripe.params.CustomerUpdateParams = {"invoice_settings": {"default_payment_method": payment_method_id}}
    with stripe_errors("customers.update"):
        customer = client().v1.customers.update(customer_id, params, {"idempotency_key": idempotency_key})
    return StripeCustomer.parse(customer.to_dict())


def detach_payment_method(payment_method_id: str, *, idempotency_key: str) -> StripePaymentMethod:
    with stripe_errors("payment_methods.detach"):
        method = client().v1.payment_methods.detach(payment_method_id, {}, {"idempotency_key": idempotency_key})
    return StripePaymentMethod.parse(method.to_dict())


def create_portal_session(*, idempotency_key: str, customer_id: str, return_url: str) -> StripePortalSession:
    params: stripe.params.billing_portal.SessionCreateParams = {"customer": customer_id, "return_url": return_url}
    with stripe_errors("billing_portal.sessions.create"):
        session = client().v1.billing_portal.sessions.create(params, {"idempotency_key": idempotency_key})
    return StripePortalSession.parse(session.to_dict())


# --- entitlements -----------------------------------------------------------------------------------------------


def list_active_entitlements(customer_id: str) -> tuple[StripeEntitlement, ...]:
    """Every active entitlement of the customer (when a summary event does not list them all)."""
    with stripe_errors("entitlements.active_entitlements.list"):
        page = client().v1.entitlements.active_entitlements.list({"customer": customer_id, "limit": 100})
        return tuple(StripeEntitlement.parse(e.to_dict()) for e in page.auto_paging_iter())

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
                            description: str, idempotency_key: str, connect: bool = False) -> StripeWebhookEndpoint:
    """A new endpoint; its answer is the only time Stripe shows its signing secret (``secret``). ``connect``: a
    Connect endpoint, for the connected accounts' events (Stripe sets this at creation only)."""
    params: dict[str, Any] = {"url": url, "enabled_events": list(events), "api_version": api_version,
                              "metadata": dict(metadata), "description": description[:5000]}
    if connect:
        params["connect"] = True
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

# --- marketplace (Connect) --------------------------------------------------------------------------------------


def create_express_account(*, idempotency_key: str, metadata: dict[str, str]) -> StripeAccount:
    """An Express connected account that can receive destination charges (``transfers``) and take cards."""
    params: stripe.params.AccountCreateParams = {
        "type": "express",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        "metadata": metadata,
    }
    with stripe_errors("accounts.create"):
        account = client().v1.accounts.create(params, {"idempotency_key": idempotency_key})
    return StripeAccount.parse(account.to_dict())


def retrieve_account(account_id: str) -> StripeAccount:
    with stripe_errors("accounts.retrieve"):
        return StripeAccount.parse(client().v1.accounts.retrieve(account_id).to_dict())


def create_account_link(*, idempotency_key: str, account_id: str, refresh_url: str,
                        return_url: str) -> StripeAccountLink:
    """A link to Stripe's hosted onboarding for the account (valid a few minutes)."""
    params: stripe.params.AccountLinkCreateParams = {"account": account_id, "refresh_url": refresh_url,
                                                     "return_url": return_url, "type": "account_onboarding"}
    with stripe_errors("account_links.create"):
        link = client().v1.account_links.create(params, {"idempotency_key": idempotency_key})
    return StripeAccountLink.parse(link.to_dict())


def retrieve_charge(charge_id: str) -> StripeCharge:
    with stripe_errors("charges.retrieve"):
        return StripeCharge.parse(client().v1.charges.retrieve(charge_id).to_dict())


# --- usage billing ----------------------------------------------------------------------------------------------


def create_meter_event(*, idempotency_key: str, event_name: str, customer_id: str, value: int, identifier: str,
                       timestamp: int) -> StripeMeterEvent:
    """A Billing Meter event; Stripe counts one ``identifier`` once (for at least 24 hours)."""
    params: stripe.params.billing.MeterEventCreateParams = {
        "event_name": event_name, "identifier": identifier, "timestamp": timestamp,
        "payload": {"stripe_customer_id": customer_id, "value": str(value)},
    }
    with stripe_errors("billing.meter_events.create"):
        event = client().v1.billing.meter_events.create(params, {"idempotency_key": idempotency_key})
    return StripeMeterEvent.parse(event.to_dict())


def retrieve_meter_error_report(event_id: str) -> StripeMeterErrorReport:
    """The whole v2 event a thin ``v1.billing.meter.error_report_triggered`` notification names."""
    with stripe_errors("v2.core.events.retrieve"):
        return StripeMeterErrorReport.parse(client().v2.core.events.retrieve(event_id).to_dict())


# --- privacy ----------------------------------------------------------------------------------------------------


def delete_customer(customer_id: str) -> bool:
    """Delete the customer at Stripe (which ends its subscriptions): False when it was already gone. A DELETE is
    idempotent by itself (Stripe takes no idempotency key on it): a repeat finds nothing to delete."""
    try:
        with stripe_errors("customers.delete"):
            client().v1.customers.delete(customer_id)
    except StripeResourceMissing:
        return False
    return True

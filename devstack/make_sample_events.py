"""Write the sample Lambda events under ``events/`` from the builders in ``devstack``.

    python -m devstack.make_sample_events            # rewrite events/... in the repository
    python -m devstack.make_sample_events --check    # exit 1 if a file differs from what it would write

Every value that would otherwise be random or "now" (request ids, times, Stripe ids, signature
timestamps) is pinned here, so running the script again reproduces the files byte for byte and a
test can check that they have not drifted. The callback samples are therefore signed at a fixed
time in the past: re-sign them before ``sam local invoke`` (see ``events/README.md``).
"""

from __future__ import annotations

import argparse
import base64
import calendar
import hashlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack import REPO_ROOT
from devstack.lambda_events import (
    LOCAL_WEBHOOK_SECRETS,
    custom_resource_request,
    http_api_event,
    scheduled_event,
    signed_webhook_event,
    stripe_eventbridge_event,
    user_claims,
)
from devstack.stripe_events import stripe_event, stripe_object

EVENTS_DIR = REPO_ROOT / "events"

# 2026-11-01T10:00:00Z: the moment every sample pretends to happen at (in the past, so the
# stored signatures are stale, as any stored sample soon is).
SAMPLE_EPOCH = calendar.timegm((2026, 11, 1, 10, 0, 0, 0, 0, 0))

ORDER_ID = "ord_01JEXAMPLE00000000000000"
PAYMENT_ID = "pay_01JEXAMPLE00000000000000"
USER_ID = "user-alice"
ADMIN_ID = "admin-ada"
CATALOG_PRICE_ID = "price_1MoBy5LkdIwHu7ixZhnattbh"
AMOUNT = 1999
CURRENCY = "usd"
# The Stripe API version the samples' webhook endpoints use (stripe-python 16.1.0's pinned one);
# written out rather than read from the installed stripe so the files don't change with it.
SAMPLE_API_VERSION = "2026-10-28.endive"
PAYMENT_METADATA = {"orderId": ORDER_ID, "paymentId": PAYMENT_ID, "userId": USER_ID}

PAYMENT_INTENT_ID = "pi_3QEXAMPLE0000000000000001"
CHARGE_ID = "ch_3QEXAMPLE0000000000000001"
PAYMENT_METHOD_ID = "pm_1QEXAMPLE0000000000000001"
CHECKOUT_SESSION_ID = "cs_test_a1EXAMPLE000000000000000000000000000000000000000000000001"
SUCCESS_URL = "https://example.com/checkout/success?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://example.com/checkout/cancel"


def _api_gateway_id(name: str) -> str:
    # 11 bytes base64 -> 15 characters and "=", the shape of an HTTP API request id.
    return base64.b64encode(hashlib.sha256(name.encode()).digest()[:11]).decode("ascii")


def _lambda_request_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://example.com/events/{name}"))


def _event_id(name: str) -> str:
    return "evt_1QEXAMPLE" + hashlib.sha256(name.encode()).hexdigest()[:14]


def _http(name: str, method: str, route: str, claims: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return http_api_event(
        method,
        route,
        claims=claims,
        request_id=_api_gateway_id(name),
        time_epoch_ms=SAMPLE_EPOCH * 1000,
        **kwargs,
    )


def _alice() -> dict[str, Any]:
    return user_claims(USER_ID, issued_at=SAMPLE_EPOCH - 60)


def _ada() -> dict[str, Any]:
    return user_claims(ADMIN_ID, groups=["admin"], groups_format="json", issued_at=SAMPLE_EPOCH - 60)


def order_samples() -> dict[str, dict[str, Any]]:
    return {
        "orders/create_catalog_order.json": _http(
            "orders/create_catalog_order",
            "POST",
            "/orders",
            _alice(),
            body={"items": [{"priceId": CATALOG_PRICE_ID, "quantity": 2}], "description": "Two t-shirts"},
        ),
        "orders/create_admin_order.json": _http(
            "orders/create_admin_order",
            "POST",
            "/orders",
            _ada(),
            body={"userId": USER_ID, "amount": AMOUNT, "currency": CURRENCY, "description": "Invoice 42"},
        ),
        "orders/get_order.json": _http(
            "orders/get_order", "GET", "/orders/{orderId}", _alice(), path_params={"orderId": ORDER_ID}
        ),
        "orders/list_orders.json": _http(
            "orders/list_orders", "GET", "/orders", _alice(), query={"limit": 10}
        ),
    }


def checkout_samples() -> dict[str, dict[str, Any]]:
    return {
        "checkout/payment_intent.json": _http(
            "checkout/payment_intent",
            "POST",
            "/checkout",
            _alice(),
            body={"orderId": ORDER_ID, "mode": "payment_intent"},
        ),
        "checkout/checkout_session.json": _http(
            "checkout/checkout_session",
            "POST",
            "/checkout",
            _alice(),
            body={
                "orderId": ORDER_ID,
                "mode": "checkout_session",
                "successUrl": SUCCESS_URL,
                "cancelUrl": CANCEL_URL,
            },
        ),
    }


# --- Stripe objects for the payment callback ---------------------------------------------------


def _payment_intent(status: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": PAYMENT_INTENT_ID,
        "amount": AMOUNT,
        "amount_capturable": 0,
        "amount_received": 0,
        "canceled_at": None,
        "cancellation_reason": None,
        "client_secret": f"{PAYMENT_INTENT_ID}_secret_EXAMPLE0000000000000000",
        "created": SAMPLE_EPOCH - 120,
        "currency": CURRENCY,
        "description": None,
        "last_payment_error": None,
        "latest_charge": None,
        "metadata": dict(PAYMENT_METADATA),
        "next_action": None,
        "payment_method": None,
        "processing": None,
        "shipping": None,
        "status": status,
        "transfer_data": None,
    }
    fields.update(overrides)
    return stripe_object("payment_intent", **fields)


def _checkout_session(status: str, payment_status: str, **overrides: Any) -> dict[str, Any]:
    created = SAMPLE_EPOCH - 600
    fields: dict[str, Any] = {
        "id": CHECKOUT_SESSION_ID,
        "after_expiration": None,
        "amount_subtotal": AMOUNT,
        "amount_total": AMOUNT,
        "cancel_url": CANCEL_URL,
        "client_reference_id": ORDER_ID,
        "created": created,
        "currency": CURRENCY,
        "customer_details": {
            "address": {
                "city": None,
                "country": "US",
                "line1": None,
                "line2": None,
                "postal_code": "94103",
                "state": None,
            },
            "business_name": None,
            "email": f"{USER_ID}@example.com",
            "individual_name": None,
            "name": "Alice Example",
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        },
        "customer_email": f"{USER_ID}@example.com",
        "expires_at": created + 24 * 3600,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "metadata": dict(PAYMENT_METADATA),
        "mode": "payment",
        "payment_intent": PAYMENT_INTENT_ID,
        "payment_status": payment_status,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "status": status,
        "success_url": SUCCESS_URL,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "url": None,
    }
    fields.update(overrides)
    return stripe_object("checkout.session", **fields)


def _callback(name: str, event_type: str, obj: dict[str, Any], offset: int, endpoint: str = "payment"
              ) -> dict[str, Any]:
    created = SAMPLE_EPOCH + offset
    event = stripe_event(
        event_type, obj, event_id=_event_id(name), created=created, api_version=SAMPLE_API_VERSION
    )
    return signed_webhook_event(
        event,
        LOCAL_WEBHOOK_SECRETS[endpoint],
        timestamp=created + 1,
        request_id=_lambda_request_id(name),
    )


def payment_callback_samples() -> dict[str, dict[str, Any]]:
    declined = {
        "charge": CHARGE_ID,
        "code": "card_declined",
        "decline_code": "generic_decline",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card was declined.",
        "type": "card_error",
    }
    async_methods = ["card", "us_bank_account"]
    cases: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
        (
            "payment_intent_succeeded",
            "payment_intent.succeeded",
            lambda: _payment_intent(
                "succeeded",
                amount_received=AMOUNT,
                latest_charge=CHARGE_ID,
                payment_method=PAYMENT_METHOD_ID,
            ),
        ),
        (
            "payment_intent_payment_failed",
            "payment_intent.payment_failed",
            lambda: _payment_intent(
                "requires_payment_method", latest_charge=CHARGE_ID, last_payment_error=declined
            ),
        ),
        (
            "payment_intent_canceled",
            "payment_intent.canceled",
            lambda: _payment_intent(
                "canceled", canceled_at=SAMPLE_EPOCH, cancellation_reason="requested_by_customer"
            ),
        ),
        (
            "checkout_session_completed",
            "checkout.session.completed",
            lambda: _checkout_session("complete", "paid"),
        ),
        (
            "checkout_session_expired",
            "checkout.session.expired",
            # A session that expires unpaid never created a PaymentIntent nor learned the customer.
            lambda: _checkout_session(
                "expired", "unpaid", payment_intent=None, customer_details=None, customer_email=None
            ),
        ),
        (
            "checkout_session_async_payment_succeeded",
            "checkout.session.async_payment_succeeded",
            lambda: _checkout_session("complete", "paid", payment_method_types=async_methods),
        ),
        (
            "checkout_session_async_payment_failed",
            "checkout.session.async_payment_failed",
            lambda: _checkout_session("complete", "unpaid", payment_method_types=async_methods),
        ),
    ]
    return {
        f"payment_callback/{name}.json": _callback(f"payment_callback/{name}", event_type, build(), offset)
        for offset, (name, event_type, build) in enumerate(cases)
    }


REFUND_ID = "ref_01JEXAMPLE00000000000000"
STRIPE_REFUND_ID = "re_3QEXAMPLE0000000000000001"
REFUND_METADATA = {"refundId": REFUND_ID, "paymentId": PAYMENT_ID, "orderId": ORDER_ID}


def refund_samples() -> dict[str, dict[str, Any]]:
    return {
        "refund/partial_refund.json": _http(
            "refund/partial_refund", "POST", "/refunds", _ada(),
            body={"paymentId": PAYMENT_ID, "refundAmount": 500, "reason": "requested_by_customer"},
        ),
        "refund/full_remainder.json": _http(
            "refund/full_remainder", "POST", "/refunds", _ada(), body={"paymentId": PAYMENT_ID},
        ),
    }


def _refund(status: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": STRIPE_REFUND_ID, "amount": 500, "charge": CHARGE_ID, "created": SAMPLE_EPOCH, "currency": CURRENCY,
        "metadata": dict(REFUND_METADATA), "payment_intent": PAYMENT_INTENT_ID, "reason": "requested_by_customer",
        "status": status, "failure_reason": None,
    }
    fields.update(overrides)
    return stripe_object("refund", **fields)


def refund_callback_samples() -> dict[str, dict[str, Any]]:
    dashboard = _refund("succeeded", id="re_3QEXAMPLE0000000000000002", amount=700, metadata={}, reason=None)
    charge = stripe_object(
        "charge", id=CHARGE_ID, amount=AMOUNT, amount_captured=AMOUNT, amount_refunded=700, currency=CURRENCY,
        payment_intent=PAYMENT_INTENT_ID, refunded=False, metadata=dict(PAYMENT_METADATA),
        refunds={"object": "list", "data": [dashboard], "has_more": False,
                 "url": f"/v1/charges/{CHARGE_ID}/refunds"},
    )
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("refund_created", "refund.created", _refund("pending")),
        ("refund_updated", "refund.updated", _refund("succeeded")),
        ("refund_failed", "refund.failed", _refund("failed", failure_reason="expired_or_canceled_card")),
        ("charge_refunded", "charge.refunded", charge),
    ]
    return {
        f"refund_callback/{name}.json": _callback(f"refund_callback/{name}", event_type, obj, offset, "refund")
        for offset, (name, event_type, obj) in enumerate(cases)
    }


SUBSCRIPTION_ORDER_ID = "ord_01JEXAMPLE0000000000000S"
RECURRING_PAYMENT_ID = "sub_rec_01JEXAMPLE00000000000000"
MONTHLY_PRICE_ID = "price_1MoBy5LkdIwHu7ixMonthly"
STRIPE_SUBSCRIPTION_ID = "sub_1QEXAMPLE0000000000000001"
SUBSCRIPTION_METADATA = {"orderId": SUBSCRIPTION_ORDER_ID, "recurringPaymentId": RECURRING_PAYMENT_ID,
                         "userId": USER_ID}


def subscription_samples() -> dict[str, dict[str, Any]]:
    path = {"recurringPaymentId": RECURRING_PAYMENT_ID}
    return {
        "subscribe/start_subscription.json": _http(
            "subscribe/start_subscription", "POST", "/subscriptions", _alice(),
            body={"orderId": SUBSCRIPTION_ORDER_ID, "priceId": MONTHLY_PRICE_ID},
        ),
        "cancel_subscription/cancel_at_period_end.json": _http(
            "cancel_subscription/cancel_at_period_end", "POST", "/subscriptions/{recurringPaymentId}/cancel",
            _alice(), path_params=path, body={"atPeriodEnd": True},
        ),
        "cancel_subscription/cancel_now.json": _http(
            "cancel_subscription/cancel_now", "POST", "/subscriptions/{recurringPaymentId}/cancel",
            _alice(), path_params=path, body={"atPeriodEnd": False},
        ),
        "cancel_subscription/resume.json": _http(
            "cancel_subscription/resume", "POST", "/subscriptions/{recurringPaymentId}/resume", _alice(),
            path_params=path,
        ),
    }


def _subscription(status: str, **overrides: Any) -> dict[str, Any]:
    start = SAMPLE_EPOCH - 600
    item = {"id": "si_1QEXAMPLE000000000000001", "object": "subscription_item", "quantity": 1,
            "current_period_start": start, "current_period_end": start + 30 * 86400,
            "price": stripe_object("price", id=MONTHLY_PRICE_ID, unit_amount=999, currency=CURRENCY,
                                   recurring={"interval": "month", "interval_count": 1, "usage_type": "licensed",
                                              "meter": None, "trial_period_days": None}, type="recurring")}
    fields: dict[str, Any] = {
        "id": STRIPE_SUBSCRIPTION_ID, "status": status, "customer": "cus_1QEXAMPLE00000000001",
        "cancel_at_period_end": False, "metadata": dict(SUBSCRIPTION_METADATA), "currency": CURRENCY,
        "items": {"object": "list", "data": [item], "has_more": False}, "created": start,
    }
    fields.update(overrides)
    return stripe_object("subscription", **fields)


def _invoice(reason: str, paid: bool, invoice_id: str) -> dict[str, Any]:
    return stripe_object(
        "invoice", id=invoice_id, billing_reason=reason, currency=CURRENCY, amount_due=999,
        amount_paid=999 if paid else 0, amount_remaining=0 if paid else 999, status="paid" if paid else "open",
        customer="cus_1QEXAMPLE00000000001", subscription=STRIPE_SUBSCRIPTION_ID,
        parent={"type": "subscription_details", "quote_details": None,
                "subscription_details": {"subscription": STRIPE_SUBSCRIPTION_ID,
                                         "metadata": dict(SUBSCRIPTION_METADATA)}},
    )


def subscription_callback_samples() -> dict[str, dict[str, Any]]:
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("subscription_created", "customer.subscription.created", _subscription("incomplete")),
        ("subscription_updated_active", "customer.subscription.updated", _subscription("active")),
        ("subscription_updated_cancel_at_period_end", "customer.subscription.updated",
         _subscription("active", cancel_at_period_end=True)),
        ("subscription_deleted", "customer.subscription.deleted", _subscription("canceled")),
        ("subscription_paused", "customer.subscription.paused", _subscription("paused")),
        ("subscription_resumed", "customer.subscription.resumed", _subscription("active")),
    ]
    return {
        f"subscription_callback/{name}.json": _callback(
            f"subscription_callback/{name}", event_type, obj, offset, "subscription")
        for offset, (name, event_type, obj) in enumerate(cases)
    }


def renewal_callback_samples() -> dict[str, dict[str, Any]]:
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("first_invoice_paid", "invoice.paid", _invoice("subscription_create", True, "in_1QEXAMPLE00000000000001")),
        ("renewal_invoice_paid", "invoice.paid", _invoice("subscription_cycle", True, "in_1QEXAMPLE00000000000002")),
        ("renewal_payment_failed", "invoice.payment_failed",
         _invoice("subscription_cycle", False, "in_1QEXAMPLE00000000000003")),
    ]
    return {
        f"renewal_callback/{name}.json": _callback(f"renewal_callback/{name}", event_type, obj, offset, "renewal")
        for offset, (name, event_type, obj) in enumerate(cases)
    }


# --- never out of sync: the reconciler, EventBridge ingress, webhook registration ---------------------------

EVENT_SOURCE = "aws.partner/stripe.com/ed_61REXAMPLE000000000000000000000"
REGISTRATION_REQUEST_ID = "5f3c1b7a-0000-4000-8000-00000000000"
EXAMPLE_CALLBACK_URL = "https://{}-example.lambda-url.us-east-1.on.aws/"
EXAMPLE_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-{}-webhook-AbCdEf"


def reconcile_samples() -> dict[str, dict[str, Any]]:
    """The schedule's run (what its ScheduleV2 hands it) and an admin's POST /admin/reconcile."""
    return {
        "reconcile/scheduled.json": scheduled_event({"Input": '{"reconcile": "scheduled"}'}),
        "reconcile/reconcile_now.json": _http("reconcile/reconcile_now", "POST", "/admin/reconcile", _ada()),
    }


def eventbridge_samples() -> dict[str, dict[str, Any]]:
    """A Stripe event as the payment callback's EventBridge rule hands it over (no signature: AWS delivers it)."""
    event = stripe_event("payment_intent.succeeded", _payment_intent("succeeded", amount_received=AMOUNT,
                                                                     latest_charge=CHARGE_ID),
                         event_id=_event_id("payment_callback/eventbridge"), created=SAMPLE_EPOCH,
                         api_version=SAMPLE_API_VERSION)
    envelope = stripe_eventbridge_event(event, source=EVENT_SOURCE,
                                        event_id=_lambda_request_id("payment_callback/eventbridge"))
    return {"payment_callback/eventbridge_payment_intent_succeeded.json": envelope}


def webhook_registration_samples() -> dict[str, dict[str, Any]]:
    """CloudFormation's Create, Update and Delete of the StripeWebhooks custom resource (RegisterStripeWebhooks).
    ``sam local invoke`` answers the response URL itself: point ``ResponseURL`` at something that takes a PUT."""
    names = ("payment", "refund", "subscription", "renewal", "connect")
    properties = {"CodeVersion": "1", "Endpoints": {
        n: {"Url": EXAMPLE_CALLBACK_URL.format(n), "SecretArn": EXAMPLE_SECRET_ARN.format(n)} for n in names}}
    response_url = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/example?X-Amz-Signature=x"
    physical_id = "stripe-webhooks:4d2f1c80-0000-11ef-8000-0a1b2c3d4e5f"
    return {
        f"webhook_registration/{kind.lower()}.json": custom_resource_request(
            kind, properties, response_url=response_url, request_id=f"{REGISTRATION_REQUEST_ID}{i}",
            physical_id=None if kind == "Create" else physical_id,
            old_properties=properties if kind == "Update" else None)
        for i, kind in enumerate(("Create", "Update", "Delete"))
    }


# --- events out and live status ---------------------------------------------------------------------------------

SAMPLE_ISO = "2026-11-01T10:00:00.000Z"
CONNECTION_ID = "L0SM9cOFvHcCIhw="
STRIPE_EVENT_ID = "evt_1QEXAMPLE0000000000000001"


def _order_item(status: str, version: int, **extra: Any) -> dict[str, Any]:
    return {"orderId": ORDER_ID, "userId": USER_ID, "kind": "one_time", "amount": AMOUNT, "currency": CURRENCY,
            "description": "1 x T-shirt", "status": status, "paymentIds": [PAYMENT_ID], "refundIds": [],
            "createdAt": SAMPLE_ISO, "updatedAt": SAMPLE_ISO, "createdSort": f"{SAMPLE_ISO}#{ORDER_ID}",
            "version": version, **extra}


def _payment_item(status: str, version: int, **extra: Any) -> dict[str, Any]:
    return {"paymentId": PAYMENT_ID, "orderId": ORDER_ID, "userId": USER_ID, "amount": AMOUNT, "currency": CURRENCY,
            "mode": "payment_intent", "status": status, "stripePaymentIntentId": PAYMENT_INTENT_ID,
            "amountRefunded": 0, "amountReserved": 0, "lastEventCreated": 0, "createdAt": SAMPLE_ISO,
            "updatedAt": SAMPLE_ISO, "version": version, **extra}


def event_publisher_samples() -> dict[str, dict[str, Any]]:
    from devstack.lambda_events.dynamodb_streams import stream_arn, stream_lambda_event, stream_record

    paid = stream_record("OrdersTable", {"orderId": ORDER_ID}, _order_item("pending", 2),
                         _order_item("paid", 3, paidByPaymentId=PAYMENT_ID, lastStripeEventId=STRIPE_EVENT_ID),
                         sequence_number="1100000000000000000001", created=SAMPLE_EPOCH,
                         event_id=_lambda_request_id("event_publisher/order_paid"))
    succeeded = stream_record("PaymentsTable", {"paymentId": PAYMENT_ID}, _payment_item("pending", 2),
                              _payment_item("succeeded", 3, amountReceived=AMOUNT, currencyReceived=CURRENCY,
                                            lastStripeEventId=STRIPE_EVENT_ID),
                              sequence_number="1100000000000000000002", created=SAMPLE_EPOCH,
                              event_id=_lambda_request_id("event_publisher/payment_succeeded"))
    return {"event_publisher/order_paid.json": stream_lambda_event([paid], stream_arn("OrdersTable")),
            "event_publisher/payment_succeeded.json": stream_lambda_event([succeeded], stream_arn("PaymentsTable"))}


def _order_paid_event() -> dict[str, Any]:
    from devstack.lambda_events.eventbridge import eventbridge_event

    order = {"orderId": ORDER_ID, "userId": USER_ID, "kind": "one_time", "amount": AMOUNT, "currency": CURRENCY,
             "description": "1 x T-shirt", "status": "paid", "parentOrderId": None, "createdAt": SAMPLE_ISO,
             "updatedAt": SAMPLE_ISO,
             "payments": [{"paymentId": PAYMENT_ID, "amount": AMOUNT, "currency": CURRENCY, "status": "succeeded",
                           "amountRefunded": 0, "stripePaymentIntentId": PAYMENT_INTENT_ID, "createdAt": SAMPLE_ISO}],
             "refunds": [], "subscription": None,
             "items": [{"priceId": CATALOG_PRICE_ID, "quantity": 1, "unitAmount": AMOUNT}]}
    detail = {"eventId": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/events/OrderPaid")),
              "type": "OrderPaid", "occurredAt": SAMPLE_ISO, "userId": USER_ID, "previousStatus": "pending",
              "version": 3, "order": order, "causedBy": {"stripeEventId": STRIPE_EVENT_ID}}
    return eventbridge_event("payments", "OrderPaid", detail, event_id=_lambda_request_id("OrderPaid"),
                             at=SAMPLE_EPOCH)


def live_samples() -> dict[str, dict[str, Any]]:
    from devstack.lambda_events.websocket import allowed_context, authorizer_event, websocket_event

    at = SAMPLE_EPOCH * 1000
    allowed = allowed_context({"principalId": USER_ID, "context": {"userId": USER_ID}})
    query = {"token": "REPLACE-with-the-output-of-make-token"}
    return {
        "live_authorizer/connect.json": authorizer_event(CONNECTION_ID, query, epoch_ms=at),
        "live_connect/connect.json": websocket_event("$connect", CONNECTION_ID, authorizer=allowed, query=query,
                                                     epoch_ms=at),
        "live_connect/ping.json": websocket_event("ping", CONNECTION_ID, body='{"action":"ping"}',
                                                  authorizer=allowed, epoch_ms=at),
        "live_connect/disconnect.json": websocket_event("$disconnect", CONNECTION_ID, authorizer=allowed,
                                                        epoch_ms=at),
        "live_notify/order_paid.json": _order_paid_event(),
        "on_order_paid/order_paid.json": _order_paid_event(),
    }


# --- billing (trials, promotion codes, plan changes, saved cards, portal, entitlements) -------------------------

PLUS_PRICE_ID = "price_1MoBy5LkdIwHu7ixPlus"
SAVED_CARD_ID = "pm_1QEXAMPLE0000000000000002"
STRIPE_CUSTOMER_ID = "cus_1QEXAMPLE00000000001"
ADJUSTMENT_INVOICE_ID = "in_1QEXAMPLE00000000000004"
SUBSCRIPTION_SESSION_ID = "cs_test_b1EXAMPLE000000000000000000000000000000000000000000000002"
FEATURE_ID = "feat_test_61QEXAMPLE0000000000000001"


def billing_samples() -> dict[str, dict[str, Any]]:
    path = {"recurringPaymentId": RECURRING_PAYMENT_ID}
    card = {"paymentMethodId": SAVED_CARD_ID}
    change = {"priceId": PLUS_PRICE_ID, "proration": "always_invoice"}
    return {
        "billing/open_portal.json": _http("billing/open_portal", "POST", "/billing-portal", _alice(),
                                          body={"returnUrl": "https://example.com/account"}),
        "billing/setup_payment_method.json": _http("billing/setup_payment_method", "POST", "/payment-methods/setup",
                                                   _alice()),
        "billing/list_payment_methods.json": _http("billing/list_payment_methods", "GET", "/payment-methods",
                                                   _alice()),
        "billing/set_default_payment_method.json": _http(
            "billing/set_default_payment_method", "POST", "/payment-methods/{paymentMethodId}/default", _alice(),
            path_params=card),
        "billing/delete_payment_method.json": _http("billing/delete_payment_method", "DELETE",
                                                    "/payment-methods/{paymentMethodId}", _alice(), path_params=card),
        "billing/get_entitlements.json": _http("billing/get_entitlements", "GET", "/entitlements", _alice()),
        "cancel_subscription/change_plan.json": _http(
            "cancel_subscription/change_plan", "POST", "/subscriptions/{recurringPaymentId}/change", _alice(),
            path_params=path, body=change),
        "cancel_subscription/preview_plan_change.json": _http(
            "cancel_subscription/preview_plan_change", "POST", "/subscriptions/{recurringPaymentId}/change/preview",
            _alice(), path_params=path, body=change),
        "subscribe/start_trial_with_code.json": _http(
            "subscribe/start_trial_with_code", "POST", "/subscriptions", _alice(),
            body={"orderId": SUBSCRIPTION_ORDER_ID, "priceId": MONTHLY_PRICE_ID, "trialDays": 14,
                  "promotionCode": "FALL25"}),
        "subscribe/start_checkout_session.json": _http(
            "subscribe/start_checkout_session", "POST", "/subscriptions", _alice(),
            body={"orderId": SUBSCRIPTION_ORDER_ID, "priceId": MONTHLY_PRICE_ID, "mode": "checkout_session",
                  "successUrl": "https://example.com/subscribed", "cancelUrl": "https://example.com/plans"}),
        "checkout/saved_card.json": _http("checkout/saved_card", "POST", "/checkout", _alice(),
                                          body={"orderId": ORDER_ID, **card}),
    }


def billing_callback_samples() -> dict[str, dict[str, Any]]:
    summary = stripe_object(
        "entitlements.active_entitlement_summary", customer=STRIPE_CUSTOMER_ID, livemode=False,
        entitlements={"object": "list", "has_more": False, "url": "/v1/entitlements/active_entitlements", "data": [
            {"id": "ent_test_61QEXAMPLE0000000000000001", "object": "entitlements.active_entitlement",
             "feature": FEATURE_ID, "livemode": False, "lookup_key": "pro-reports"}]})
    adjustment = _invoice("subscription_update", True, ADJUSTMENT_INVOICE_ID)
    adjustment.update(amount_due=1000, amount_paid=1000, lines={"object": "list", "has_more": False, "data": [
        {"object": "line_item", "amount": amount, "currency": CURRENCY, "description": text,
         "parent": {"type": "subscription_item_details", "subscription_item_details": {
             "proration": True, "subscription": STRIPE_SUBSCRIPTION_ID,
             "subscription_item": "si_1QEXAMPLE000000000000001"}},
         "pricing": {"type": "price_details", "price_details": {"price": price, "product": "prod_1QEXAMPLE"}}}
        for amount, text, price in ((-999, "Unused time on 1 \u00d7 Pro after 01 Nov 2026", MONTHLY_PRICE_ID),
                                    (1999, "Remaining time on 1 \u00d7 Plus after 01 Nov 2026", PLUS_PRICE_ID))]})
    session = _checkout_session("complete", "paid", id=SUBSCRIPTION_SESSION_ID, mode="subscription",
                                payment_intent=None, subscription=STRIPE_SUBSCRIPTION_ID,
                                customer=STRIPE_CUSTOMER_ID, amount_subtotal=999, amount_total=999,
                                client_reference_id=SUBSCRIPTION_ORDER_ID, metadata=dict(SUBSCRIPTION_METADATA))
    return {
        "subscription_callback/entitlements_summary_updated.json": _callback(
            "subscription_callback/entitlements_summary_updated", "entitlements.active_entitlement_summary.updated",
            summary, 10, "subscription"),
        "renewal_callback/adjustment_invoice_paid.json": _callback(
            "renewal_callback/adjustment_invoice_paid", "invoice.paid", adjustment, 10, "renewal"),
        "payment_callback/checkout_session_completed_subscription.json": _callback(
            "payment_callback/checkout_session_completed_subscription", "checkout.session.completed", session, 10),
    }


# --- marketplace, usage billing, privacy ----------------------------------------------------------------------

SELLER_ID = "sel_01JEXAMPLE00000000000000"
ACCOUNT_ID = "acct_1QEXAMPLE00000001"
SELLER_RETURN_URL = "http://127.0.0.1:3000/demo/?onboarded=1"
METER_EVENT_NAME = "api_calls"
METER_ID = "mtr_1QEXAMPLE000000000001"
THIN_EVENT_ID = "evt_test_65REXAMPLE000000000000001"


def marketplace_samples() -> dict[str, dict[str, Any]]:
    account = stripe_object(
        "account", id=ACCOUNT_ID, type="express", charges_enabled=True, payouts_enabled=True, details_submitted=True,
        metadata={"sellerId": SELLER_ID}, created=SAMPLE_EPOCH - 3600,
        requirements={"alternatives": [], "current_deadline": None, "currently_due": [], "disabled_reason": None,
                      "errors": [], "eventually_due": [], "past_due": [], "pending_verification": []})
    name = "connect_callback/account_updated"
    event = stripe_event("account.updated", account, event_id=_event_id(name), created=SAMPLE_EPOCH,
                         api_version=SAMPLE_API_VERSION,
                         previous_attributes={"charges_enabled": False, "payouts_enabled": False})
    event["account"] = ACCOUNT_ID  # a Connect endpoint's event: about the connected account
    return {
        "sellers/become_seller.json": _http("sellers/become_seller", "POST", "/sellers", _alice(),
                                            body={"returnUrl": SELLER_RETURN_URL}),
        "sellers/my_seller.json": _http("sellers/my_seller", "GET", "/sellers/me", _alice()),
        f"{name}.json": signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["connect"], timestamp=SAMPLE_EPOCH + 1,
                                             request_id=_lambda_request_id(name)),
    }


def usage_samples() -> dict[str, dict[str, Any]]:
    name = "usage_callback/meter_error_report"
    thin = {"id": THIN_EVENT_ID, "object": "v2.core.event", "type": "v1.billing.meter.error_report_triggered",
            "livemode": False, "created": "2026-11-01T10:00:00.000Z", "context": None, "reason": None,
            "related_object": {"id": METER_ID, "type": "billing.meter", "url": f"/v1/billing/meters/{METER_ID}"}}
    return {
        "usage/report_usage.json": _http("usage/report_usage", "POST", "/usage", _ada(), body={
            "userId": USER_ID, "meter": METER_EVENT_NAME, "value": 25, "idempotencyKey": "usage-2026-11-01-0001"}),
        f"{name}.json": signed_webhook_event(thin, LOCAL_WEBHOOK_SECRETS["usage"], timestamp=SAMPLE_EPOCH + 1,
                                             request_id=_lambda_request_id(name)),
    }


def privacy_samples() -> dict[str, dict[str, Any]]:
    return {
        "privacy/export_me.json": _http("privacy/export_me", "GET", "/me/export", _alice()),
        "privacy/erase_me.json": _http("privacy/erase_me", "DELETE", "/me", _alice()),
        "privacy/erase_user.json": _http("privacy/erase_user", "DELETE", "/users/{userId}", _ada(),
                                         path_params={"userId": USER_ID}),
    }


# --- the numbers -------------------------------------------------------------------------------------------------


def metrics_samples() -> dict[str, dict[str, Any]]:
    """A PaymentSucceeded as the bus delivers it to the aggregator; an admin's GET /admin/metrics (the last 30 days:
    a sample with pinned dates would fall out of the 366-day window one day)."""
    from devstack.lambda_events.eventbridge import eventbridge_event

    payment = {"paymentId": PAYMENT_ID, "amount": AMOUNT, "currency": CURRENCY, "status": "succeeded",
               "amountRefunded": 0, "stripePaymentIntentId": PAYMENT_INTENT_ID, "createdAt": SAMPLE_ISO}
    order = {**_order_paid_event()["detail"]["order"], "payments": [payment]}
    detail = {"eventId": str(uuid.uuid5(uuid.NAMESPACE_URL, "https://example.com/events/PaymentSucceeded")),
              "type": "PaymentSucceeded", "occurredAt": SAMPLE_ISO, "userId": USER_ID, "previousStatus": "pending",
              "version": 3, "order": order, "payment": payment, "causedBy": {"stripeEventId": STRIPE_EVENT_ID}}
    return {
        "metrics_aggregator/payment_succeeded.json": eventbridge_event(
            "payments", "PaymentSucceeded", detail, event_id=_lambda_request_id("PaymentSucceeded"),
            at=SAMPLE_EPOCH),
        "admin/metrics.json": _http("admin/metrics", "GET", "/admin/metrics", _ada(), query={"currency": CURRENCY}),
    }


def build_samples() -> dict[str, dict[str, Any]]:
    """Every sample this script owns, by path relative to ``events/``."""
    return {**order_samples(), **checkout_samples(), **payment_callback_samples(), **refund_samples(),
            **refund_callback_samples(), **subscription_samples(), **subscription_callback_samples(),
            **renewal_callback_samples(), **event_publisher_samples(), **live_samples(), **billing_samples(),
            **billing_callback_samples(), **reconcile_samples(), **eventbridge_samples(),
            **webhook_registration_samples(), **marketplace_samples(), **usage_samples(), **privacy_samples(),
            **metrics_samples()}


def render(event: dict[str, Any]) -> str:
    return json.dumps(event, indent=2, ensure_ascii=False) + "\n"


def write_samples(root: Path = EVENTS_DIR) -> list[Path]:
    written = []
    for rel, event in build_samples().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(event), encoding="utf-8")
        written.append(path)
    return written


def stale_samples(root: Path = EVENTS_DIR) -> list[str]:
    """Samples whose file is missing or differs from what ``write_samples`` would write."""
    stale = []
    for rel, event in build_samples().items():
        path = root / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != render(event):
            stale.append(rel)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.make_sample_events", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="only report samples that differ; exit 1 if any")
    parser.add_argument(
        "--out", type=Path, default=EVENTS_DIR, help="events directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_samples(args.out)
        for rel in stale:
            print(f"stale: events/{rel}", file=sys.stderr)
        return 1 if stale else 0
    for path in write_samples(args.out):
        print(path.relative_to(args.out.parent) if args.out.parent in path.parents else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Least privilege, held to the code: each function's DynamoDB grants in template.yaml are exactly the actions its
code performs, on the tables and indexes it performs them on.

A scenario runs every function through its real flows (orders, both checkout modes, a payment, an admin's refund,
a Dashboard refund, a subscription with its first invoice, a renewal, cancel and resume, client retries; a seller
onboarded through Connect and an order paid to them; usage reports and a meter's error report; an export and an
erasure), with the emulator's webhooks delivered to the callbacks. Every DynamoDB request is recorded against the
function that made it and translated into the IAM actions it needs (a transaction needs each item's action;
TransactGetItems needs GetItem). Then: nothing used is missing from the template, and nothing granted is unused,
except the grants listed below for paths the scenario cannot reach without breaking something on purpose.

Secrets are checked from the template: each callback reads only its own signing secret, and only the functions
that call Stripe read the API keys.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from typing import Any

import pytest
from botocore.client import BaseClient

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from devstack.stripe_events import stripe_event
from devstack.template import load_template
from payments.data import store
from payments.data.models import PaymentRecord
from payments.refunds.api import new_refund
from tests.support.api import ADMIN, ALICE, BOB, call, get_order
from tests.support.invoke import invoke
from tests.support.records import given_second_tab

pytestmark = pytest.mark.emulator

HANDLERS = {"orders": "OrdersFunction", "checkout": "CheckoutFunction", "refund": "RefundFunction",
            "subscribe": "SubscribeFunction", "cancel_subscription": "CancelSubscriptionFunction",
            "payment_callback": "PaymentCallbackFunction", "refund_callback": "RefundCallbackFunction",
            "subscription_callback": "SubscriptionCallbackFunction", "renewal_callback": "RenewalCallbackFunction",
            "event_publisher": "EventPublisherFunction", "on_order_paid": "OnOrderPaidFunction",
            "live_connect": "LiveConnectFunction", "live_notify": "LiveNotifyFunction", "billing": "BillingFunction",
            "reconcile": "ReconcileFunction",
            "sellers": "SellersFunction", "connect_callback": "ConnectCallbackFunction", "usage": "UsageFunction",
            "usage_callback": "UsageCallbackFunction", "privacy": "PrivacyFunction",
            "metrics_aggregator": "MetricsAggregatorFunction", "admin": "AdminFunction"}

EVENTS_AND_LIVE = ("EventPublisherFunction", "OnOrderPaidFunction", "LiveConnectFunction", "LiveNotifyFunction")
NUMBERS = ("MetricsAggregatorFunction", "AdminFunction")  # no Stripe either

# Granted for paths a passing scenario does not take: a failure path of record-first (a Stripe refusal releasing
# what was reserved), an idempotency record deleted after a 5xx, and Powertools' fallback read of a kept answer
# (it reads it from the failed conditional put, ALL_OLD, and calls GetItem only when DynamoDB does not return it).
_IDEMPOTENCY_FALLBACKS = {("DeleteItem", "IdempotencyTable"), ("GetItem", "IdempotencyTable")}
UNREACHED: dict[str, set[tuple[str, str]]] = {
    "OrdersFunction": _IDEMPOTENCY_FALLBACKS,
    "CheckoutFunction": {("UpdateItem", "OrdersTable")} | _IDEMPOTENCY_FALLBACKS,  # a failed payment released
    "RefundFunction": {("GetItem", "RefundsTable")} | _IDEMPOTENCY_FALLBACKS,  # a refused refund read back
    "SubscribeFunction": {("UpdateItem", "OrdersTable"), ("UpdateItem", "RecurringPaymentsTable")}
    | _IDEMPOTENCY_FALLBACKS,  # a subscription Stripe refused, released
    # a plan change Stripe refused, its mark removed
    "CancelSubscriptionFunction": {("UpdateItem", "RecurringPaymentsTable")} | _IDEMPOTENCY_FALLBACKS,
    "BillingFunction": _IDEMPOTENCY_FALLBACKS,
    # an automatic refund Stripe refused; a hosted subscription Checkout's completion linking its record, which the
    # subscription's own events (delivered at the same moment) may have linked first
    "PaymentCallbackFunction": {("GetItem", "RefundsTable"), ("PutItem", "RecurringPaymentsTable")},
    "OnOrderPaidFunction": _IDEMPOTENCY_FALLBACKS,  # a consumer that raised; a kept answer read back
    # a lost subscription event without our metadata (found by its Stripe id); kept answers' fallbacks
    "ReconcileFunction": {("Query", "RecurringPaymentsTable/byStripeSubscription")} | _IDEMPOTENCY_FALLBACKS,
    "SellersFunction": _IDEMPOTENCY_FALLBACKS,
    "UsageFunction": _IDEMPOTENCY_FALLBACKS,
    "PrivacyFunction": _IDEMPOTENCY_FALLBACKS,
}


def _resource_name(arn: Any) -> tuple[str, str | None]:
    """(table logical id, index name) of a policy Resource (``!GetAtt T.Arn`` or ``!Sub "${T.Arn}/index/i"``)."""
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        return (target.split(".")[0] if isinstance(target, str) else target[0]), None
    if isinstance(arn, dict) and "Fn::Sub" in arn:
        text = arn["Fn::Sub"]
        table = text.split("${")[1].split(".")[0]
        return table, text.split("/index/")[1] if "/index/" in text else None
    return str(arn), None


def granted() -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    resources = load_template()["Resources"]
    for function in HANDLERS.values():
        for policy in resources[function]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                for action in statement["Action"]:
                    if not action.startswith("dynamodb:"):
                        continue
                    for target in targets:
                        table, index = _resource_name(target)
                        out[function].add((action.split(":")[1], f"{table}/{index}" if index else table))
    return out


class Recorder:
    """The IAM actions each function's DynamoDB requests need, from the requests themselves."""

    def __init__(self) -> None:
        self.used: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.current = threading.local()
        self._original = BaseClient._make_api_call

    def wrap(self, function: str, handler: Any) -> Any:
        def tracked(event: Any, context: Any) -> Any:
            self.current.function = function
            try:
                return handler(event, context)
            finally:
                self.current.function = None
        return tracked

    def call(self, client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        function = getattr(self.current, "function", None)
        if function and client.meta.service_model.service_name == "dynamodb":
            for action, table in self.actions(operation, params):
                self.used[function].add((action, table))
        return self._original(client, operation, params)

    @staticmethod
    def actions(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        if operation == "TransactWriteItems":
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}
            return [(kinds[kind], body["TableName"]) for item in params["TransactItems"] for kind, body in item.items()]
        if operation == "TransactGetItems":
            return [("GetItem", item["Get"]["TableName"]) for item in params["TransactItems"]]
        if operation == "BatchGetItem":
            return [("BatchGetItem", table) for table in params["RequestItems"]]
        table = params["TableName"]
        return [(operation, f"{table}/{params['IndexName']}" if params.get("IndexName") else table)]


@pytest.fixture
def recorder(monkeypatch, orders_handler, checkout_handler, refund_handler, subscribe_handler,
             cancel_subscription_handler, payment_callback_handler, refund_callback_handler,
             subscription_callback_handler, renewal_callback_handler, event_publisher_handler, on_order_paid_handler,
             live_connect_handler, live_notify_handler, billing_handler, reconcile_handler, sellers_handler,
             connect_callback_handler, usage_handler, usage_callback_handler, privacy_handler,
             metrics_aggregator_handler, admin_handler):
    recorder = Recorder()
    modules = {"orders": orders_handler, "checkout": checkout_handler, "refund": refund_handler,
               "subscribe": subscribe_handler, "cancel_subscription": cancel_subscription_handler,
               "payment_callback": payment_callback_handler, "refund_callback": refund_callback_handler,
               "subscription_callback": subscription_callback_handler, "renewal_callback": renewal_callback_handler,
               "event_publisher": event_publisher_handler, "on_order_paid": on_order_paid_handler,
               "live_connect": live_connect_handler, "live_notify": live_notify_handler, "billing": billing_handler,
               "reconcile": reconcile_handler,
               "sellers": sellers_handler, "connect_callback": connect_callback_handler, "usage": usage_handler,
               "usage_callback": usage_callback_handler, "privacy": privacy_handler,
               "metrics_aggregator": metrics_aggregator_handler, "admin": admin_handler}
    for folder, module in modules.items():
        monkeypatch.setattr(module, "lambda_handler", recorder.wrap(HANDLERS[folder], module.lambda_handler))
    monkeypatch.setattr(BaseClient, "_make_api_call", lambda client, op, params: recorder.call(client, op, params))
    return recorder


def _until(live, check, what):
    assert live.wait_for(lambda _: check()), what


def test_each_function_is_granted_exactly_what_its_code_does(recorder, monkeypatch, live, published, stripe_env,
                                                              catalog, orders_handler,
                                                              checkout_handler, refund_handler, subscribe_handler,
                                                              cancel_subscription_handler, payment_callback_handler,
                                                              subscription_callback_handler, renewal_callback_handler,
                                                              billing_handler, reconcile_handler, sellers_handler,
                                                              usage_handler, privacy_handler):
    handlers = {"payment_callback": payment_callback_handler, "subscription_callback": subscription_callback_handler,
                "renewal_callback": renewal_callback_handler}
    from devstack.stripe_emulator_billing import advance_subscription

    client = stripe_env.client()
    # A one-time payment, retried once with an Idempotency-Key, and a web checkout before it
    shirt = catalog.price(1999)
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": shirt.id}]},
                 headers={"Idempotency-Key": "o-1"}).body
    call(orders_handler, "POST", "/orders", body={"items": [{"priceId": shirt.id}]}, headers={"Idempotency-Key": "o-1"})
    web = call(checkout_handler, "POST", "/checkout", body={
        "orderId": order["orderId"], "mode": "checkout_session", "successUrl": "https://shop.example/ok",
        "cancelUrl": "https://shop.example/no"}, headers={"Idempotency-Key": "c-1"})
    assert web.status == 201, web.body
    mobile = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    intent_id = mobile["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent_id)
    _until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "order never paid")
    # A second payment for the paid order (another tab), refunded automatically
    client.v1.payment_intents.confirm(given_second_tab(client, order["orderId"], "pay_other_tab"))
    _until(live, lambda: any(r["refundId"] == "ref_auto_other_tab" and r["status"] == "succeeded"
                             for r in get_order(orders_handler, order["orderId"]).body["refunds"]),
           "the second payment was never refunded")
    # An admin's refund (retried), and one made in the Dashboard
    refund = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                  body={"paymentId": mobile["paymentId"], "refundAmount": 500}, headers={"Idempotency-Key": "r-1"})
    assert refund.status == 202, refund.body
    client.v1.refunds.create({"payment_intent": intent_id, "amount": 300})
    _until(live, lambda: len(get_order(orders_handler, order["orderId"]).body["refunds"]) == 3
           and {r["status"] for r in get_order(orders_handler, order["orderId"]).body["refunds"]} == {"succeeded"},
           "refunds never landed")
    # A subscription: first invoice, a renewal, cancel at period end, resume
    pro = catalog.price(999, name="Pro", interval="month")
    sub_order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": pro.id}]}).body
    started = call(subscribe_handler, "POST", "/subscriptions", body={"orderId": sub_order["orderId"],
                                                                      "priceId": pro.id},
                   headers={"Idempotency-Key": "s-1"}).body
    first_intent = started["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(first_intent, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(first_intent)
    _until(live, lambda: get_order(orders_handler, sub_order["orderId"]).body["status"] == "paid", "never paid")
    advance_subscription(stripe_env, started["stripeSubscriptionId"])
    _until(live, lambda: any(o["kind"] == "renewal" for o in call(orders_handler, "GET", "/orders").body["orders"]),
           "no renewal order")
    rid = started["recurringPaymentId"]
    assert call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/cancel",
                path={"recurringPaymentId": rid}, body={"atPeriodEnd": True},
                headers={"Idempotency-Key": "x-1"}).status == 200
    assert call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/resume",
                path={"recurringPaymentId": rid}).status == 200
    assert call(orders_handler, "GET", "/orders/{orderId}", path={"orderId": order["orderId"]},
                user=ALICE).status == 200
    _billing_scenario(live, stripe_env, catalog, pro, started, orders_handler, checkout_handler, subscribe_handler,
                      cancel_subscription_handler, billing_handler)
    # Events without our metadata (older API versions, objects labelled elsewhere): found by their Stripe ids
    unlabelled = [
        ("payment_callback", "payment_intent.succeeded", client.v1.payment_intents.retrieve(intent_id).to_dict()),
        ("subscription_callback", "customer.subscription.updated",
         client.v1.subscriptions.retrieve(started["stripeSubscriptionId"]).to_dict()),
        ("renewal_callback", "invoice.paid",
         client.v1.invoices.list({"subscription": started["stripeSubscriptionId"]}).data[0].to_dict()),
    ]
    for folder, event_type, obj in unlabelled:
        obj = json.loads(json.dumps(obj, default=str))
        obj["metadata"] = {}
        if obj.get("parent"):
            obj["parent"]["subscription_details"]["metadata"] = {}
        event = signed_webhook_event(stripe_event(event_type, obj), LOCAL_WEBHOOK_SECRETS[folder.split("_")[0]])
        assert invoke(handlers[folder], event).status == 200
    # Webhooks lost (endpoints down): a Dashboard refund and a renewal, and a reserved refund that never reached
    # Stripe; an admin runs the reconciler (retried with an Idempotency-Key)
    for name in ("refund", "subscription", "renewal"):
        stripe_env.webhook_down(name)
    try:
        lost_refund = client.v1.refunds.create({"payment_intent": intent_id, "amount": 100})
        advance_subscription(stripe_env, started["stripeSubscriptionId"])
        for name, event_type in (("refund", "charge.refunded"), ("renewal", "invoice.paid")):
            assert live.wait_for(lambda _, n=name, t=event_type: any(
                d["type"] == t and d["status"] == "down" for d in stripe_env.deliveries(n))), (name, event_type)
    finally:
        for name in ("refund", "subscription", "renewal"):
            stripe_env.webhook_up(name)
    paid_payment = store.get(PaymentRecord, mobile["paymentId"])
    unsent = new_refund("ref_never_sent", paid_payment, 50, origin="api", reason=None, requested_by=ADMIN)
    unsent.pending_since = "2020-01-01T00:00:00.000Z"
    paid_payment.amount_reserved = int(paid_payment.amount_reserved or 0) + 50
    store.Transaction().save(paid_payment).save(unsent).commit()
    summary = call(reconcile_handler, "POST", "/admin/reconcile", user=ADMIN, admin=True,
                   headers={"Idempotency-Key": "rec-1"})
    assert summary.status == 200 and summary.body["eventsApplied"] >= 2 and summary.body["stuckSettled"] == 1, \
        summary.body
    assert any(r["refundId"] == f"ref_{lost_refund.id}" for r in get_order(orders_handler, order["orderId"]).body[
        "refunds"])
    _events_and_live_scenario(published, monkeypatch)
    _marketplace_usage_and_privacy(live, stripe_env, catalog, orders_handler, checkout_handler, sellers_handler,
                                   usage_handler, privacy_handler)
    allowed = granted()
    for function in HANDLERS.values():
        used, grants = recorder.used[function], allowed[function]
        assert used, f"{function} made no DynamoDB call in the scenario"
        assert not used - grants, f"{function} does what template.yaml does not grant: {sorted(used - grants)}"
        unused = grants - used - UNREACHED.get(function, set())
        assert not unused, f"{function} is granted what its code never does: {sorted(unused)}"


def _billing_scenario(live, stripe_env, catalog, pro, started, orders_handler, checkout_handler, subscribe_handler,
                      cancel_subscription_handler, billing_handler):
    """Saved cards (and paying with one), the portal, entitlements, a plan change invoiced at once, and a
    subscription bought on a hosted Checkout."""
    client = stripe_env.client()
    rid = started["recurringPaymentId"]
    # A plan whose product grants a feature; the subscription moves to it, the proration invoiced now
    plus = catalog.price(1999, name="Plus", interval="month")
    feature = client.v1.entitlements.features.create({"name": "Reports", "lookup_key": "reports"})
    client.raw_request("post", f"/v1/products/{plus.product}/features", entitlement_feature=feature.id)
    body = {"priceId": plus.id, "proration": "always_invoice"}
    path = {"recurringPaymentId": rid}
    assert call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/change/preview",
                path=path, body=body).status == 200
    assert call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/change", path=path,
                body=body, headers={"Idempotency-Key": "chg-1"}).status == 200
    _until(live, lambda: any(o["kind"] == "adjustment" for o in call(orders_handler, "GET", "/orders").body["orders"]),
           "no adjustment order")
    _until(live, lambda: call(billing_handler, "GET", "/entitlements").body["entitlements"] != [], "no entitlement")
    # A new user's saved card (their first makes their customer): set up, listed, made the default, paid with,
    # deleted; the portal
    carol = "user-carol"
    setup = call(billing_handler, "POST", "/payment-methods/setup", user=carol,
                 headers={"Idempotency-Key": "set-1"}).body
    saved = client.v1.setup_intents.confirm(setup["setupIntentId"], {"payment_method": "pm_card_visa"}).payment_method
    assert call(billing_handler, "GET", "/payment-methods", user=carol).status == 200
    assert call(billing_handler, "POST", "/payment-methods/{paymentMethodId}/default", user=carol,
                path={"paymentMethodId": saved}).status == 200
    shirt = catalog.price(1500, name="Cap")
    cap = call(orders_handler, "POST", "/orders", user=carol, body={"items": [{"priceId": shirt.id}]}).body
    assert call(checkout_handler, "POST", "/checkout", user=carol,
                body={"orderId": cap["orderId"], "paymentMethodId": saved}).status == 201
    _until(live, lambda: get_order(orders_handler, cap["orderId"], user=carol).body["status"] == "paid",
           "saved card never paid")
    assert call(billing_handler, "POST", "/billing-portal", user=carol,
                body={"returnUrl": "https://shop.example/account"}).status == 201
    assert call(billing_handler, "DELETE", "/payment-methods/{paymentMethodId}", user=carol,
                path={"paymentMethodId": saved}).status == 204
    # A subscription bought on a hosted Checkout
    web = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": pro.id}]}).body
    started_web = call(subscribe_handler, "POST", "/subscriptions", body={
        "orderId": web["orderId"], "priceId": pro.id, "mode": "checkout_session",
        "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no"}).body
    stripe_env.complete_checkout_session(started_web["checkoutUrl"].rsplit("/", 1)[-1])
    _until(live, lambda: get_order(orders_handler, web["orderId"]).body["status"] == "paid", "web subscription")
    _until(live, lambda: (get_order(orders_handler, web["orderId"]).body["subscription"] or {}).get(
        "stripeSubscriptionId") is not None, "web subscription never linked")


def test_each_callback_reads_only_its_own_signing_secret_and_the_api_key_only_if_it_calls_stripe():
    resources = load_template()["Resources"]
    calls_stripe = {"PaymentCallbackFunction": True, "RefundCallbackFunction": True,
                    "SubscriptionCallbackFunction": True, "RenewalCallbackFunction": False,
                    "ConnectCallbackFunction": True, "UsageCallbackFunction": True}
    own = {"PaymentCallbackFunction": "PaymentWebhookSecret", "RefundCallbackFunction": "RefundWebhookSecret",
           "SubscriptionCallbackFunction": "SubscriptionWebhookSecret",
           "RenewalCallbackFunction": "RenewalWebhookSecret", "ConnectCallbackFunction": "ConnectWebhookSecret",
           "UsageCallbackFunction": "UsageWebhookSecret"}
    # Besides the API keys, only the privacy function reads a secret: the key of erased users' pseudonyms
    extra = {"PrivacyFunction": {"PseudonymSecret"}}
    for function in HANDLERS.values():
        readable = set()
        for policy in resources[function]["Properties"]["Policies"]:
            for statement in policy["Statement"]:
                if "secretsmanager:GetSecretValue" in statement["Action"]:
                    targets = statement["Resource"] if isinstance(statement["Resource"], list) else [
                        statement["Resource"]]
                    readable |= {target["Ref"] for target in targets}
        env = resources[function]["Properties"].get("Environment", {}).get("Variables", {})
        if function in own:
            expected = {own[function]} | ({"StripeSecretArn"} if calls_stripe[function] else set())
            assert env["STRIPE_WEBHOOK_SECRET_ARN"] == {"Ref": own[function]}
        else:
            # the API functions call Stripe; the functions of events and live status never do
            expected = ((set() if function in EVENTS_AND_LIVE + NUMBERS else {"StripeSecretArn"})
                        | extra.get(function, set()))
            assert "STRIPE_WEBHOOK_SECRET_ARN" not in env
            assert ("PSEUDONYM_SECRET_ARN" in env) == (function in extra), function
        assert readable == expected, function
        assert ("STRIPE_SECRET_ARN" in env) == ("StripeSecretArn" in expected), function


def test_each_public_function_url_has_its_own_concurrency_bound():
    resources = load_template()["Resources"]
    for function in ("PaymentCallbackFunction", "RefundCallbackFunction", "SubscriptionCallbackFunction",
                     "RenewalCallbackFunction", "ConnectCallbackFunction", "UsageCallbackFunction"):
        properties = resources[function]["Properties"]
        assert properties["FunctionUrlConfig"]["AuthType"] == "NONE"
        assert properties["ReservedConcurrentExecutions"]["Fn::If"][1] == {"Ref": "CallbackReservedConcurrency"}


def test_the_user_pool_outlives_the_stack_like_the_tables():
    resources = load_template()["Resources"]
    for name, resource in resources.items():
        if resource["Type"] in ("AWS::Cognito::UserPool", "AWS::DynamoDB::Table"):
            assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Retain", "Retain"), name


# --- events out and live status --------------------------------------------------------------------------------


@pytest.fixture
def published(aws, event_publisher_handler, monkeypatch):
    from tests.support.events import PublishedEvents

    return PublishedEvents(event_publisher_handler, monkeypatch)


def _events_and_live_scenario(published, monkeypatch):
    """Everything the scenario changed, published from the streams; the example consumer given an OrderPaid twice;
    a user's connection opened, told about an order (another one gone), closed."""
    import sys

    from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend
    from moto.core.exceptions import JsonRESTError

    from devstack.lambda_context import LambdaContext
    from devstack.lambda_events.websocket import allowed_context, websocket_event
    from tests.support import reset_clients

    def module(folder):
        return sys.modules[f"function_{folder}_app"]

    events = published.drain()
    paid = next(event for event in events if event["detail-type"] == "OrderPaid")
    for _ in range(2):
        module("on_order_paid").lambda_handler(paid, LambdaContext(function_name="OnOrderPaidFunction"))
    authorizer = allowed_context({"principalId": ALICE, "context": {"userId": ALICE}})
    monkeypatch.setenv("LIVE_MANAGEMENT_URL", "https://w1b2c3d4e5.execute-api.us-east-1.amazonaws.com/live")
    reset_clients()

    def gone(self, data, connection_id):
        error = JsonRESTError("GoneException", "gone")
        error.code = 410
        raise error

    for connection in ("conn-1", "conn-gone"):
        module("live_connect").lambda_handler(websocket_event("$connect", connection, authorizer=authorizer),
                                              LambdaContext(function_name="LiveConnectFunction"))
    monkeypatch.setattr(ApiGatewayManagementApiBackend, "post_to_connection", gone)
    module("live_notify").lambda_handler(paid, LambdaContext(function_name="LiveNotifyFunction"))
    module("live_connect").lambda_handler(websocket_event("$disconnect", "conn-1", authorizer=authorizer),
                                          LambdaContext(function_name="LiveConnectFunction"))
    _numbers_scenario(events, module)


def _numbers_scenario(events, module):
    """Every published event counted, then delivered again (each a duplicate); an admin reads the numbers."""
    from devstack.lambda_context import LambdaContext
    from tests.support.api import call

    for _ in range(2):
        for event in events:
            module("metrics_aggregator").lambda_handler(event, LambdaContext(function_name="MetricsAggregatorFunction"))
    answer = call(module("admin"), "GET", "/admin/metrics", user=ADMIN, admin=True, query={"currency": "usd"})
    assert answer.status == 200 and answer.body["payments"]["succeeded"] >= 1, answer.body


def test_the_live_authorizer_reads_no_table_and_no_secret():
    properties = load_template()["Resources"]["LiveAuthorizerFunction"]["Properties"]
    assert "Policies" not in properties
    assert "STRIPE_SECRET_ARN" not in properties["Environment"]["Variables"]

def _marketplace_usage_and_privacy(live, stripe_env, catalog, orders_handler, checkout_handler, sellers_handler,
                                   usage_handler, privacy_handler):
    """The scenario's second part: a seller onboarded (Connect) and paid by a buyer; usage reported (retried) and a
    meter's error report; an export and an erasure."""
    from devstack.stripe_emulator import onboard_account, trigger_meter_error_report

    client = stripe_env.client()
    body = {"returnUrl": "http://127.0.0.1/back"}
    seller = call(sellers_handler, "POST", "/sellers", user=BOB, body=body, headers={"Idempotency-Key": "s-2"}).body
    assert call(sellers_handler, "POST", "/sellers", user=BOB, body=body).status == 201
    onboard_account(stripe_env, seller["stripeAccountId"])
    _until(live, lambda: call(sellers_handler, "GET", "/sellers/me", user=BOB).body["status"] == "active",
           "the seller never became active")
    art = catalog.price(5000, name="Print")
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": art.id}],
                                                          "sellerId": seller["sellerId"]}).body
    paying = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    intent_id = paying["clientSecret"].split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": "pm_card_visa"})
    client.v1.payment_intents.confirm(intent_id)
    _until(live, lambda: get_order(orders_handler, order["orderId"]).body["status"] == "paid", "never paid")

    meter = client.v1.billing.meters.create({"display_name": "API", "event_name": "api_calls",
                                             "default_aggregation": {"formula": "sum"}})
    usage = {"userId": ALICE, "meter": "api_calls", "value": 4, "idempotencyKey": "u-1"}
    for _ in range(2):
        answer = call(usage_handler, "POST", "/usage", user=ADMIN, admin=True, body=usage,
                      headers={"Idempotency-Key": "u-http-1"})
        assert answer.status == 202, answer.body
    assert call(usage_handler, "POST", "/usage", user=ADMIN, admin=True, body=usage).status == 202
    trigger_meter_error_report(stripe_env, meter.id)
    _until(live, lambda: any(d.path == "/usage" and '"processed"' in d.body for d in live.deliveries),
           "the meter's error report never arrived")

    assert call(privacy_handler, "GET", "/me/export").status == 200
    erased = call(privacy_handler, "DELETE", "/users/{userId}", user=ADMIN, admin=True, path={"userId": BOB},
                  headers={"Idempotency-Key": "e-1"})
    assert erased.status == 204, erased.body
    erased = call(privacy_handler, "DELETE", "/me", headers={"Idempotency-Key": "e-2"})
    assert erased.status == 204, erased.body

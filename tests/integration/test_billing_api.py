"""Bad input on every billing route: the right 4xx with the error JSON naming the field, never a 500; and the
portal, the caller's own."""

from __future__ import annotations

import json
import urllib.request

import pytest

from devstack.lambda_events import http_api_event, user_claims
from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import CustomerRecord
from tests.support.api import ALICE, call
from tests.support.invoke import invoke
from tests.support.openapi import assert_documented
from tests.support.subscriptions import given_started_subscription

SURROGATE = "\ud800"
RID = "sub_rec_01JEXAMPLE00000000000000"

# (folder, method, route, path parameters): every route this issue added
ROUTES = [
    ("billing", "POST", "/billing-portal", None),
    ("billing", "POST", "/payment-methods/setup", None),
    ("billing", "GET", "/payment-methods", None),
    ("billing", "POST", "/payment-methods/{paymentMethodId}/default", {"paymentMethodId": "pm_1QEXAMPLE"}),
    ("billing", "DELETE", "/payment-methods/{paymentMethodId}", {"paymentMethodId": "pm_1QEXAMPLE"}),
    ("billing", "GET", "/entitlements", None),
    ("cancel_subscription", "POST", "/subscriptions/{recurringPaymentId}/change", {"recurringPaymentId": RID}),
    ("cancel_subscription", "POST", "/subscriptions/{recurringPaymentId}/change/preview",
     {"recurringPaymentId": RID}),
]


@pytest.fixture
def handlers(billing_handler, cancel_subscription_handler, subscribe_handler, checkout_handler):
    return {"billing": billing_handler, "cancel_subscription": cancel_subscription_handler,
            "subscribe": subscribe_handler, "checkout": checkout_handler}


def raw(handler, method, route, body_text, path=None, user=ALICE):
    event = http_api_event(method, route, claims=user_claims(user) if user else None, path_params=path, body="{}")
    event["body"] = body_text
    answer = invoke(handler, event)
    assert_documented(answer, method, route)
    return answer


def documented(answer, method, route):
    assert_documented(answer, method, route)
    return answer


def assert_error(answer, status, code=None):
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error"} and set(answer.body["error"]) == {"code", "message"}
    if code is not None:
        assert answer.error_code == code, answer.body


@pytest.mark.parametrize(("folder", "method", "route", "path"), ROUTES)
def test_no_identity_is_401(aws, handlers, folder, method, route, path):
    answer = documented(call(handlers[folder], method, route, user=None, path=path, body={}), method, route)
    assert_error(answer, 401, "unauthenticated")


BAD_BODIES = [None, "", "{", "[]", "5", json.dumps({"x": SURROGATE}), json.dumps({"returnUrl": 5, "priceId": 5}),
              json.dumps({"priceId": "price_x", "proration": ["none"]}), json.dumps({"priceId": SURROGATE})]


@pytest.mark.parametrize(("folder", "method", "route", "path"), [r for r in ROUTES if r[1] == "POST" and (
    "change" in r[2] or "portal" in r[2])])
@pytest.mark.parametrize("body", BAD_BODIES, ids=range(len(BAD_BODIES)))
def test_bad_bodies_are_a_400_never_a_500(aws, handlers, folder, method, route, path, body):
    answer = raw(handlers[folder], method, route, body, path)
    assert_error(answer, 400)


@pytest.mark.parametrize(("body", "code", "field"), [
    (None, "missing_body", None), ({}, "missing_field", "returnUrl"), ({"returnUrl": 5}, "invalid_field", "returnUrl"),
    ({"returnUrl": "https://evil.example/"}, "redirect_not_allowed", "returnUrl"),
    ({"returnUrl": "javascript:alert(1)"}, "invalid_field", "returnUrl"),
])
def test_bad_portal_requests_are_400(aws, billing_handler, body, code, field):
    answer = documented(call(billing_handler, "POST", "/billing-portal", body=body), "POST", "/billing-portal")
    assert_error(answer, 400, code)
    if field:
        assert answer.body["error"]["message"].startswith(f"{field}: ")


def test_the_portal_needs_a_billing_account(aws, billing_handler):
    answer = call(billing_handler, "POST", "/billing-portal", body={"returnUrl": "https://shop.example/account"})
    assert_documented(answer, "POST", "/billing-portal")
    assert_error(answer, 404, "no_customer")


@pytest.mark.emulator
def test_the_portal_is_the_callers_own_customers(aws, stripe_env, billing_handler):
    customer = stripe_env.client().v1.customers.create({"metadata": {"userId": ALICE}})
    store.put(CustomerRecord(ALICE, stripe_customer_id=customer.id, created_at=now_iso()))
    answer = call(billing_handler, "POST", "/billing-portal", body={"returnUrl": "https://shop.example/account"})
    assert_documented(answer, "POST", "/billing-portal")
    assert answer.status == 201 and set(answer.body) == {"url"}, answer.body
    session_id = answer.body["url"].rsplit("/", 1)[-1]
    assert session_id.startswith("bps_") and answer.body["url"].startswith(stripe_env.url)
    with urllib.request.urlopen(answer.body["url"], timeout=10) as page:  # noqa: S310 (the emulator, http)
        assert page.status == 200 and b"Your plan" in page.read()


@pytest.mark.parametrize("payment_method", ["card_1", "pm_", "x" * 200, 5])
def test_a_payment_method_id_that_is_not_one_is_a_400_at_checkout(aws, checkout_handler, payment_method):
    answer = call(checkout_handler, "POST", "/checkout", body={"orderId": "ord_1", "paymentMethodId": payment_method})
    assert_documented(answer, "POST", "/checkout")
    assert_error(answer, 400, "invalid_field")
    assert answer.body["error"]["message"].startswith("paymentMethodId: ")


def test_a_saved_card_pays_in_payment_intent_mode_only(aws, checkout_handler):
    answer = call(checkout_handler, "POST", "/checkout", body={
        "orderId": "ord_1", "paymentMethodId": "pm_1QEXAMPLE", "mode": "checkout_session",
        "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/no"})
    assert_error(answer, 400, "invalid_field")


@pytest.mark.parametrize("route", ["/payment-methods/{paymentMethodId}/default", "/payment-methods/{paymentMethodId}"])
@pytest.mark.parametrize("payment_method", ["nope", "pm_1QEXAMPLE", "seti_1"])
def test_a_payment_method_path_that_is_not_the_callers_is_404(aws, billing_handler, route, payment_method):
    method = "DELETE" if route.endswith("}") else "POST"
    answer = documented(call(billing_handler, method, route, path={"paymentMethodId": payment_method}), method, route)
    assert_error(answer, 404, "payment_method_not_found")


@pytest.mark.parametrize(("terms", "code", "field"), [
    ({"trialDays": -1}, "invalid_field", "trialDays"), ({"trialDays": 731}, "invalid_field", "trialDays"),
    ({"trialDays": "7"}, "invalid_field", "trialDays"), ({"trialDays": True}, "invalid_field", "trialDays"),
    ({"promotionCode": "NOT A CODE"}, "invalid_promotion_code", "promotionCode"),
    ({"promotionCode": "x" * 101}, "invalid_field", "promotionCode"),
    ({"promotionCode": 5}, "invalid_field", "promotionCode"),
    ({"mode": "invoice"}, "invalid_field", "mode"),
    ({"mode": "checkout_session"}, "missing_field", "successUrl"),
    ({"mode": "checkout_session", "successUrl": "https://evil.example/", "cancelUrl": "https://shop.example/"},
     "redirect_not_allowed", "successUrl"),
])
def test_bad_subscription_terms_are_400_naming_the_field(aws, subscribe_handler, terms, code, field):
    answer = call(subscribe_handler, "POST", "/subscriptions", body={"orderId": "ord_1", "priceId": "price_1", **terms})
    assert_documented(answer, "POST", "/subscriptions")
    assert_error(answer, 400, code)
    assert answer.body["error"]["message"].startswith(f"{field}: ")


@pytest.mark.parametrize("route", ["/subscriptions/{recurringPaymentId}/change",
                                   "/subscriptions/{recurringPaymentId}/change/preview"])
def test_a_plan_change_of_a_subscription_that_is_not_the_callers_is_404(aws, cancel_subscription_handler, route):
    _, owned = given_started_subscription(user="user-bob", status="active")
    for rid in ("nope", RID, owned.recurring_payment_id):
        answer = documented(call(cancel_subscription_handler, "POST", route, path={"recurringPaymentId": rid},
                                 body={"priceId": "price_other"}), "POST", route)
        assert_error(answer, 404, "subscription_not_found")


def test_a_subscription_still_starting_cannot_change(aws, cancel_subscription_handler):
    _, starting = given_started_subscription(status="incomplete")
    answer = call(cancel_subscription_handler, "POST", "/subscriptions/{recurringPaymentId}/change",
                  path={"recurringPaymentId": starting.recurring_payment_id}, body={"priceId": "price_other"})
    assert_documented(answer, "POST", "/subscriptions/{recurringPaymentId}/change")
    assert_error(answer, 409, "subscription_not_changeable")

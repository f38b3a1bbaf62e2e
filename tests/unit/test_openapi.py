"""openapi.yaml: a valid OpenAPI 3.1 document that stays in step with template.yaml and with the code.

- every HttpApi route in template.yaml is documented (same method, same path), and every documented
  route that is not ``x-status: planned`` is deployed; a deployed route is no longer marked planned;
- the response schemas have exactly the keys the code returns (views.py, checkout.py), and what the
  code returns validates against them;
- the currency table is the one in ``payments.money``;
- every error code documented for an implemented operation exists in the code, and every code the
  code sets explicitly is documented;
- the examples in the file and the sample events under events/ validate against their schemas.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from devstack.template import REPO_ROOT, load_template
from tests.support.openapi import SPEC_PATH, assert_valid, pointer_to, resolve

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CODE_DIRS = (REPO_ROOT / "layers" / "common" / "payments", REPO_ROOT / "functions")


# --- loading ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with open(SPEC_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def operations(spec: dict[str, Any], section: str = "paths") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(METHOD, path or webhook name, operation)`` for every operation in ``section``."""
    for path, item in (spec.get(section) or {}).items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def is_planned(operation: dict[str, Any]) -> bool:
    return operation.get("x-status") == "planned"


def template_routes() -> dict[tuple[str, str], str]:
    """``{(METHOD, path): "Function.Event"}`` for every HttpApi event of every function in template.yaml."""
    routes: dict[tuple[str, str], str] = {}
    for logical_id, resource in load_template()["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event_name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            # An HttpApi event without Method/Path is API Gateway's catch-all $default route, which
            # openapi.yaml cannot document: it shows up here as an undocumented route.
            method = str(props.get("Method", "$default")).upper()
            path = str(props.get("Path", "$default"))
            routes[(method, path)] = f"{logical_id}.{event_name}"
    return routes


def documented_codes(node: Any) -> set[str]:
    """Every ``enum`` given for ``error.code`` anywhere under ``node`` (a response or a schema)."""
    found: set[str] = set()
    if isinstance(node, dict):
        error = (node.get("properties") or {}).get("error")
        if isinstance(error, dict):
            code = (error.get("properties") or {}).get("code")
            if isinstance(code, dict):
                found.update(code.get("enum") or [])
        for value in node.values():
            found |= documented_codes(value)
    elif isinstance(node, list):
        for value in node:
            found |= documented_codes(value)
    return found


def response_codes(spec: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    return {code for response in operation.get("responses", {}).values()
            for code in documented_codes(resolve(spec, response))}


# --- the document ---------------------------------------------------------------------------------------


def test_openapi_yaml_is_a_valid_openapi_3_1_document(spec: dict[str, Any]) -> None:
    assert str(spec.get("openapi", "")).startswith("3.1."), "openapi.yaml must be OpenAPI 3.1"
    validate(spec, cls=OpenAPIV31SpecValidator)


def test_every_operation_has_a_unique_operation_id_and_a_known_status(spec: dict[str, Any]) -> None:
    seen: dict[str, str] = {}
    for section in ("paths", "webhooks"):
        for method, path, operation in operations(spec, section):
            operation_id = operation.get("operationId")
            assert operation_id, f"{method} {path} has no operationId"
            assert operation_id not in seen, f"operationId {operation_id} used twice ({seen[operation_id]})"
            seen[operation_id] = f"{method} {path}"
            assert operation.get("x-status", "planned") == "planned", (
                f"{method} {path}: x-status must be 'planned' or absent, not {operation['x-status']!r}"
            )


def test_every_http_api_route_in_the_template_is_documented(spec: dict[str, Any]) -> None:
    documented = {(method, path) for method, path, _ in operations(spec)}
    routes = template_routes()
    assert routes, "template.yaml declares no HttpApi route"
    missing = sorted(f"{method} {path} ({source})" for (method, path), source in routes.items()
                     if (method, path) not in documented)
    assert not missing, f"routes in template.yaml missing from openapi.yaml: {missing}"


def test_every_documented_route_is_deployed_unless_planned(spec: dict[str, Any]) -> None:
    routes = template_routes()
    undeployed = sorted(f"{method} {path}" for method, path, operation in operations(spec)
                        if not is_planned(operation) and (method, path) not in routes)
    assert not undeployed, (
        f"openapi.yaml documents routes template.yaml does not have (mark them x-status: planned): {undeployed}"
    )


def test_a_deployed_route_is_not_marked_planned(spec: dict[str, Any]) -> None:
    routes = template_routes()
    stale = sorted(f"{method} {path}" for method, path, operation in operations(spec)
                   if is_planned(operation) and (method, path) in routes)
    assert not stale, f"deployed in template.yaml but still x-status: planned in openapi.yaml: {stale}"


def test_every_api_operation_requires_the_bearer_jwt(spec: dict[str, Any]) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http" and schemes["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    for method, path, operation in operations(spec):
        assert operation.get("security", spec["security"]) == [{"bearerAuth": []}], f"{method} {path}"
        assert "401" in operation["responses"], f"{method} {path} does not document 401"


# --- the document against the code ----------------------------------------------------------------------


def _records() -> dict[str, Any]:
    """One of each record with every optional field set, so every optional key of the views appears."""
    from payments.data.models import (
        Discount,
        InvoiceLine,
        OrderItem,
        OrderRecord,
        PaymentRecord,
        RecurringPaymentRecord,
        RefundRecord,
    )

    stamp = "2026-11-22T10:00:00.000Z"
    order = OrderRecord(
        "ord_01JEXAMPLE00000000000000", user_id="user-alice", kind="renewal", amount=1999, currency="usd",
        description="Monthly plan", status="partially_refunded", parent_order_id="ord_01JEXAMPLE0000000000000P",
        items=[OrderItem(price_id="price_1", quantity=1, unit_amount=1999, recurring=True)],
        payment_ids=["pay_1", "pay_2"], refund_ids=["ref_1"], recurring_payment_id="sub_rec_1",
        stripe_invoice_id="in_1", lines=[InvoiceLine(description="1 x Plan", amount=1999, proration=False,
                                                     price_id="price_1"),
                                         InvoiceLine(description="Unused time", amount=-500, proration=True)],
        created_at=stamp, updated_at=stamp, created_sort=f"{stamp}#ord_01JEXAMPLE00000000000000",
        seller_id="sel_1", application_fee_amount=199,  # a marketplace order
    )
    failed = PaymentRecord(
        "pay_1", order_id=order.order_id, user_id="user-alice", amount=1999, currency="usd",
        mode="checkout_session", status="failed", stripe_checkout_session_id="cs_test_1",
        failure_code="card_declined", failure_message=None, created_at=stamp, updated_at=stamp,
    )
    paid = PaymentRecord(
        "pay_2", order_id=order.order_id, user_id="user-alice", amount=1999, currency="usd",
        mode="payment_intent", status="succeeded", stripe_payment_intent_id="pi_1", amount_refunded=500,
        payment_method_id="pm_1", discount=Discount(promotion_code="FALL25", promotion_code_id="promo_1", amount=500),
        created_at="2026-11-22T10:00:01.000Z", updated_at=stamp, destination_account_id="acct_1",
        application_fee_amount=199, transfer_amount=1800, stripe_transfer_id="tr_1",
    )
    refund = RefundRecord(
        "ref_1", payment_id="pay_2", order_id=order.order_id, amount=500, currency="usd", status="failed",
        stripe_refund_id="re_1", failure_reason="lost_or_stolen_card", created_at=stamp, updated_at=stamp,
        reverse_transfer=True, stripe_transfer_reversal_id="trr_1",
    )
    recurring = RecurringPaymentRecord(
        "sub_rec_1", order_id=order.order_id, user_id="user-alice", price_id="price_1", status="active",
        stripe_subscription_id="sub_1", cancel_at_period_end=True, current_period_end=stamp, trial_end=stamp,
        created_at=stamp, updated_at=stamp,
    )
    return {"order": order, "payments": [failed, paid], "refunds": [refund], "recurring": recurring}


def _properties(spec: dict[str, Any], name: str) -> set[str]:
    return set(spec["components"]["schemas"][name]["properties"])


def test_order_schema_is_exactly_what_views_returns(spec: dict[str, Any]) -> None:
    from payments.orders.views import order_view

    records = _records()
    full = order_view(records["order"], records["payments"], records["refunds"], records["recurring"])
    assert set(full) == _properties(spec, "Order")
    assert {key for p in full["payments"] for key in p} == _properties(spec, "Payment")
    assert set(full["refunds"][0]) == _properties(spec, "Refund")
    assert set(full["subscription"]) == _properties(spec, "Subscription")
    assert_valid(spec, "/components/schemas/Order", full)

    bare = records["order"]
    bare.items, bare.parent_order_id, bare.kind, bare.status = None, None, "one_time", "pending"
    bare.lines, bare.stripe_invoice_id = None, None
    bare.seller_id = bare.application_fee_amount = None
    minimal = order_view(bare)
    assert "items" not in minimal and "lines" not in minimal and "sellerId" not in minimal
    assert minimal["subscription"] is None
    assert_valid(spec, "/components/schemas/Order", minimal)
    assert_valid(spec, "/components/schemas/OrderList", {"orders": [full, minimal], "nextCursor": None})


@pytest.fixture
def publishable_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from tests.support import reset_clients

    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "pk_test_openapi")
    reset_clients()
    yield "pk_test_openapi"
    reset_clients()


@pytest.mark.parametrize(("mode", "created"), [
    ("payment_intent", {"clientSecret": "pi_1_secret_2"}),
    ("checkout_session", {"checkoutUrl": "https://checkout.stripe.com/c/pay/cs_test_1"}),
])
def test_checkout_response_schema_is_exactly_what_checkout_returns(
    spec: dict[str, Any], publishable_key: str, mode: str, created: dict[str, str],
) -> None:
    from payments.checkout.api import _answer
    from payments.data.models import PaymentRecord

    payment = PaymentRecord("pay_1", order_id="ord_1", user_id="user-alice", amount=1999, currency="usd",
                            mode=mode, status="pending", created_at="x", updated_at="x")
    answer = _answer(payment, created)
    assert set(answer) == _properties(spec, "CheckoutResponse")
    assert set(answer) == set(spec["components"]["schemas"]["CheckoutResponse"]["required"])
    assert answer["publishableKey"] == publishable_key
    assert_valid(spec, "/components/schemas/CheckoutResponse", answer)


def test_seller_usage_and_export_schemas_are_exactly_what_the_code_returns(spec: dict[str, Any]) -> None:
    from payments.data.models import SellerRecord, UsageRecord
    from payments.sellers.views import seller_view
    from payments.usage.api import usage_view

    stamp = "2026-11-22T10:00:00.000Z"
    seller = seller_view(SellerRecord("user-alice", seller_id="sel_1", status="active", stripe_account_id="acct_1",
                                      requirements_due=["external_account"], created_at=stamp, updated_at=stamp))
    assert set(seller) == _properties(spec, "Seller")
    assert_valid(spec, "/components/schemas/Seller", seller)
    usage = usage_view(UsageRecord("use_1", user_id="user-alice", meter="api_calls", value=3, identifier="usage_1",
                                   request_digest="d", status="sent", created_at=stamp, updated_at=stamp))
    assert set(usage) == _properties(spec, "UsageReport")
    records = _records()
    from payments.orders.views import order_view, subscription_view

    export = {"userId": "user-alice", "orders": [order_view(records["order"], records["payments"])],
              "subscriptions": [{"orderId": "ord_1", **subscription_view(records["recurring"])}],
              "paymentMethods": [{"id": "pm_1", "type": "card", "brand": "visa", "last4": "4242", "expMonth": 8,
                                  "expYear": 2030}],
              "seller": seller, "usage": [usage],
              "entitlements": [{"lookupKey": "pro-reports", "featureId": "feat_test_1"}]}
    assert set(export) == _properties(spec, "UserExport")
    assert_valid(spec, "/components/schemas/UserExport", export)


def test_error_schema_is_what_the_api_answers(spec: dict[str, Any]) -> None:
    from payments.core.http import error_response

    response = error_response(400, "invalid_field", "amount: must be greater than zero")
    assert_valid(spec, "/components/schemas/Error", json.loads(response.body))


def test_currency_table_is_the_one_in_money(spec: dict[str, Any]) -> None:
    from payments.core.money import CURRENCIES

    schema = spec["components"]["schemas"]["Currency"]
    documented = {code: int(exponent) for exponent, codes in schema["x-currencies"].items() for code in codes}
    assert documented == {code: c.exponent for code, c in CURRENCIES.items()}
    assert schema["x-currency-steps"] == {code: c.step for code, c in CURRENCIES.items() if c.step != 1}


def _code_files() -> list[Path]:
    return sorted(p for folder in CODE_DIRS for p in folder.rglob("*.py") if "tests" not in p.parts)


def _explicit_codes() -> dict[str, str]:
    """``{code: where}`` for every error code the code sets explicitly: ``code="..."`` arguments,
    ``"code": "..."`` in dicts, and ``error_response(status, "...", ...)``."""
    found: dict[str, str] = {}
    for path in _code_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = str(path.relative_to(REPO_ROOT))
        for node in ast.walk(tree):
            values: list[ast.AST] = []
            if isinstance(node, ast.Call):
                values += [kw.value for kw in node.keywords if kw.arg == "code"]
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name == "error_response" and len(node.args) >= 2:
                    values.append(node.args[1])
            elif isinstance(node, ast.Dict):
                values += [v for k, v in zip(node.keys, node.values, strict=True)
                           if isinstance(k, ast.Constant) and k.value == "code"]
            for value in values:
                candidates = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                for candidate in candidates:
                    if isinstance(candidate, ast.Constant) and isinstance(candidate.value, str):
                        found.setdefault(candidate.value, f"{where}:{candidate.lineno}")
    return found


def test_documented_error_codes_exist_in_the_code(spec: dict[str, Any]) -> None:
    source = "\n".join(p.read_text(encoding="utf-8") for p in _code_files())
    unknown = []
    for section in ("paths", "webhooks"):
        for method, path, operation in operations(spec, section):
            if is_planned(operation):
                continue
            unknown += [f"{method} {path}: {code}" for code in sorted(response_codes(spec, operation))
                        if f'"{code}"' not in source]
    assert not unknown, f"openapi.yaml documents error codes the code never uses: {unknown}"


def test_every_error_code_the_code_sets_is_documented(spec: dict[str, Any]) -> None:
    documented = set()
    for section in ("paths", "webhooks"):
        for _, _, operation in operations(spec, section):
            documented |= response_codes(spec, operation)
    described = spec["info"]["description"]
    missing = sorted(f"{code} ({where})" for code, where in _explicit_codes().items()
                     if code not in documented and f"`{code}`" not in described)
    assert not missing, f"error codes the code sets but openapi.yaml does not document: {missing}"


# --- examples and sample events -------------------------------------------------------------------------


def test_schema_examples_validate(spec: dict[str, Any]) -> None:
    checked = 0
    for name, schema in spec["components"]["schemas"].items():
        for example in schema.get("examples") or []:
            if isinstance(example, dict):
                assert_valid(spec, pointer_to("components", "schemas", name), example)
                checked += 1
    assert checked


def test_request_examples_validate(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for media, content in ((operation.get("requestBody") or {}).get("content") or {}).items():
            pointer = pointer_to("paths", path, method.lower(), "requestBody", "content", media, "schema")
            for example in (content.get("examples") or {}).values():
                assert_valid(spec, pointer, resolve(spec, example)["value"])


def _sample_http_events() -> list[Path]:
    return sorted(p for p in (REPO_ROOT / "events").rglob("*.json")
                  if " " in str(json.loads(p.read_text(encoding="utf-8")).get("routeKey", "")))  # not $default


@pytest.mark.parametrize("path", _sample_http_events(), ids=lambda p: str(p.relative_to(REPO_ROOT / "events")))
def test_sample_http_events_are_documented_requests(spec: dict[str, Any], path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    method, route = event["routeKey"].split(" ", 1)
    item = spec["paths"].get(route) or {}
    assert method.lower() in item, f"{path.name}: {event['routeKey']} is not in openapi.yaml"
    operation = item[method.lower()]
    if event.get("body"):
        assert "requestBody" in operation, f"{path.name} has a body, {event['routeKey']} takes none"
        assert_valid(spec, pointer_to("paths", route, method.lower(), "requestBody", "content", "application/json",
                                      "schema"), json.loads(event["body"]))
    parameters = [resolve(spec, p) for p in operation.get("parameters", [])]
    for where, given in (("query", event.get("queryStringParameters")), ("path", event.get("pathParameters"))):
        documented = {p["name"] for p in parameters if p["in"] == where}
        assert set(given or {}) <= documented, f"{path.name}: undocumented {where} parameters"


@pytest.mark.parametrize("state", ["subscription", "trial", "checkout_session"])
def test_subscribe_response_schema_is_exactly_what_subscribe_returns(spec: dict[str, Any], state: str) -> None:
    from payments.data.models import RecurringPaymentRecord
    from payments.stripe.objects import StripeCheckoutSession, StripeSubscription
    from payments.subscriptions.api import _answer

    record = RecurringPaymentRecord("sub_rec_1", order_id="ord_1", user_id="user-alice", price_id="price_1",
                                    status="incomplete", mode="payment_intent", created_at="x", updated_at="x")
    answers = {
        "subscription": StripeSubscription(id="sub_1", status="incomplete", cancel_at_period_end=False,
                                           current_period_end=None, customer_id="cus_1", metadata={},
                                           client_secret="pi_1_secret_2"),
        "trial": StripeSubscription(id="sub_1", status="trialing", cancel_at_period_end=False,
                                    current_period_end=1_800_000_000, customer_id="cus_1", metadata={},
                                    trial_end=1_800_000_000, setup_secret="seti_1_secret_2"),
        "checkout_session": StripeCheckoutSession(id="cs_test_1", status="open", payment_status="unpaid",
                                                  amount_total=900, currency="usd", payment_intent_id=None,
                                                  url="https://checkout.stripe.com/c/pay/cs_test_1", metadata={},
                                                  mode="subscription"),
    }
    answer = _answer(record, answers[state])
    assert set(answer) == _properties(spec, "SubscribeResponse")
    assert set(answer) == set(spec["components"]["schemas"]["SubscribeResponse"]["required"])
    assert_valid(spec, "/components/schemas/SubscribeResponse", answer)

"""Reading template.yaml into what the local stack serves: functions, routes (API Gateway's matching),
Function URLs, webhook endpoints and the functions' environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from devstack.local_functions import Route, RouteTable, TemplateError, read_functions, route_table
from devstack.local_stack import StackError, StripeSettings, local_environment
from devstack.template import REPO_ROOT, TEMPLATE, load_template


def write_template(tmp_path: Path, resources: dict, **top: object) -> Path:
    template = {"Transform": "AWS::Serverless-2016-10-31", **top, "Resources": resources}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    return path


def function(code_uri: str = "fn/", **props: object) -> dict:
    return {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": code_uri, "Handler": "app.handler", **props}}


def http_event(method: str, path: str, **props: object) -> dict:
    return {"Type": "HttpApi", "Properties": {"Method": method, "Path": path, **props}}


# ------------------------------------------------------------------------------------------ routes


def test_every_http_api_event_of_the_real_template_is_a_route_of_its_function():
    functions = read_functions(TEMPLATE)
    template = load_template(TEMPLATE)
    expected = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], name)
        for name, resource in template["Resources"].items()
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    }
    assert {(r.method, r.path, r.function) for f in functions for r in f.routes} == expected
    assert all(r.authorized for f in functions for r in f.routes)  # the API's DefaultAuthorizer
    orders = next(f for f in functions if f.logical_id == "OrdersFunction")
    assert orders.handler_file == REPO_ROOT / "functions" / "orders" / "app.py"
    assert orders.module_name == "function_orders_app"
    assert orders.layers == (REPO_ROOT / "layers" / "common",)


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("GET", "/orders", ("GET /orders", {})),
    ("GET", "/orders/mine", ("GET /orders/mine", {})),                 # static beats {param}
    ("GET", "/orders/ord_1", ("GET /orders/{orderId}", {"orderId": "ord_1"})),
    ("GET", "/orders/a%2Fb", ("GET /orders/{orderId}", {"orderId": "a/b"})),
    ("POST", "/orders/ord_1", ("ANY /orders/{orderId}", {"orderId": "ord_1"})),  # method beats ANY, ANY catches
    ("GET", "/files/a/b/c", ("GET /files/{path+}", {"path": "a/b/c"})),
    ("GET", "/orders/", None),                                         # no trailing-slash folding
    ("GET", "/orders/ord_1/extra", None),
    ("GET", "/files", None),                                           # greedy needs a segment
    ("DELETE", "/orders", None),
])
def test_the_most_specific_route_matches_as_api_gateway_picks(method, path, expected):
    table = RouteTable([
        Route("GET", "/orders", "F"), Route("GET", "/orders/{orderId}", "F"), Route("GET", "/orders/mine", "F"),
        Route("ANY", "/orders/{orderId}", "F"), Route("GET", "/files/{path+}", "F"),
    ])
    found = table.find(method, path)
    assert (None if found is None else (found[0].route_key, found[1])) == expected


def test_authorizer_none_makes_a_public_route(tmp_path):
    path = write_template(tmp_path, {
        "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"Auth": {
            "DefaultAuthorizer": "Jwt", "Authorizers": {"Jwt": {"JwtConfiguration": {"issuer": "x"}}}}}},
        "Fn": function(Events={
            "Private": http_event("GET", "/private", ApiId={"Ref": "Api"}),
            "Public": http_event("GET", "/public", ApiId={"Ref": "Api"}, Auth={"Authorizer": "NONE"}),
        }),
    })
    routes = {r.path: r.authorized for r in route_table(read_functions(path))}
    assert routes == {"/private": True, "/public": False}


@pytest.mark.parametrize(("events", "message"), [
    ({"A": http_event("GET", "/_local/config")}, "keeps for itself"),
    ({"A": http_event("GET", "/x"), "B": http_event("GET", "/x")}, "declared by"),
])
def test_routes_the_local_stack_cannot_serve_faithfully_are_refused(tmp_path, events, message):
    with pytest.raises(TemplateError, match=message):
        read_functions(write_template(tmp_path, {"Fn": function(Events=events)}))


# ------------------------------------------------------------------------------------------ URLs and webhooks


def test_callback_functions_are_the_stripe_webhook_endpoints_named_by_their_folder():
    functions = {f.logical_id: f for f in read_functions(TEMPLATE)}
    assert functions["PaymentCallbackFunction"].url_path == "/_lambda/PaymentCallbackFunction/"
    assert functions["PaymentCallbackFunction"].webhook_endpoint == "payment"
    assert functions["RefundCallbackFunction"].webhook_endpoint == "refund"
    assert functions["OrdersFunction"].url_path is None and functions["OrdersFunction"].webhook_endpoint is None


def test_a_function_url_outside_a_callback_folder_is_no_webhook(tmp_path):
    path = write_template(tmp_path, {"Fn": function("hooks/", FunctionUrlConfig={"AuthType": "NONE"})})
    (fn,) = read_functions(path)
    assert fn.url_path == "/_lambda/Fn/" and fn.webhook_endpoint is None


# ------------------------------------------------------------------------------------------ environment


def test_environment_is_globals_merged_with_the_function_with_intrinsics_resolved_locally(tmp_path):
    path = write_template(
        tmp_path,
        {
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
            "Fn": function(Environment={"Variables": {"OWN": "yes", "SHARED": "function wins"}}),
        },
        Parameters={"Level": {"Type": "String", "Default": "INFO"}, "Arn": {"Type": "String"}},
        Globals={"Function": {"Environment": {"Variables": {
            "SHARED": "global", "TABLE": {"Ref": "Table"}, "LEVEL": {"Ref": "Level"}, "SECRET_ARN": {"Ref": "Arn"},
            "TABLE_ARN": {"Fn::GetAtt": ["Table", "Arn"]}, "REGION": {"Fn::Sub": "${AWS::Region}-${Table}"},
            "FLAG": True,
        }}}},
    )
    (fn,) = read_functions(path)
    assert fn.environment == {
        "SHARED": "function wins", "OWN": "yes", "TABLE": "Table", "LEVEL": "INFO", "FLAG": "true",
        "TABLE_ARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Table", "REGION": "us-east-1-Table",
    }  # SECRET_ARN: a parameter without a default is left out


def test_the_local_environment_points_every_function_at_the_local_services():
    orders = next(f for f in read_functions(TEMPLATE) if f.logical_id == "OrdersFunction")
    env = local_environment(orders, dynamodb_url="http://127.0.0.1:8000", stripe=StripeSettings(),
                            stripe_url="http://127.0.0.1:8420")
    assert env["ORDERS_TABLE_NAME"] == "OrdersTable"
    assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8000"
    assert env["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert env["STRIPE_WEBHOOK_SECRET_PAYMENT"] == "whsec_local_payment"
    assert env["STRIPE_WEBHOOK_SECRET_REFUND"] == "whsec_local_refund"
    assert "STRIPE_SECRET_ARN" not in env and env["POWERTOOLS_TRACE_DISABLED"] == "true"


def test_real_stripe_test_mode_takes_test_keys_only():
    assert StripeSettings.from_environ({}).mode == "emulator"
    settings = StripeSettings.from_environ({"STRIPE_SECRET_KEY": "sk_test_abc", "STRIPE_PUBLISHABLE_KEY": "pk_test_abc",
                                            "STRIPE_WEBHOOK_SECRET": "whsec_cli"})
    assert (settings.mode, settings.webhook_secrets["refund"]) == ("stripe", "whsec_cli")
    with pytest.raises(StackError, match="test-mode"):
        StripeSettings.from_environ({"STRIPE_SECRET_KEY": "sk_live_abc", "STRIPE_PUBLISHABLE_KEY": "pk_live_abc"})
    with pytest.raises(StackError, match="STRIPE_PUBLISHABLE_KEY"):
        StripeSettings.from_environ({"STRIPE_SECRET_KEY": "sk_test_abc"})

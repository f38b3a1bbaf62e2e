"""The local stack (``make dev``) as a process: it starts from the CLI, serves the template's routes and
Function URLs behind a JWT authorizer like API Gateway's, reloads changed handlers, and stops leaving no
process or port behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.local_auth import load_signing_key, mint_token
from devstack.stack_process import StackProcess
from devstack.template import REPO_ROOT, TEMPLATE, load_template
from tests.support.local_stack import descendants_of, pid_alive, port_open, request, stack_process

pytestmark = pytest.mark.emulator


def cli_token(state_dir: Path, user: str, *, admin: bool = False) -> str:
    """``make token USER=... [ADMIN=1]``, as the Makefile runs it."""
    command = [sys.executable, "-m", "devstack.local_stack", "token", "--user", user, "--state-dir", str(state_dir)]
    result = subprocess.run(command +  # noqa: S603 (our own CLI)
                            (["--admin"] if admin else []), cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True, timeout=60)
    return result.stdout.strip()


def wait_until_gone(pids: set[int], ports: list[int], timeout: float = 10) -> tuple[set[int], list[int]]:
    """Bounded wait for processes to exit and ports to close; returns what is still there."""
    deadline = time.monotonic() + timeout
    while True:
        alive = {pid for pid in pids if pid_alive(pid)}
        listening = [port for port in ports if port_open(port)]
        if not (alive or listening) or time.monotonic() > deadline:
            return alive, listening
        time.sleep(0.1)


# ------------------------------------------------------------------------------------------ lifecycle


def test_the_stack_starts_from_the_cli_serves_orders_with_a_minted_token_and_stops_clean(tmp_path):
    # Given the stack started the way `make dev` starts it (free ports, its own key folder)
    with stack_process(tmp_path) as stack:
        children = descendants_of(stack.process.pid)
        ports = stack.ports()
        assert children, "the Stripe emulator runs as a child process"
        assert all(port_open(port) for port in ports)
        # When a client calls GET /orders without a token
        status, body, headers = request("GET", f"{stack.api}/orders")
        # Then API Gateway's JWT authorizer answers
        assert (status, body) == (401, {"message": "Unauthorized"})
        assert 'error="invalid_token"' in headers["www-authenticate"]
        # When it calls with a token minted by `make token`
        token = cli_token(tmp_path, "alice")
        status, body, _ = request("GET", f"{stack.api}/orders", token=token)
        # Then the orders function answers for that user
        assert (status, body) == (200, {"orders": [], "nextCursor": None})
        assert stack.wait_for_output(r"GET /orders 200 \d+ms OrdersFunction user=alice"), "one log line per request"
        # When Ctrl-C reaches it
        code = stack.stop(signal.SIGINT)
    # Then it exits cleanly, its ports are closed and no child process survives
    assert code == 0, stack.output
    assert "Stopped." in stack.output
    alive, listening = wait_until_gone(children, ports)
    assert not alive, f"processes left behind: {alive}"
    assert not listening, f"ports still open: {listening}"
    assert token not in stack.output, "a token must never be logged"


def test_a_killed_stack_leaves_no_emulator_behind(tmp_path):
    # Given a running stack and its emulator process
    with stack_process(tmp_path) as stack:
        children = descendants_of(stack.process.pid)
        assert children
        # When the stack is killed outright (no chance to stop its children)
        stack.stop(signal.SIGKILL)
    # Then the emulator notices and exits by itself, closing its port
    alive, listening = wait_until_gone(children, [int(stack.config["stripe"].rsplit(":", 1)[1])])
    assert not alive and not listening


def test_a_second_stack_on_the_same_port_explains_itself(tmp_path):
    # Given a running stack
    with stack_process(tmp_path) as stack:
        api_port = stack.ports()[0]
        # When another one is started on its API port
        result = subprocess.run([sys.executable,  # noqa: S603 (our own CLI)
                                  "-m", "devstack.local_stack", "serve", "--api-port", str(api_port),
                                 "--dynamodb-port", "0", "--stripe-port", "0", "--state-dir", str(tmp_path)],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                                env={k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")})
    # Then it says which port is taken and how to pick another, and starts nothing
    assert result.returncode == 1
    assert f"{api_port}" in result.stderr and "--api-port" in result.stderr


# ------------------------------------------------------------------------------------------ the template decides

HELLO_APP = '''
import json
import os


def lambda_handler(event, context):
    authorizer = event["requestContext"].get("authorizer") or {{}}
    return {{
        "statusCode": 200,
        "headers": {{"content-type": "application/json"}},
        "body": json.dumps({{
            "version": {version},
            "routeKey": event["routeKey"],
            "rawPath": event["rawPath"],
            "pathParameters": event.get("pathParameters"),
            "queryStringParameters": event.get("queryStringParameters"),
            "claims": (authorizer.get("jwt") or {{}}).get("claims"),
            "greeting": os.environ.get("GREETING"),
            "tableName": os.environ.get("ORDERS_TABLE_NAME"),
            "body": event.get("body"),
            "isBase64Encoded": event["isBase64Encoded"],
            "function": context.function_name,
        }}),
    }}
'''


def write_hello(folder: Path, version: int) -> None:
    path = folder / "app.py"
    before = path.stat().st_mtime if path.exists() else time.time()
    path.write_text(textwrap.dedent(HELLO_APP.format(version=version)))
    os.utime(path, (before + 2, before + 2))  # a clearly newer mtime, whatever the file system's resolution


def template_with_hello(tmp_path: Path) -> Path:
    """A copy of template.yaml (paths made absolute) plus a HelloFunction the stack's code knows nothing of."""
    template = load_template(TEMPLATE)
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = str((REPO_ROOT / props[key]).resolve()) + "/"
    hello = tmp_path / "hello"
    hello.mkdir()
    write_hello(hello, version=1)
    template["Resources"]["HelloFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": str(hello) + "/",
            "Handler": "app.lambda_handler",
            "Environment": {"Variables": {"GREETING": "hello from the template"}},
            "FunctionUrlConfig": {"AuthType": "NONE"},
            "Events": {
                "Hello": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "GET",
                                                             "Path": "/hello/{name}"}},
                "Anything": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "ANY",
                                                                "Path": "/hello/{proxy+}"}},
                "Public": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "POST",
                                                              "Path": "/public/hello", "Auth": {"Authorizer": "NONE"}}},
            },
        },
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def hello_stack(tmp_path_factory) -> Iterator[tuple[StackProcess, Path, Path]]:
    """A stack serving the copy of the template with HelloFunction; yields (stack, template, state dir)."""
    folder = tmp_path_factory.mktemp("hello-stack")
    template = template_with_hello(folder)
    with stack_process(folder / "state", template=template) as stack:
        yield stack, template, folder / "state"


def template_routes(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every HttpApi event, read straight from the template (not through the stack's code)."""
    routes = []
    for resource in template["Resources"].values():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "HttpApi":
                routes.append((event["Properties"]["Method"].upper(), event["Properties"]["Path"]))
    return routes


def test_a_route_added_to_the_template_is_served_with_api_gateways_event(hello_stack):
    stack, _, state_dir = hello_stack
    token = mint_token(load_signing_key(state_dir), "bob", admin=True)
    # When a signed-in admin calls the route only the template copy declares
    status, body, headers = request("GET", f"{stack.api}/hello/world%20wide?x=1&x=2", token=token)
    # Then HelloFunction gets the HTTP API event: route key, decoded path parameter, query joined with commas,
    # the verified claims as strings with the groups as API Gateway flattens them, its template environment
    assert status == 200, body
    assert body["routeKey"] == "GET /hello/{name}"
    assert body["rawPath"] == "/hello/world%20wide"
    assert body["pathParameters"] == {"name": "world wide"}
    assert body["queryStringParameters"] == {"x": "1,2"}
    assert body["claims"]["sub"] == "bob" and body["claims"]["cognito:groups"] == "[admin]"
    assert isinstance(body["claims"]["exp"], str)
    assert body["greeting"] == "hello from the template" and body["tableName"] == "OrdersTable"
    assert body["function"] == "HelloFunction"
    assert headers["apigw-requestid"]


def test_the_most_specific_route_wins_and_a_route_without_authorizer_needs_no_token(hello_stack):
    stack, _, state_dir = hello_stack
    token = mint_token(load_signing_key(state_dir), "bob")
    # A longer path falls to the greedy ANY route, a one-segment path to {name}
    assert request("DELETE", f"{stack.api}/hello/a/b", token=token)[1]["routeKey"] == "ANY /hello/{proxy+}"
    assert request("GET", f"{stack.api}/hello/a", token=token)[1]["routeKey"] == "GET /hello/{name}"
    # Auth: {Authorizer: NONE} is served without a token, and without claims
    status, body, _ = request("POST", f"{stack.api}/public/hello", body={"hi": 1})
    assert status == 200 and body["claims"] is None
    assert (body["body"], body["isBase64Encoded"]) == ('{"hi": 1}', False)


def test_the_routes_and_urls_served_are_exactly_the_templates(hello_stack):
    stack, template_path, _ = hello_stack
    template = load_template(template_path)
    routes = template_routes(template)
    # Every route of the template reaches its authorizer (401), so it exists...
    for method, path in routes:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        status, body, _ = request(method if method != "ANY" else "GET", stack.api + concrete)
        expected = 200 if path == "/public/hello" else 401
        assert status == expected, f"{method} {path}: {status} {body}"
    # ...and paths or methods the template does not declare answer API Gateway's 404
    for method, path in (("DELETE", "/orders"), ("GET", "/refunds"), ("GET", "/orders/x/y"), ("GET", "/orders/"),
                         ("GET", "/nothing")):
        assert request(method, stack.api + path)[:2] == (404, {"message": "Not Found"}), f"{method} {path}"
    # Function URLs: exactly the functions with a FunctionUrlConfig, at /_lambda/<LogicalId>/
    functions = {name: r.get("Properties") or {} for name, r in template["Resources"].items()
                 if r.get("Type") == "AWS::Serverless::Function"}
    with_url = {name for name, props in functions.items() if props.get("FunctionUrlConfig")}
    assert set(stack.config["functionUrls"]) == with_url
    assert set(stack.config["routes"]) == {f"{m} {p}" for m, p in routes}
    status, body, _ = request("POST", f"{stack.api}/_lambda/HelloFunction/some/path?q=1", body=b"\x00\x01",
                              headers={"content-type": "application/octet-stream"})
    assert status == 200 and body["routeKey"] == "$default" and body["rawPath"] == "/some/path"
    assert body["isBase64Encoded"] is True and body["body"] == "AAE="
    assert request("POST", f"{stack.api}/_lambda/OrdersFunction/")[0] == 404  # no FunctionUrlConfig


def test_a_callback_url_verifies_stripe_signatures(hello_stack):
    stack, _, _ = hello_stack
    # When something that is not Stripe posts to the payment callback's Function URL
    status, body, _ = request("POST", stack.config["functionUrls"]["PaymentCallbackFunction"],
                              body={"id": "evt_1", "type": "payment_intent.succeeded"})
    # Then the real callback answers: a bad signature is a 400, nothing is applied
    assert status == 400 and body["error"]["code"]
    # And each callback is the emulator's webhook endpoint for the event types its handler handles
    webhooks = stack.config["webhooks"]
    assert webhooks["payment"]["function"] == "PaymentCallbackFunction"
    assert "payment_intent.succeeded" in webhooks["payment"]["events"]
    assert "charge.refunded" in webhooks["refund"]["events"]
    assert "charge.refunded" not in webhooks["payment"]["events"]


def test_tokens_the_authorizer_refuses(hello_stack, tmp_path):
    stack, _, state_dir = hello_stack
    key = load_signing_key(state_dir)
    refused = {
        "expired": mint_token(key, "bob", now=int(time.time()) - 13 * 3600),
        "other issuer": mint_token(key, "bob", issuer="https://cognito-idp.us-east-1.amazonaws.com/x"),
        "other audience": mint_token(key, "bob", audience="someone-else"),
        "other key": mint_token(load_signing_key(tmp_path), "bob"),
        "not a JWT": "hello",
    }
    for why, token in refused.items():
        status, body, headers = request("GET", f"{stack.api}/hello/x", token=token)
        assert (status, body) == (401, {"message": "Unauthorized"}), why
        assert "invalid_token" in headers["www-authenticate"], why


def test_a_changed_handler_is_served_without_a_restart(hello_stack):
    stack, template_path, state_dir = hello_stack
    token = mint_token(load_signing_key(state_dir), "bob")
    assert request("GET", f"{stack.api}/hello/x", token=token)[1]["version"] == 1
    # When the handler's file changes while the stack runs
    write_hello(Path(load_template(template_path)["Resources"]["HelloFunction"]["Properties"]["CodeUri"]), version=2)
    # Then the next request runs the new code
    status, body, _ = request("GET", f"{stack.api}/hello/x", token=token)
    assert (status, body["version"]) == (200, 2)
    assert stack.wait_for_output("reloading HelloFunction")


def test_local_endpoints_and_the_page(hello_stack):
    stack, _, _ = hello_stack
    status, body, _ = request("GET", f"{stack.api}/_local/token?user=carol&admin=1")
    assert status == 200 and body["admin"] is True
    assert request("GET", f"{stack.api}/hello/x", token=body["token"])[1]["claims"]["sub"] == "carol"
    assert request("GET", f"{stack.api}/_local/token")[0] == 400
    status, page, headers = request("GET", f"{stack.api}/demo/")
    assert status == 200 and '<script src="app.js"></script>' in page
    assert headers["content-type"].startswith("text/html")
    status, script, headers = request("GET", f"{stack.api}/demo/app.js")
    assert status == 200 and "stripe.confirmCardPayment(" in script
    assert headers["content-type"].startswith(("application/javascript", "text/javascript"))
    assert request("GET", f"{stack.api}/demo/../template.yaml")[0] == 404

"""The local stack's HTTP server: API Gateway, Lambda Function URLs, the demo page, on one loopback port.

Each request is answered by the first of:

* ``/_lambda/<LogicalId>/...``: the function's Function URL. The handler gets the event a Function URL
  sends (payload 2.0, ``rawPath`` the part after the prefix, the body base64-encoded unless it is text,
  as Lambda does); an exception is a 502, as Lambda's.
* ``/_local/...``: the stack's own endpoints (never part of the template): ``config`` (what the demo page
  needs: mode, publishable key, Stripe.js URL, catalog prices, routes) and ``token?user=&admin=1`` (a
  signed token; answered to loopback clients only).
* ``/demo/...``: the static checkout page (``devstack/demo_page/``).
* a route of the template's HTTP API (most specific match, as API Gateway picks): the JWT authorizer runs
  first (401 ``{"message":"Unauthorized"}`` as API Gateway answers), then the handler gets an API Gateway
  HTTP API event (payload 2.0) with the verified claims in ``requestContext.authorizer.jwt.claims``;
  its answer is read as API Gateway reads a payload 2.0 answer. No route: 404 ``{"message":"Not Found"}``.

Every request is logged in one line: method, path (no query string), status, time, the function and,
for the API, the user; for a webhook, the Stripe event type and the callback's result. Never a header,
a token or a body.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import mimetypes
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack.lambda_events import (
    ACCOUNT_ID,
    _api_gateway_request_id,
    _request_time,
    _trace_id,
)
from devstack.local_auth import JwtAuthorizer, Unauthorized, lambda_claims
from devstack.local_functions import FUNCTION_URL_PREFIX, LocalFunction, RouteTable
from devstack.local_runtime import HandlerRuntime

DEMO_PAGE_DIR = Path(__file__).resolve().parent / "demo_page"
API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml",
               "application/x-yaml")


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def lambda_headers(self) -> dict[str, str]:
        """Lower-case names, repeated headers joined with commas (cookies go to ``cookies``), as AWS does."""
        merged: dict[str, str] = {}
        for key, value in self.headers:
            key = key.lower()
            if key == "cookie":
                continue
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        merged.setdefault("x-forwarded-for", self.client_ip)
        merged.setdefault("x-forwarded-proto", "http")
        return merged

    def cookies(self) -> list[str]:
        values = [value for key, value in self.headers if key.lower() == "cookie"]
        return [cookie.strip() for value in values for cookie in value.split(";") if cookie.strip()]

    def query_parameters(self) -> dict[str, str]:
        params: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            params.setdefault(name, []).append(value)
        return {name: ",".join(values) for name, values in params.items()}  # API Gateway joins with commas

    def lambda_body(self) -> tuple[str | None, bool]:
        """(body, isBase64Encoded): text stays text, anything else is base64, as API Gateway and Lambda do."""
        if not self.body:
            return None, False
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if content_type.startswith("text/") or content_type in _TEXT_TYPES or content_type.endswith(("+json", "+xml")):
            try:
                return self.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(self.body).decode("ascii"), True


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""  # for the request's log line

    @classmethod
    def json(cls, status: int, payload: Any, note: str = "", headers: list[tuple[str, str]] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        return cls(status, body, [("content-type", "application/json"), *(headers or [])], note)


# ------------------------------------------------------------------------------------------ events


def _request_context(request: Request, route_key: str, epoch_ms: int, request_id: str, domain: str) -> dict[str, Any]:
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.client_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": _request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }


def _event(request: Request, route_key: str, raw_path: str, request_id: str) -> dict[str, Any]:
    epoch_ms = int(time.time() * 1000)
    headers = request.lambda_headers()
    headers.setdefault("x-amzn-trace-id", _trace_id(epoch_ms, request_id))
    domain = (request.header("host") or "127.0.0.1").split(":")[0]
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path,
                             "rawQueryString": request.query}
    if request.cookies():
        event["cookies"] = request.cookies()
    event["headers"] = headers
    if request.query:
        event["queryStringParameters"] = request.query_parameters()
    event["requestContext"] = _request_context(request, route_key, epoch_ms, request_id, domain)
    event["requestContext"]["http"]["path"] = raw_path
    body, is_base64 = request.lambda_body()
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


def http_api_event(request: Request, route_key: str, path_params: Mapping[str, str],
                   claims: Mapping[str, Any] | None, request_id: str) -> dict[str, Any]:
    """The API Gateway HTTP API (payload 2.0) event for ``request`` on route ``route_key``."""
    event = _event(request, route_key, request.path, request_id)
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": lambda_claims(claims), "scopes": None}}
    if path_params:
        event["pathParameters"] = dict(path_params)
    return event


def function_url_event(request: Request, raw_path: str, request_id: str) -> dict[str, Any]:
    """The Function URL (payload 2.0, auth type NONE) event for ``request``; ``raw_path`` is after the URL."""
    event = _event(request, "$default", raw_path, request_id)
    event["requestContext"]["accountId"] = "anonymous"
    return event


def response_from_lambda(result: Any) -> Response:
    """A payload 2.0 answer as API Gateway and Function URLs read it (no ``statusCode``: 200 with the JSON)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response.json(200, result)
    headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    if not any(k.lower() == "content-type" for k, _ in headers) and raw:
        headers.append(("content-type", "application/json"))
    return Response(int(result["statusCode"]), raw, headers)


# ------------------------------------------------------------------------------------------ the app


class LocalApp:
    """Answers one :class:`Request` (see the module doc for the order)."""

    def __init__(
        self,
        functions: list[LocalFunction],
        routes: RouteTable,
        runtime: HandlerRuntime,
        authorizer: JwtAuthorizer,
        *,
        config: Callable[[], dict[str, Any]],
        mint: Callable[[str, bool], str],
        static_dir: Path = DEMO_PAGE_DIR,
    ):
        self.functions = {f.logical_id: f for f in functions}
        self.routes = routes
        self.runtime = runtime
        self.authorizer = authorizer
        self.config = config
        self.mint = mint
        self.static_dir = static_dir.resolve()

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith(FUNCTION_URL_PREFIX):
            return self._function_url(request)
        if path.startswith("/_local/"):
            return self._local(request)
        if path == "/demo" or path.startswith("/demo/"):
            return self._static(request)
        found = self.routes.find(request.method, path)
        if found is None:
            if path == "/" and request.method == "GET":
                return Response(302, headers=[("location", "/demo/")], note="-> /demo/")
            return Response.json(404, {"message": "Not Found"}, note="no route")
        route, params = found
        function = self.functions[route.function]
        claims = None
        if route.authorized:
            try:
                claims = self.authorizer.authorize(request.header("authorization"))
            except Unauthorized as error:
                return Response.json(401, {"message": "Unauthorized"}, note=f"{function.logical_id} unauthorized: "
                                     f"{error.description}", headers=[("www-authenticate", error.www_authenticate)])
        request_id = _api_gateway_request_id()
        event = http_api_event(request, route.route_key, params, claims, request_id)
        note = function.logical_id + (f" user={claims.get('sub')}" if claims else "")
        try:
            result = self.runtime.invoke(function, event, request_id=str(uuid.uuid4()))
        except Exception:
            traceback.print_exc()
            return Response.json(500, {"message": "Internal Server Error"},
                                 note=f"{note} handler raised (traceback above)")
        response = response_from_lambda(result)
        response.headers.append(("apigw-requestid", request_id))
        response.note = note
        return response

    # ------------------------------------------------------------------ Function URLs

    def _function_url(self, request: Request) -> Response:
        logical_id, _, rest = request.path[len(FUNCTION_URL_PREFIX):].partition("/")
        function = self.functions.get(logical_id)
        if function is None or not function.function_url:
            return Response.json(404, {"message": "Not Found"}, note="no such Function URL")
        event = function_url_event(request, "/" + rest, str(uuid.uuid4()))
        note = function.logical_id + _webhook_note(request)
        try:
            result = self.runtime.invoke(function, event, request_id=event["requestContext"]["requestId"])
        except Exception:
            traceback.print_exc()
            return Response.json(502, {"Message": "Internal Server Error"}, note=f"{note} handler raised")
        response = response_from_lambda(result)
        response.note = note + _webhook_result(response)
        return response

    # ------------------------------------------------------------------ local endpoints and the page

    def _local(self, request: Request) -> Response:
        name = request.path[len("/_local/"):]
        if request.method != "GET":
            return Response.json(405, {"message": "Method Not Allowed"})
        if name == "config":
            return Response.json(200, self.config(), headers=[("cache-control", "no-store")])
        if name == "token":
            if not _is_loopback(request.client_ip):
                return Response.json(403, {"message": "tokens are minted for loopback clients only"})
            query = dict(parse_qsl(request.query))
            user = (query.get("user") or "").strip()
            if not user or len(user) > 128:
                return Response.json(400, {"message": "give ?user=<name> (1 to 128 characters)"})
            admin = query.get("admin", "").lower() in ("1", "true", "yes")
            return Response.json(200, {"token": self.mint(user, admin), "user": user, "admin": admin},
                                 note=f"token for {user}{' (admin)' if admin else ''}",
                                 headers=[("cache-control", "no-store")])
        return Response.json(404, {"message": "Not Found"})

    def _static(self, request: Request) -> Response:
        if request.path == "/demo":
            return Response(301, headers=[("location", "/demo/")])
        relative = unquote(request.path[len("/demo/"):]) or "index.html"
        target = (self.static_dir / relative).resolve()
        if request.method not in ("GET", "HEAD") or not target.is_file() or self.static_dir not in target.parents:
            return Response.json(404, {"message": "Not Found"})
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type == "application/javascript":
            content_type += "; charset=utf-8"
        return Response(200, target.read_bytes(), [("content-type", content_type), ("cache-control", "no-store")])


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _webhook_note(request: Request) -> str:
    try:
        payload = json.loads(request.body)
    except ValueError:
        return ""
    return f" {payload.get('type')}" if isinstance(payload, dict) and payload.get("type") else ""


def _webhook_result(response: Response) -> str:
    try:
        payload = json.loads(response.body)
    except ValueError:
        return ""
    if isinstance(payload, dict) and payload.get("result"):
        return f" -> {payload['result']}"
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return f" -> {payload['error'].get('code')}"
    return ""


# ------------------------------------------------------------------------------------------ the server


class LocalHttpServer(ThreadingHTTPServer):
    """A threading HTTP server for :class:`LocalApp`, logging each request in one line through ``log``."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: LocalApp | None, log: Callable[[str], None]):
        self.app = app  # None until the stack is ready (it is not serving then)
        self.log = log
        super().__init__(address, _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # listening everywhere: call it on loopback
        return f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes a kept-alive connection (Stripe's webhook sender does) is no error."""
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError | TimeoutError):
            return
        super().handle_error(request, client_address)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="local-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LocalHttpServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        started = time.monotonic()
        split = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        if length > MAX_BODY_BYTES:
            response = Response.json(413, {"message": "Request Entity Too Large"})
            self.close_connection = True
        else:
            request = Request(self.command, split.path or "/", split.query, list(self.headers.items()),
                              self.rfile.read(length) if length else b"", self.client_address[0])
            try:
                assert self.server.app is not None, "the stack serves only once it is ready"
                response = self.server.app.handle(request)
            except Exception:
                traceback.print_exc()
                response = Response.json(500, {"message": "Internal Server Error"}, note="local stack error")
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)
        took = (time.monotonic() - started) * 1000
        self.server.log(f"{self.command} {split.path} {response.status} {took:.0f}ms {response.note}".rstrip())

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815 (stdlib names)

    def log_message(self, format: str, *args: Any) -> None:  # one line per request is logged by _serve
        pass

"""The local stack's HTTP app: API Gateway, Lambda Function URLs, the demo page, on one loopback port.

:class:`LocalApp` is a WSGI app, served by :class:`devstack.loopback.LoopbackServer`. Each request is
answered by the first of:

* ``/_lambda/<LogicalId>/...``: the function's Function URL. The handler gets the event a Function URL
  sends (payload 2.0, ``rawPath`` the part after the prefix, the body base64-encoded unless it is text,
  as Lambda does); an exception is a 502, as Lambda's.
* ``/_local/...``: the stack's own endpoints (never part of the template): ``config`` (what the demo page
  needs: mode, publishable key, Stripe.js URL, catalog prices, routes) and ``token?user=&admin=1`` (a
  signed token; answered to loopback clients only), and those the stack adds (``local_routes``: the local
  EventBridge endpoint ``aws/events``, the issuer's keys ``.well-known/jwks.json``, the recent ``events``;
  ``stripe-events`` and ``webhooks/<name>/down|up`` of :mod:`devstack.local_webhooks`, for loopback clients).
  A route named ``prefix/`` takes every path under it.
* ``/demo/...``: the static checkout page (``devstack/demo_page/``).
* a route of the template's HTTP API (most specific match, as API Gateway picks): the JWT authorizer runs
  first (401 ``{"message":"Unauthorized"}`` as API Gateway answers), then the handler gets an API Gateway
  HTTP API event (payload 2.0) with the verified claims in ``requestContext.authorizer.jwt.claims``;
  its answer is read as API Gateway reads a payload 2.0 answer. No route: 404 ``{"message":"Not Found"}``.

Every request is logged in one line: method, path (no query string), status, time, the function and,
for the API, the user; for a webhook, the Stripe event type and the callback's result. Never a header,
a token or a body. The events are built by :mod:`devstack.lambda_events.http`, like every other.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import mimetypes
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response as WsgiResponse

from devstack.handlers import HandlerRuntime
from devstack.lambda_events import HttpRequest, function_url_event_for, http_api_event_for
from devstack.lambda_events.common import api_gateway_request_id
from devstack.local_auth import JwtAuthorizer, Unauthorized, lambda_claims
from devstack.local_functions import FUNCTION_URL_PREFIX, LocalFunction, RouteTable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEMO_PAGE_DIR = Path(__file__).resolve().parent / "demo_page"
API_ID = "local"
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


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


# ------------------------------------------------------------------------------------------ answers


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
    """The WSGI app: answers each request (see the module doc for the order) and logs it in one line."""

    def __init__(
        self,
        functions: list[LocalFunction],
        routes: RouteTable,
        runtime: HandlerRuntime,
        authorizer: JwtAuthorizer,
        *,
        config: Callable[[], dict[str, Any]],
        mint: Callable[[str, bool], str],
        log: Callable[[str], None],
        static_dir: Path = DEMO_PAGE_DIR,
        local_routes: Mapping[str, Callable[[HttpRequest], Response]] | None = None,
    ):
        # More of the stack's own endpoints under /_local/ (the local event bus, the issuer's keys, ...), by name.
        self.local_routes = dict(local_routes or {})
        self.functions = {f.logical_id: f for f in functions}
        self.routes = routes
        self.runtime = runtime
        self.authorizer = authorizer
        self.config = config
        self.mint = mint
        self.log = log
        self.static_dir = static_dir.resolve()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        wsgi = WsgiRequest(environ)
        too_large = (wsgi.content_length or 0) > MAX_BODY_BYTES
        request = _http_request(wsgi, with_body=not too_large)
        if too_large:
            response = Response.json(413, {"message": "Request Entity Too Large"})
        else:
            try:
                response = self.handle(request)
            except Exception:
                traceback.print_exc()
                response = Response.json(500, {"message": "Internal Server Error"}, note="local stack error")
        answer = _WsgiAnswer(response.body, response.status, response.headers)
        took = (time.monotonic() - started) * 1000
        self.log(f"{request.method} {request.path} {response.status} {took:.0f}ms {response.note}".rstrip())
        return answer(environ, start_response)

    def handle(self, request: HttpRequest) -> Response:
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
        request_id = api_gateway_request_id()
        event = http_api_event_for(request, route.route_key, params, None if claims is None else lambda_claims(claims),
                                   request_id, API_ID)
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

    def _function_url(self, request: HttpRequest) -> Response:
        logical_id, _, rest = request.path[len(FUNCTION_URL_PREFIX):].partition("/")
        function = self.functions.get(logical_id)
        if function is None or not function.function_url:
            return Response.json(404, {"message": "Not Found"}, note="no such Function URL")
        event = function_url_event_for(request, "/" + rest, str(uuid.uuid4()), API_ID)
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

    def _local(self, request: HttpRequest) -> Response:
        name = request.path[len("/_local/"):]
        route = self.local_routes.get(name) or next(
            (handler for prefix, handler in self.local_routes.items()
             if prefix.endswith("/") and name.startswith(prefix)), None)
        if route is not None:
            return route(request)
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

    def _static(self, request: HttpRequest) -> Response:
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


class _WsgiAnswer(WsgiResponse):
    default_mimetype = None  # no content type unless the answer has one, as API Gateway sends it


def _http_request(request: WsgiRequest, with_body: bool = True) -> HttpRequest:
    """The request as it reached the server: path and query as sent (not decoded), every header."""
    path, _, query = (request.environ.get("RAW_URI") or request.full_path).partition("?")
    body = request.get_data() if with_body else b""
    return HttpRequest(request.method, urlsplit(path).path or "/", query, list(request.headers.items()),
                       body or None, request.remote_addr or "")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def _webhook_note(request: HttpRequest) -> str:
    try:
        payload = json.loads(request.body or b"")
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

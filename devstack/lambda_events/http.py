"""API Gateway HTTP API and Lambda Function URL events (payload format 2.0), built in one place.

Every such event is made by :func:`payload_v2_event` from an :class:`HttpRequest`, the request as it
reaches AWS, the way API Gateway and Function URLs make it: lower-case headers (repeats joined with
commas, cookies moved to ``cookies``), repeated query parameters joined with commas, a text body as
text and anything else base64-encoded. Two ways in:

* **a real request** (the local stack's server): :func:`http_api_event_for` and
  :func:`function_url_event_for`;
* **parameters** (tests, the sample files under ``events/``): :func:`http_api_event` and
  :func:`function_url_event` make the request a client would send (an app through API Gateway, Stripe
  to a Function URL) and build from it. Their shapes start from ``sam local generate-event apigateway
  http-api-proxy`` and AWS's documented Function URL payload.

Standard library only.
"""

from __future__ import annotations

import base64 as b64
import copy
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from devstack.lambda_events.common import (
    ACCOUNT_ID,
    REGION,
    api_gateway_request_id,
    now_ms,
    request_time,
    trace_id,
)

HTTP_API_ID = "a1b2c3d4e5"
FUNCTION_URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
USER_POOL_ID = f"{REGION}_EXAMPLE01"
USER_POOL_CLIENT_ID = "example0client0id0000000000"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
CLIENT_SOURCE_IP = "203.0.113.10"
CLIENT_USER_AGENT = "okhttp/4.12.0"
STRIPE_SOURCE_IP = "3.18.12.63"  # one of Stripe's published webhook source addresses
STRIPE_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

_PATH_PARAM = re.compile(r"\{([^{}+]+)(\+?)\}")
_GROUP_FORMATS = ("list", "json", "bracket")
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml", "application/yaml",
               "application/x-yaml")

QueryValue = str | int | Sequence[str]


@dataclass(frozen=True)
class HttpRequest:
    """An HTTP request as it reaches API Gateway or a Function URL (``path`` and ``query`` as sent, not
    decoded; ``body`` None when there is none)."""

    method: str
    path: str
    query: str = ""
    headers: Sequence[tuple[str, str]] = ()
    body: bytes | None = None
    client_ip: str = "127.0.0.1"

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def lambda_headers(self) -> dict[str, str]:
        """Lower-case names, repeated headers joined with commas, cookies left for ``cookies``."""
        merged: dict[str, str] = {}
        for key, value in self.headers:
            key = key.lower()
            if key == "cookie":
                continue
            merged[key] = f"{merged[key]},{value}" if key in merged else value
        return merged

    def cookies(self) -> list[str]:
        values = [value for key, value in self.headers if key.lower() == "cookie"]
        return [cookie.strip() for value in values for cookie in value.split(";") if cookie.strip()]

    def query_parameters(self) -> dict[str, str]:
        params: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            params.setdefault(name, []).append(value)
        return {name: ",".join(values) for name, values in params.items()}

    def lambda_body(self, base64: bool | None = None) -> tuple[str | None, bool]:
        """(body, isBase64Encoded). ``base64=None`` decides as AWS does: text stays text, anything else
        is base64; True or False forces it."""
        if self.body is None:
            return None, False
        if base64 is None:
            content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
            base64 = not (content_type.startswith("text/") or content_type in _TEXT_TYPES
                          or content_type.endswith(("+json", "+xml")))
        if not base64:
            try:
                return self.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return b64.b64encode(self.body).decode("ascii"), True


def payload_v2_event(
    request: HttpRequest,
    *,
    route_key: str,
    raw_path: str,
    api_id: str,
    request_id: str,
    account_id: str = ACCOUNT_ID,
    epoch_ms: int | None = None,
    claims: Mapping[str, Any] | None = None,
    path_params: Mapping[str, str] | None = None,
    base64: bool | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event for ``request``: an HTTP API route (``route_key`` ``"GET /orders"``, with the
    JWT authorizer's ``claims`` if any) or a Function URL (``"$default"``). ``raw_path`` is the path the
    function sees; ``base64`` forces the body's encoding (see :meth:`HttpRequest.lambda_body`)."""
    epoch_ms = now_ms() if epoch_ms is None else int(epoch_ms)
    headers = request.lambda_headers()
    headers.setdefault("x-forwarded-for", request.client_ip)
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", trace_id(epoch_ms, request_id))
    domain = (request.header("host") or "127.0.0.1").split(":")[0]
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path,
                             "rawQueryString": request.query}
    if request.cookies():
        event["cookies"] = request.cookies()
    event["headers"] = headers
    if request.query:
        event["queryStringParameters"] = request.query_parameters()
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.client_ip,
            "userAgent": request.header("user-agent") or "",
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": copy.deepcopy(dict(claims)), "scopes": None}}
    if path_params:
        event["pathParameters"] = dict(path_params)
    body, is_base64 = request.lambda_body(base64)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64
    return event


# ------------------------------------------------------------------------------------------ a real request


def http_api_event_for(request: HttpRequest, route_key: str, path_params: Mapping[str, str],
                       claims: Mapping[str, Any] | None, request_id: str, api_id: str) -> dict[str, Any]:
    """The HTTP API event for ``request`` on route ``route_key``; ``claims`` as the authorizer passes them."""
    return payload_v2_event(request, route_key=route_key, raw_path=request.path, api_id=api_id,
                            request_id=request_id, claims=claims, path_params=path_params)


def function_url_event_for(request: HttpRequest, raw_path: str, request_id: str, api_id: str) -> dict[str, Any]:
    """The Function URL event (auth type NONE) for ``request``; ``raw_path`` is the path after the URL."""
    return payload_v2_event(request, route_key="$default", raw_path=raw_path, api_id=api_id,
                            request_id=request_id, account_id="anonymous")


# ------------------------------------------------------------------------------------------ from parameters


def _substitute_path(route: str, path_params: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, greedy = match.group(1), match.group(2)
        key = name + greedy if name + greedy in path_params else name
        if key not in path_params:
            raise ValueError(f"route {route!r} needs path parameter {name!r}")
        return quote(str(path_params[key]), safe="/" if greedy else "")

    return _PATH_PARAM.sub(replace, route)


def _b64url(data: bytes) -> str:
    return b64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: Mapping[str, Any]) -> str:
    """A JWT-shaped bearer token for the ``authorization`` header. API Gateway has already checked
    the real one by the time the Lambda runs; handlers must read the claims, never this header."""
    header = _b64url(json.dumps({"kid": "example", "alg": "RS256"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64url(b'not-a-real-signature')}"


def _with_headers(defaults: dict[str, str], given: Mapping[str, str] | None) -> list[tuple[str, str]]:
    merged = dict(defaults)
    merged.update({k.lower(): v for k, v in (given or {}).items()})
    return list(merged.items())


def http_api_event(
    method: str,
    route: str,
    *,
    path_params: dict[str, str] | None = None,
    body: dict[str, Any] | str | None = None,
    query: dict[str, QueryValue] | None = None,
    claims: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    request_id: str | None = None,
    time_epoch_ms: int | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event for ``route`` as a JWT-authorized API sends it.

    ``route`` is the route template (``"/orders/{orderId}"``); ``rawPath`` has ``path_params``
    substituted. A dict ``body`` is sent as JSON, a string as it is. ``claims=None`` means no identity:
    no ``requestContext.authorizer`` at all. ``request_id`` and ``time_epoch_ms`` pin the otherwise
    random / current values.
    """
    method = method.upper()
    params = {k: str(v) for k, v in (path_params or {}).items()}
    epoch_ms = now_ms() if time_epoch_ms is None else int(time_epoch_ms)
    request_id = request_id or api_gateway_request_id()
    pairs = [(name, str(v)) for name, value in (query or {}).items()
             for v in (value if isinstance(value, list | tuple) else [value])]
    body_text = body if body is None or isinstance(body, str) else json.dumps(body, separators=(",", ":"))

    domain = f"{HTTP_API_ID}.execute-api.{REGION}.amazonaws.com"
    sent = {
        "accept": "application/json",
        "accept-encoding": "gzip",
        "host": domain,
        "user-agent": CLIENT_USER_AGENT,
        "x-amzn-trace-id": trace_id(epoch_ms, request_id),
        "x-forwarded-for": CLIENT_SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if claims is not None:
        sent["authorization"] = f"Bearer {_unsigned_jwt(claims)}"
    if body_text is not None:
        sent["content-type"] = "application/json"
        sent["content-length"] = str(len(body_text.encode("utf-8")))
    request = HttpRequest(method, _substitute_path(route, params), urlencode(pairs), _with_headers(sent, headers),
                          None if body_text is None else body_text.encode("utf-8"), CLIENT_SOURCE_IP)
    return payload_v2_event(request, route_key=f"{method} {route}", raw_path=request.path, api_id=HTTP_API_ID,
                            request_id=request_id, epoch_ms=epoch_ms, claims=claims, path_params=params,
                            base64=False)


def user_claims(
    user_id: str,
    *,
    groups: Sequence[str] | None = None,
    groups_format: str = "list",
    token_use: str = "id",
    issued_at: int | None = None,
) -> dict[str, Any]:
    """Cognito JWT claims for ``user_id`` as API Gateway hands them to the Lambda.

    ``cognito:groups`` (left out when there are no groups, as Cognito does) is rendered per
    ``groups_format``: ``"list"`` a JSON list, ``"json"`` a string holding a JSON list
    (``'["admin","staff"]'``), ``"bracket"`` API Gateway's flattened ``"[admin staff]"``.
    ``exp``/``iat``/``auth_time`` are strings, as API Gateway passes every scalar claim.
    ``token_use="access"`` gives an access token's claims (``client_id``/``username``, no ``aud``).
    """
    if groups_format not in _GROUP_FORMATS:
        raise ValueError(f"groups_format must be one of {_GROUP_FORMATS}, not {groups_format!r}")
    if token_use not in ("id", "access"):
        raise ValueError(f"token_use must be 'id' or 'access', not {token_use!r}")
    iat = int(time.time()) if issued_at is None else int(issued_at)
    claims: dict[str, Any] = {"sub": user_id, "iss": ISSUER}
    if token_use == "id":
        claims.update(
            {"aud": USER_POOL_CLIENT_ID, "cognito:username": user_id, "email": f"{user_id}@example.com"}
        )
    else:
        claims.update(
            {"client_id": USER_POOL_CLIENT_ID, "username": user_id, "scope": "aws.cognito.signin.user.admin"}
        )
    claims.update(
        {
            "token_use": token_use,
            "auth_time": str(iat),
            "iat": str(iat),
            "exp": str(iat + 3600),
            "jti": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ISSUER}#{user_id}@{iat}")),
        }
    )
    if groups:
        names = [str(g) for g in groups]
        if groups_format == "list":
            claims["cognito:groups"] = names
        elif groups_format == "json":
            claims["cognito:groups"] = json.dumps(names, separators=(",", ":"))
        else:
            claims["cognito:groups"] = "[" + " ".join(names) + "]"
    return claims


def function_url_event(
    body: bytes | str,
    *,
    headers: dict[str, str] | None = None,
    base64: bool = False,
    method: str = "POST",
    request_id: str | None = None,
    time_epoch_ms: int | None = None,
) -> dict[str, Any]:
    """A Lambda Function URL event (payload 2.0, auth type NONE) for Stripe's request to ``/``.

    ``base64=True`` delivers the body base64-encoded with ``isBase64Encoded: true``, as Function
    URLs do for bodies they do not treat as text; handlers must undo it before verifying.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    epoch_ms = now_ms() if time_epoch_ms is None else int(time_epoch_ms)
    request_id = request_id or str(uuid.uuid4())
    sent = {
        "accept": "*/*; q=0.5, application/xml",
        "cache-control": "no-cache",
        "content-length": str(len(raw)),
        "host": f"{FUNCTION_URL_ID}.lambda-url.{REGION}.on.aws",
        "user-agent": STRIPE_USER_AGENT,
        "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
        "x-amzn-tls-version": "TLSv1.3",
        "x-amzn-trace-id": trace_id(epoch_ms, request_id),
        "x-forwarded-for": STRIPE_SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    request = HttpRequest(method.upper(), "/", "", _with_headers(sent, headers), raw, STRIPE_SOURCE_IP)
    return payload_v2_event(request, route_key="$default", raw_path="/", api_id=FUNCTION_URL_ID,
                            request_id=request_id, account_id="anonymous", epoch_ms=epoch_ms, base64=base64)

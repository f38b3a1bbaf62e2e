"""Lambda events as AWS delivers them, for tests, sample files and ``sam local invoke``.

Two formats:

* API Gateway HTTP API, payload format 2.0, behind a JWT authorizer (``http_api_event``);
* Lambda Function URL (also payload 2.0), the way a Stripe webhook delivery arrives
  (``function_url_event``, ``signed_webhook_event``).

The shapes start from ``sam local generate-event apigateway http-api-proxy`` and AWS's documented
Function URL payload. Standard library only.

Command line (re-sign a stored callback sample, whose signature goes stale after Stripe's 300 s)::

    python -m devstack.lambda_events resign events/payment_callback/x.json --secret whsec_... > /tmp/x.json
"""

from __future__ import annotations

import argparse
import base64 as b64
import copy
import hashlib
import json
import os
import re
import secrets
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from devstack.stripe_events import REPO_ROOT, encode_event, sign_payload

# Signing secrets of the four callback endpoints in local development and in the sample events.
LOCAL_WEBHOOK_SECRETS = {
    "payment": "whsec_local_payment",
    "refund": "whsec_local_refund",
    "subscription": "whsec_local_subscription",
    "renewal": "whsec_local_renewal",
}

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
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
_API_GW_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _request_time(epoch_ms: int) -> str:
    # API Gateway's CLF-style timestamp: "12/Mar/2020:19:03:58 +0000" (English month names).
    t = time.gmtime(epoch_ms / 1000)
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{t.tm_mday:02d}/{months[t.tm_mon - 1]}/{t.tm_year}:{time.strftime('%H:%M:%S', t)} +0000"


def _api_gateway_request_id() -> str:
    # HTTP APIs use 16-character ids ending in "=", e.g. "JKJaXmPLvHcESHA=".
    return "".join(secrets.choice(_API_GW_ID_ALPHABET) for _ in range(15)) + "="


def _trace_id(epoch_ms: int, request_id: str) -> str:
    # X-Ray trace header; derived from the request id so pinned samples come out identical.
    return f"Root=1-{epoch_ms // 1000:08x}-{hashlib.sha256(request_id.encode()).hexdigest()[:24]}"


def _lower_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def _b64url(data: bytes) -> str:
    return b64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: Mapping[str, Any]) -> str:
    """A JWT-shaped bearer token for the ``authorization`` header. API Gateway has already checked
    the real one by the time the Lambda runs; handlers must read the claims, never this header."""
    header = _b64url(json.dumps({"kid": "example", "alg": "RS256"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(dict(claims), separators=(",", ":")).encode())
    return f"{header}.{payload}.{_b64url(b'not-a-real-signature')}"


def _substitute_path(route: str, path_params: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, greedy = match.group(1), match.group(2)
        key = name + greedy if name + greedy in path_params else name
        if key not in path_params:
            raise ValueError(f"route {route!r} needs path parameter {name!r}")
        return quote(str(path_params[key]), safe="/" if greedy else "")

    return _PATH_PARAM.sub(replace, route)


QueryValue = str | int | Sequence[str]


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
    substituted. ``claims=None`` means no identity: no ``requestContext.authorizer`` at all.
    ``request_id`` and ``time_epoch_ms`` pin the otherwise random / current values.
    """
    method = method.upper()
    route_key = f"{method} {route}"
    params = {k: str(v) for k, v in (path_params or {}).items()}
    raw_path = _substitute_path(route, params)
    epoch_ms = _now_ms() if time_epoch_ms is None else int(time_epoch_ms)
    request_id = request_id or _api_gateway_request_id()

    pairs: list[tuple[str, str]] = []
    query_params: dict[str, str] = {}
    for name, value in (query or {}).items():
        values = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
        pairs.extend((name, v) for v in values)
        query_params[name] = ",".join(values)  # API Gateway joins repeated parameters with commas
    raw_query = urlencode(pairs)

    body_text: str | None
    if body is None:
        body_text = None
    elif isinstance(body, str):
        body_text = body
    else:
        body_text = json.dumps(body, separators=(",", ":"))

    domain = f"{HTTP_API_ID}.execute-api.{REGION}.amazonaws.com"
    all_headers: dict[str, str] = {
        "accept": "application/json",
        "accept-encoding": "gzip",
        "host": domain,
        "user-agent": CLIENT_USER_AGENT,
        "x-amzn-trace-id": _trace_id(epoch_ms, request_id),
        "x-forwarded-for": CLIENT_SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if claims is not None:
        all_headers["authorization"] = f"Bearer {_unsigned_jwt(claims)}"
    if body_text is not None:
        all_headers["content-type"] = "application/json"
        all_headers["content-length"] = str(len(body_text.encode("utf-8")))
    all_headers.update(_lower_headers(headers))

    request_context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": HTTP_API_ID,
        "domainName": domain,
        "domainPrefix": HTTP_API_ID,
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": CLIENT_SOURCE_IP,
            "userAgent": all_headers.get("user-agent", CLIENT_USER_AGENT),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": _request_time(epoch_ms),
        "timeEpoch": epoch_ms,
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": copy.deepcopy(claims), "scopes": None}}

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": all_headers,
    }
    if query_params:
        event["queryStringParameters"] = query_params
    event["requestContext"] = request_context
    if params:
        event["pathParameters"] = params
    if body_text is not None:
        event["body"] = body_text
    event["isBase64Encoded"] = False
    return event


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
    """A Lambda Function URL event (payload 2.0, auth type NONE) for a request to ``/``.

    ``base64=True`` delivers the body base64-encoded with ``isBase64Encoded: true``, as Function
    URLs do for bodies they do not treat as text; handlers must undo it before verifying.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    epoch_ms = _now_ms() if time_epoch_ms is None else int(time_epoch_ms)
    request_id = request_id or str(uuid.uuid4())
    domain = f"{FUNCTION_URL_ID}.lambda-url.{REGION}.on.aws"
    all_headers: dict[str, str] = {
        "accept": "*/*; q=0.5, application/xml",
        "cache-control": "no-cache",
        "content-length": str(len(raw)),
        "host": domain,
        "user-agent": STRIPE_USER_AGENT,
        "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
        "x-amzn-tls-version": "TLSv1.3",
        "x-amzn-trace-id": _trace_id(epoch_ms, request_id),
        "x-forwarded-for": STRIPE_SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    all_headers.update(_lower_headers(headers))
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": FUNCTION_URL_ID,
            "domainName": domain,
            "domainPrefix": FUNCTION_URL_ID,
            "http": {
                "method": method.upper(),
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": STRIPE_SOURCE_IP,
                "userAgent": all_headers.get("user-agent", STRIPE_USER_AGENT),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": _request_time(epoch_ms),
            "timeEpoch": epoch_ms,
        },
        "body": b64.b64encode(raw).decode("ascii") if base64 else raw.decode("utf-8"),
        "isBase64Encoded": base64,
    }


def signed_webhook_event(
    stripe_event: dict[str, Any],
    secret: str,
    *,
    base64: bool = False,
    timestamp: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """``stripe_event`` encoded, signed with ``secret`` at ``timestamp`` (now by default) and
    delivered as a Function URL event, the way Stripe calls a webhook endpoint."""
    raw = encode_event(stripe_event)
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return function_url_event(
        raw,
        headers={
            "content-type": "application/json; charset=utf-8",
            "stripe-signature": sign_payload(raw, secret, ts),
        },
        base64=base64,
        request_id=request_id,
        time_epoch_ms=ts * 1000 + 250,
    )


def load_event(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sample event; a relative path that does not exist from the working directory is
    taken relative to the repository root (so ``load_event("events/orders/get_order.json")``
    works from anywhere)."""
    p = Path(path)
    if not p.is_absolute() and not p.exists():
        p = REPO_ROOT / p
    with p.open(encoding="utf-8") as f:
        event: dict[str, Any] = json.load(f)
    return event


def event_body_bytes(event: Mapping[str, Any]) -> bytes:
    """The raw request body of a Lambda proxy event, base64-decoded when the event says so."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return b64.b64decode(body)
    return str(body).encode("utf-8")


def resign_event(event: dict[str, Any], secret: str, timestamp: int | None = None) -> dict[str, Any]:
    """A copy of Function URL ``event`` with its ``stripe-signature`` made again over the same raw
    body (base64 bodies included) at ``timestamp`` (now by default), and its request time moved
    to match. The body is not touched, so the copy verifies exactly as a fresh delivery would."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    fresh = copy.deepcopy(event)
    headers = {k: v for k, v in (fresh.get("headers") or {}).items() if k.lower() != "stripe-signature"}
    headers["stripe-signature"] = sign_payload(event_body_bytes(fresh), secret, ts)
    fresh["headers"] = headers
    context = fresh.get("requestContext")
    if isinstance(context, dict):
        epoch_ms = ts * 1000 + 250
        context["time"] = _request_time(epoch_ms)
        context["timeEpoch"] = epoch_ms
    return fresh


def local_secret_for(path: str | os.PathLike[str]) -> str | None:
    """The local signing secret for a sample under ``events/<kind>_callback/``, if any."""
    folder = Path(path).resolve().parent.name
    kind = folder.removesuffix("_callback")
    return LOCAL_WEBHOOK_SECRETS.get(kind) if folder.endswith("_callback") else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.lambda_events", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    resign = commands.add_parser("resign", help="re-sign a Function URL sample event with the current time")
    resign.add_argument(
        "path", help="sample event file, e.g. events/payment_callback/payment_intent_succeeded.json"
    )
    resign.add_argument(
        "--secret",
        help="webhook signing secret (default: the local secret for the sample's folder, "
        "e.g. whsec_local_payment for events/payment_callback/)",
    )
    resign.add_argument("--timestamp", type=int, help="signature time, epoch seconds (default: now)")
    args = parser.parse_args(argv)

    secret = args.secret or local_secret_for(args.path)
    if not secret:
        parser.error(f"--secret is required for {args.path} (not under events/<kind>_callback/)")
    event = resign_event(load_event(args.path), secret, args.timestamp)
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

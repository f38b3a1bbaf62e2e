"""API Gateway WebSocket API events: the ``REQUEST`` authorizer's event at ``$connect``, and the proxy events of
``$connect``, ``$disconnect`` and each message, as a Lambda integration receives them
(https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-websocket-api-mapping-template-reference.html).
Standard library only."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from devstack.lambda_events.common import ACCOUNT_ID, REGION, now_ms, request_time

WEBSOCKET_API_ID = "w1b2c3d4e5"
STAGE = "live"
EVENT_TYPES = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}


def connection_id() -> str:
    """An API Gateway connection id: 12 base64 characters ending in ``=`` (``"L0SM9cOFvHcCIhw="``)."""
    return secrets.token_urlsafe(12)[:15] + "="


def _context(route_key: str, connection: str, *, api_id: str, domain: str, source_ip: str, epoch_ms: int,
             authorizer: Mapping[str, Any] | None) -> dict[str, Any]:
    ids = base64.urlsafe_b64encode(hashlib.sha256(f"{connection}|{route_key}|{epoch_ms}".encode()).digest()).decode()
    context: dict[str, Any] = {
        "routeKey": route_key, "eventType": EVENT_TYPES.get(route_key, "MESSAGE"),
        "extendedRequestId": ids[:16], "requestTime": request_time(epoch_ms),
        "messageDirection": "IN", "stage": STAGE, "connectedAt": epoch_ms, "requestTimeEpoch": epoch_ms,
        "identity": {"sourceIp": source_ip, "userAgent": "Mozilla/5.0"}, "requestId": ids[16:32],
        "domainName": domain, "connectionId": connection, "apiId": api_id,
    }
    if route_key not in EVENT_TYPES:
        context["messageId"] = ids[32:43]
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def authorizer_event(connection: str, query: Mapping[str, str], headers: Mapping[str, str] | None = None, *,
                     api_id: str = WEBSOCKET_API_ID, domain: str = "localhost", source_ip: str = "127.0.0.1",
                     epoch_ms: int | None = None) -> dict[str, Any]:
    """The ``REQUEST`` authorizer's event for a ``$connect`` (identity source: the query string)."""
    epoch_ms = now_ms() if epoch_ms is None else epoch_ms
    headers = dict(headers or {})
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{api_id}/{STAGE}/$connect",
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": dict(query), "multiValueQueryStringParameters": {k: [v] for k, v in query.items()},
        "stageVariables": {},
        "requestContext": _context("$connect", connection, api_id=api_id, domain=domain, source_ip=source_ip,
                                   epoch_ms=epoch_ms, authorizer=None),
    }


def allowed_context(policy: Mapping[str, Any]) -> dict[str, Any]:
    """``requestContext.authorizer`` of every route of a connection the authorizer allowed: its principal and
    context."""
    return {"principalId": policy.get("principalId"), "integrationLatency": 0, **(policy.get("context") or {})}


def websocket_event(route_key: str, connection: str, *, body: str | None = None,
                    authorizer: Mapping[str, Any] | None = None, query: Mapping[str, str] | None = None,
                    headers: Mapping[str, str] | None = None, api_id: str = WEBSOCKET_API_ID,
                    domain: str = "localhost", source_ip: str = "127.0.0.1", epoch_ms: int | None = None,
                    ) -> dict[str, Any]:
    """The proxy event of ``$connect``, ``$disconnect`` or a message routed to ``route_key``."""
    epoch_ms = now_ms() if epoch_ms is None else epoch_ms
    event: dict[str, Any] = {}
    if route_key in EVENT_TYPES:
        headers = dict(headers or {})
        event.update({"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}})
    if route_key == "$connect" and query:
        event.update({"queryStringParameters": dict(query),
                      "multiValueQueryStringParameters": {k: [v] for k, v in query.items()}})
    context = _context(route_key, connection, api_id=api_id, domain=domain, source_ip=source_ip,
                       epoch_ms=epoch_ms, authorizer=authorizer)
    if route_key == "$disconnect":
        context.update({"disconnectStatusCode": 1001, "disconnectReason": "Going away"})
    event["requestContext"] = context
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = False
    return event

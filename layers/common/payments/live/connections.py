"""``LiveConnectFunction``: the WebSocket API's routes.

- ``$connect`` (after ``LiveAuthorizerFunction`` allowed it): the connection is kept under its user, whose id the
  authorizer gave as the principal (``LiveConnectionsTable``, with a TTL past API Gateway's 2-hour limit).
- ``$disconnect``: it is removed (the authorizer's context is on every route of a connection).
- ``ping`` (``{"action": "ping"}``): ``{"type": "pong"}`` (it also keeps an idle connection open: API Gateway
  closes one after 10 idle minutes).
- anything else (``$default``): ``{"type": "error", ...}``; the connection stays open.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from payments.core.observability import count, logger
from payments.data import connections as connection_store


def route(event: Mapping[str, Any]) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    route_key, connection_id = context.get("routeKey"), str(context.get("connectionId") or "")
    user_id = str((context.get("authorizer") or {}).get("principalId") or "")
    if route_key == "$connect":
        if not user_id or not connection_id:
            return {"statusCode": 401}
        connection_store.add(user_id, connection_id)
        count("LiveConnected")
        logger.info("live connection opened", extra={"user_id": user_id, "connection_id": connection_id})
        return {"statusCode": 200}
    if route_key == "$disconnect":
        if user_id and connection_id:
            connection_store.remove(user_id, connection_id)
        return {"statusCode": 200}
    if route_key == "ping":
        return _send({"type": "pong"})
    return _send({"type": "error", "message": 'unknown action; send {"action": "ping"}'})


def _send(message: Mapping[str, Any]) -> dict[str, Any]:
    """An answer API Gateway sends back on the connection (the route has a route response)."""
    return {"statusCode": 200, "body": json.dumps(message, separators=(",", ":"))}

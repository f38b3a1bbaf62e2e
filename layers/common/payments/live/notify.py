"""``LiveNotifyFunction``: each domain event about an order goes to that order's owner's open connections.

The message is the event's detail with its type first, ``{"type": "<DetailType>", "order": <Order JSON>, ...}``.
The connections are the owner's (``order.userId``: one Query), so nobody receives another user's order. Each is
sent one ``PostToConnection`` through API Gateway's management API; a connection the API says is gone (410) is
removed. A failure on one connection does not hold back the others, and is not retried: live status is a
convenience on top of the API, which a client reads again when it reconnects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import aws
from payments.core.config import get_settings
from payments.core.errors import ConfigurationError
from payments.core.observability import count, logger
from payments.data import connections as connection_store


@dataclass(frozen=True)
class Delivered:
    sent: int = 0
    gone: int = 0
    failed: int = 0


def message_for(detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": detail_type, **{key: value for key, value in detail.items() if key != "type"}}


def notify(event: Mapping[str, Any]) -> dict[str, int]:
    detail = event.get("detail") or {}
    order = detail.get("order") if isinstance(detail, dict) else None
    if not isinstance(order, dict) or not order.get("userId"):
        logger.info("an event without an order: nobody to tell")
        return {"sent": 0, "gone": 0, "failed": 0}
    user_id = str(order["userId"])
    detail_type = str(event.get("detail-type") or detail.get("type"))
    data = json.dumps(message_for(detail_type, detail), separators=(",", ":")).encode()
    result = Delivered()
    for connection_id in connection_store.of_user(user_id):
        result = _post(connection_id, user_id, data, result)
    count("LiveMessagesSent", result.sent)
    if result.gone:
        count("LiveConnectionsGone", result.gone)
    logger.info("live status sent", extra={"type": detail_type, "user_id": user_id, "sent": result.sent,
                                           "gone": result.gone, "failed": result.failed})
    return {"sent": result.sent, "gone": result.gone, "failed": result.failed}


def _post(connection_id: str, user_id: str, data: bytes, result: Delivered) -> Delivered:
    try:
        _management().post_to_connection(ConnectionId=connection_id, Data=data)
    except Exception as error:
        code = str(getattr(error, "response", {}).get("Error", {}).get("Code", ""))
        if code == "GoneException" or getattr(error, "response", {}).get(
                "ResponseMetadata", {}).get("HTTPStatusCode") == 410:
            connection_store.remove(user_id, connection_id)
            return Delivered(result.sent, result.gone + 1, result.failed)
        logger.warning("a live message was not sent", extra={"connection_id": connection_id,
                                                              "error": code or type(error).__name__})
        return Delivered(result.sent, result.gone, result.failed + 1)
    return Delivered(result.sent + 1, result.gone, result.failed)


def _management() -> Any:
    settings = get_settings()
    if not settings.live_management_url:
        raise ConfigurationError("LIVE_MANAGEMENT_URL is not set")
    return aws.client("apigatewaymanagementapi", settings.region, settings.live_management_url)

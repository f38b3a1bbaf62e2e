"""EventBridge events as a rule's Lambda target receives them (``version``, ``id``, ``detail-type``, ``source``,
``account``, ``time``, ``region``, ``resources``, ``detail``), from a ``PutEvents`` entry. Standard library only."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from devstack.lambda_events.common import ACCOUNT_ID, REGION


def eventbridge_event(source: str, detail_type: str, detail: Mapping[str, Any], *, event_id: str | None = None,
                      at: float | None = None, resources: list[str] | None = None) -> dict[str, Any]:
    moment = time.gmtime(time.time() if at is None else at)
    return {"version": "0", "id": event_id or str(uuid.uuid4()), "detail-type": detail_type, "source": source,
            "account": ACCOUNT_ID, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", moment), "region": REGION,
            "resources": list(resources or []), "detail": dict(detail)}


def event_from_entry(entry: Mapping[str, Any], at: float | None = None) -> dict[str, Any]:
    """The event EventBridge makes of one ``PutEvents`` entry (``Detail`` is a JSON object as text)."""
    detail = json.loads(str(entry.get("Detail") or "{}"))
    moment = entry.get("Time")
    when = float(moment) if isinstance(moment, int | float) else at
    return eventbridge_event(str(entry.get("Source")), str(entry.get("DetailType")), detail, at=when,
                             resources=list(entry.get("Resources") or []))

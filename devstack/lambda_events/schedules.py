"""What an EventBridge Scheduler schedule (SAM's ``ScheduleV2`` event) hands its Lambda target: the schedule's
``Input``, parsed (``{}`` when it has none)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def scheduled_event(schedule: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The event a ``ScheduleV2`` event's target receives, from that event's ``Properties``."""
    raw = (schedule or {}).get("Input")
    if isinstance(raw, str) and raw.strip():
        value = json.loads(raw)
        return value if isinstance(value, dict) else {"input": value}
    return {}

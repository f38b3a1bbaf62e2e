"""What every kind of Lambda event shares: the example account and region, AWS-shaped ids and times, and
reading a stored sample event."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from devstack import REPO_ROOT

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

_API_GW_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def now_ms() -> int:
    return int(time.time() * 1000)


def request_time(epoch_ms: int) -> str:
    """API Gateway's CLF-style timestamp: ``"12/Mar/2020:19:03:58 +0000"`` (English month names)."""
    t = time.gmtime(epoch_ms / 1000)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{time.strftime('%H:%M:%S', t)} +0000"


def api_gateway_request_id() -> str:
    """An HTTP API request id: 16 characters ending in ``=``, e.g. ``"JKJaXmPLvHcESHA="``."""
    return "".join(secrets.choice(_API_GW_ID_ALPHABET) for _ in range(15)) + "="


def trace_id(epoch_ms: int, request_id: str) -> str:
    """The X-Ray trace header, derived from the request id so that pinned samples come out identical."""
    return f"Root=1-{epoch_ms // 1000:08x}-{hashlib.sha256(request_id.encode()).hexdigest()[:24]}"


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

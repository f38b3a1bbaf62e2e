"""Time, in one place: UTC, ISO 8601 with milliseconds and a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utc_now())


def from_epoch(seconds: int | float | None) -> str | None:
    if seconds is None:
        return None
    return iso(datetime.fromtimestamp(seconds, UTC))


def parse_iso(text: str) -> datetime:
    """A stamp written by ``iso`` (or any ISO 8601 UTC time) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

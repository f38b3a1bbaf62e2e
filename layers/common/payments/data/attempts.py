"""The payment attempts repository: one counter per user and window, moved by one conditional UpdateItem."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payments.data import store
from payments.data.models import PaymentAttemptRecord

# A counter outlives its window by this much before DynamoDB's TTL removes it (TTL deletes within days, and an
# expired counter is never read again: the next window has a key of its own).
KEPT_AFTER_WINDOW = timedelta(hours=1)


def counter_id(user_id: str, window_start: int) -> str:
    return f"{user_id}#{window_start}"


def add_attempt(user_id: str, *, window_start: int, window_ends: int, limit: int) -> int:
    """Count one attempt in the user's window, only while fewer than ``limit`` were counted: the new count.
    Raises ``WriteConflict`` (nothing written) when the window already holds ``limit`` attempts."""
    record = PaymentAttemptRecord(counter_id(user_id, window_start))
    expires = datetime.fromtimestamp(window_ends, UTC) + KEPT_AFTER_WINDOW
    store.update(record, [PaymentAttemptRecord.attempts.add(1), PaymentAttemptRecord.window_ends.set(window_ends),
                          PaymentAttemptRecord.expires_at.set(expires)],
                 condition=PaymentAttemptRecord.attempts.does_not_exist() | (PaymentAttemptRecord.attempts < limit))
    return int(record.attempts)

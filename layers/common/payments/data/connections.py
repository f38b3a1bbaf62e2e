"""The live connections repository: a user's open WebSocket connections (one Query), added at ``$connect``,
removed at ``$disconnect`` or when the management API says the connection is gone; the TTL clears the rest."""

from __future__ import annotations

from datetime import timedelta

from payments.core.clock import now_iso, utc_now
from payments.data import store
from payments.data.models import LiveConnectionRecord

#: API Gateway closes a WebSocket connection after 2 hours at most: a row outlives it only by the TTL's margin.
KEEP_SECONDS = 3 * 3600
MAX_CONNECTIONS_READ = 100  # per user and event: more than enough tabs and devices


def add(user_id: str, connection_id: str) -> None:
    store.put(LiveConnectionRecord(user_id, connection_id, connected_at=now_iso(),
                                   expires_at=timedelta(seconds=KEEP_SECONDS)))


def remove(user_id: str, connection_id: str) -> None:
    store.delete(LiveConnectionRecord(user_id, connection_id))


def of_user(user_id: str) -> list[str]:
    """The user's open connection ids (one Query)."""
    page = store.query_page(LiveConnectionRecord, user_id, limit=MAX_CONNECTIONS_READ, newest_first=False,
                            start=None)
    now = utc_now()
    return [record.connection_id for record in page if record.expires_at is None or record.expires_at > now]

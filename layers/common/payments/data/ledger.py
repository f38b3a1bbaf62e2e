"""The ledger of applied Stripe events: an event id is claimed in the same transaction as its effect."""

from __future__ import annotations

from datetime import timedelta

from payments.core.clock import now_iso, utc_now
from payments.core.config import get_settings
from payments.data import store
from payments.data.models import ProcessedEventRecord


def key(event_id: str) -> store.Key:
    return (ProcessedEventRecord, event_id)


def claim(tx: store.Transaction, event_id: str, event_type: str, endpoint: str) -> None:
    """The event is applied by this transaction (which fails if another delivery applied it first)."""
    ttl = timedelta(days=get_settings().processed_event_ttl_days)
    tx.create(ProcessedEventRecord(event_id, event_type=event_type, endpoint=endpoint, processed_at=now_iso(),
                                   expires_at=utc_now() + ttl))

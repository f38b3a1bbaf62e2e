"""The ledger of applied Stripe events: an event id is claimed in the same transaction as its effect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from payments.core.clock import now_iso, utc_now
from payments.core.config import get_settings
from payments.data import store
from payments.data.models import ProcessedEventRecord


def key(event_id: str) -> store.Key:
    return (ProcessedEventRecord, event_id)


def claim(tx: store.Transaction, event_id: str, event_type: str, endpoint: str, *, via: str = "webhook") -> None:
    """The event is applied by this transaction (which fails if another delivery applied it first). ``via``: how
    it arrived (webhook, eventbridge, reconciler)."""
    ttl = timedelta(days=get_settings().processed_event_ttl_days)
    tx.create(ProcessedEventRecord(event_id, event_type=event_type, endpoint=endpoint, processed_at=now_iso(),
                                   expires_at=utc_now() + ttl, via=via))


def claimed(event_ids: Sequence[str]) -> set[str]:
    """Which of ``event_ids`` are already applied: one BatchGetItem per 100 ids (the reconciler reads a page of
    Stripe's events this way, so an event the webhooks applied costs no more than its share of one read)."""
    if not event_ids:
        return set()
    found = store.batch_read([key(event_id) for event_id in event_ids])
    return {event_id for (_, event_id) in found}

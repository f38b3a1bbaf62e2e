"""The metrics repository (``MetricsTable``): counters added to in one transaction with the event's claim, and read
back in one Query.

- ``claim``: the domain event is counted by this transaction (which fails if a delivery of it was counted before).
- ``add``: ``ADD`` to one shard of one day's counters, or of the currency's current levels (``LEVELS``); the item is
  made by its first increment.
- ``save_subscription``: what a subscription adds to the levels now, conditioned on what was read (nothing, or the
  version read), so two events of one subscription cannot both apply their change to the levels.
- ``counters_from``: every counter item of a currency from a day on, the levels included: one Query (it pages only
  past 1 MB, which the read window keeps it under).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from payments.core.clock import now_iso, utc_now
from payments.data import store
from payments.data.models import (
    METRICS_SLOT,
    MetricsCounterRecord,
    MetricsEventRecord,
    SubscriptionMetricsRecord,
)

#: The slot prefix of the current levels' shards (sorts after every ``yyyy-mm-dd``: letters after digits).
LEVELS = "now"
#: How long an event's claim is kept: past the bus archive's 30 days of replay and EventBridge's 24 hours of retries.
CLAIM_KEPT = timedelta(days=40)


def currency_scope(currency: str) -> str:
    return f"currency#{currency}"


def slot(period: str, shard: int) -> str:
    """``2026-11-05#03`` (one shard of a day) or ``now#03`` (one shard of the levels)."""
    return f"{period}#{shard:02d}"


def period_of(slot_value: str) -> str:
    return slot_value.rsplit("#", 1)[0]


def claim(tx: store.Transaction, event_id: str, detail_type: str) -> None:
    tx.create(MetricsEventRecord(f"event#{event_id}", METRICS_SLOT, detail_type=detail_type, counted_at=now_iso(),
                                 expires_at=utc_now() + CLAIM_KEPT))


def was_counted(event_id: str) -> bool:
    return store.get_item(MetricsEventRecord, f"event#{event_id}", METRICS_SLOT) is not None


def add(tx: store.Transaction, currency: str, period: str, shard: int, increments: Mapping[str, int]) -> None:
    """``ADD`` each non-zero increment (model attribute name -> amount) to the counter item."""
    actions = [getattr(MetricsCounterRecord, name).add(amount) for name, amount in sorted(increments.items())
               if amount]
    if actions:
        tx.update(MetricsCounterRecord(currency_scope(currency), slot(period, shard)), actions)


def subscription(recurring_payment_id: str) -> SubscriptionMetricsRecord | None:
    return store.get_item(SubscriptionMetricsRecord, f"subscription#{recurring_payment_id}", METRICS_SLOT)


def save_subscription(tx: store.Transaction, recurring_payment_id: str, *, currency: str, price_id: str | None,
                      active: int, mrr: int, version: int, read: SubscriptionMetricsRecord | None) -> None:
    record = SubscriptionMetricsRecord(f"subscription#{recurring_payment_id}", METRICS_SLOT, currency=currency,
                                       price_id=price_id, active=active, mrr=mrr, applied_version=version)
    if read is None:
        tx.create(record)
    else:
        tx.save(record, SubscriptionMetricsRecord.applied_version == read.applied_version)


def counters_from(currency: str, first_day: str) -> Iterable[MetricsCounterRecord]:
    """Every counter item of ``currency`` whose slot is ``first_day`` or later: the days, then the levels."""
    return store.query_range(MetricsCounterRecord, currency_scope(currency), MetricsCounterRecord.slot >= first_day)

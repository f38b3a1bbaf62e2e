"""``MetricsAggregatorFunction``: each counted domain event added to the daily aggregates exactly once.

One delivery is one DynamoDB transaction (``TransactWriteItems``) holding:

1. the claim on the event's ``eventId`` (a put conditioned on no claim existing);
2. ``ADD`` of what the event adds (``payments.metrics.tally``) to one shard of its currency's day, the shard chosen
   by a hash of the ``eventId`` (``shard_of``), so a busy day's increments spread over ``METRICS_SHARDS`` items;
3. for a subscription event that changes the subscription's part in the levels: ``ADD`` of the change to one shard
   of the levels (``now``), and the subscription's new part, conditioned on the part that was read (one GetItem
   before), so two events of one subscription never both apply a change.

Either all of it commits or none of it: a redelivered event, a retried batch, an archive replay or a concurrent
delivery finds the claim and changes nothing (``duplicate``); a crash before the commit leaves nothing, and the
retry counts it once. A lost race (the subscription's part changed, or another transaction held a counter: DynamoDB
cancels a transaction that meets another on an item) is read and tried again, backing off.

A subscription event older (by the subscription's ``version``) than the part already applied still counts in its
day's ``started``/``canceled``, and leaves the levels as they are.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core.config import get_settings
from payments.core.errors import TransientFailure, WriteConflict
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import metrics as metrics_store
from payments.data import store
from payments.data.models import SubscriptionMetricsRecord
from payments.metrics.tally import SubscriptionTerms, Tally, UnreadableEvent, tally

BACKOFF_SECONDS = 0.05


@dataclass(frozen=True)
class LevelChange:
    """What a subscription event does to the levels: the changes to add, and the subscription's part after it."""

    active: int = 0
    mrr: int = 0
    applies: bool = False  # False: an event older than the part applied (nothing to write)
    now_active: int = 0
    now_mrr: int = 0


def shard_of(event_id: str, shards: int) -> int:
    return zlib.crc32(event_id.encode("utf-8")) % shards


def level_change(applied: SubscriptionMetricsRecord | None, terms: SubscriptionTerms) -> LevelChange:
    """The change from the subscription's part as applied to its part as of ``terms`` (pure)."""
    if applied is not None and int(applied.applied_version) >= terms.version:
        return LevelChange()
    was_active = int(applied.active) if applied is not None else 0
    was_mrr = int(applied.mrr) if applied is not None else 0
    active = 1 if terms.active else 0
    if not terms.paying:
        mrr = 0
    elif terms.monthly is not None:
        mrr = terms.monthly
    else:  # a price the event does not carry: the part keeps its amount
        mrr = was_mrr
    return LevelChange(active - was_active, mrr - was_mrr, True, active, mrr)


def aggregate(event: Mapping[str, Any]) -> dict[str, str]:
    """``{"result": "counted" | "duplicate" | "ignored"}`` for one EventBridge delivery."""
    detail = event.get("detail")
    detail_type = str(event.get("detail-type") or "")
    if not isinstance(detail, Mapping) or not isinstance(detail.get("eventId"), str) or not detail["eventId"]:
        raise UnreadableEvent("not a domain event of the payments bus (detail.eventId)")
    event_id = str(detail["eventId"])
    logger.append_keys(event_id=event_id, detail_type=detail_type)
    counted = tally(detail_type, detail)
    if counted is None:
        logger.info("a domain event the numbers do not count")
        return {"result": "ignored"}
    if counted.subscription is not None and counted.subscription.paying and counted.subscription.monthly is None:
        count("MetricsPriceUnknown")
        logger.warning("the event does not carry the subscription's price: its monthly amount is kept",
                       extra={"price_id": counted.subscription.price_id})
    shard = shard_of(event_id, get_settings().metrics_shards)
    tries = [0]

    def attempt() -> str:
        if tries[0]:
            time.sleep(random.uniform(0, BACKOFF_SECONDS * 2 ** tries[0]))  # noqa: S311 (jitter)
        tries[0] += 1
        return _count_once(event_id, detail_type, counted, shard)

    result = retry_on_conflict(attempt, lambda: TransientFailure(f"event {event_id} kept losing write races"))
    count("MetricsEventCounted" if result == "counted" else "MetricsEventRepeated")
    logger.info("domain event counted" if result == "counted" else "a domain event counted before",
                extra={"currency": counted.currency, "day": counted.day, "shard": shard})
    return {"result": result}


def _count_once(event_id: str, detail_type: str, counted: Tally, shard: int) -> str:
    increments = dict(counted.counts)
    terms = counted.subscription
    change, applied = LevelChange(), None
    if terms is not None:
        applied = metrics_store.subscription(terms.recurring_payment_id)
        change = level_change(applied, terms)
    levels = {"active_change": change.active, "mrr_change": change.mrr}
    tx = store.Transaction()
    metrics_store.claim(tx, event_id, detail_type)
    metrics_store.add(tx, counted.currency, counted.day, shard, {**increments, **levels})
    metrics_store.add(tx, counted.currency, metrics_store.LEVELS, shard, levels)
    if terms is not None and change.applies:
        metrics_store.save_subscription(tx, terms.recurring_payment_id, currency=counted.currency,
                                        price_id=terms.price_id, active=change.now_active, mrr=change.now_mrr,
                                        version=terms.version, read=applied)
    try:
        tx.commit()
    except WriteConflict:
        if metrics_store.was_counted(event_id):
            return "duplicate"
        raise
    return "counted"

"""The reconciler's first pass: Stripe's events since the checkpoint, applied through the callbacks' own rules.

- **Which events**: those created at or after ``checkpoint - OVERLAP_SECONDS`` (the overlap re-reads what Stripe
  may list a little late; the ledger makes re-reading cheap), of the types the callbacks handle
  (``payments.webhooks.endpoints``); never older than Stripe's 30 days, and 72 hours back on a first run.
- **Stripe's order**: Stripe lists newest first; pages are read with ``starting_after`` down to the checkpoint,
  and applied oldest first. At most ``MAX_EVENTS_PER_RUN`` are held: with more, the oldest are applied and the
  next run goes on from there.
- **Exactly once with the webhooks**: for each page of events, one ``BatchGetItem`` on the ledger tells which
  were already applied (the common case: the webhooks got them). Each other event goes through
  ``WebhookEndpoint.apply`` of the callback that handles its type: ``processed`` (counted ``EventsRecovered``:
  the webhooks had missed it), ``duplicate``, or ``ignored``.
- **Checkpoint**: Stripe's ``created`` of the newest event gone through with nothing failed before it. An event
  that fails (a transient fault) keeps the checkpoint where it was, so the next run tries it again; later events
  are still applied (the rules take events in any order, as webhooks come).
- **Time budget**: it stops before ``deadline`` and resumes next run from its checkpoint: no gap, no double.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from payments.core.errors import TransientFailure, UpstreamUnavailable, WebhookRejected
from payments.core.observability import count, logger
from payments.data import checkpoint as checkpoint_store
from payments.data import ledger
from payments.stripe import api as stripe_api
from payments.webhooks import endpoints
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import PROCESSED

OVERLAP_SECONDS = 300
FIRST_RUN_SECONDS = 72 * 3600
STRIPE_RETENTION_SECONDS = 30 * 24 * 3600 - 3600  # Stripe keeps 30 days of events (an hour's margin)
PAGE_SIZE = 100  # Stripe's largest page, and BatchGetItem's
MAX_EVENTS_PER_RUN = 5000


@dataclass
class EventPass:
    seen: int = 0
    applied: int = 0
    checkpoint: int | None = None
    complete: bool = True  # every event since the checkpoint was gone through


def apply_events(time_left: Callable[[], float]) -> EventPass:
    """Apply what Stripe lists since the checkpoint, while ``time_left()`` (seconds) is positive."""
    result = EventPass(checkpoint=checkpoint_store.get())
    since = _since(result.checkpoint)
    events, complete = _list_events(since, time_left)
    result.complete = complete
    handled = {t for types in endpoints.event_types(platform_only=True).values() for t in types}
    newest_done: int | None = None
    failed = False
    for start in range(0, len(events), PAGE_SIZE):
        page = [e for e in events[start:start + PAGE_SIZE] if e.get("type") in handled]
        if time_left() <= 0:
            result.complete = False
            break
        claimed = ledger.claimed([str(e.get("id")) for e in page])
        for payload in page:
            if time_left() <= 0:
                result.complete = False
                break
            result.seen += 1
            outcome = _apply(payload, already=str(payload.get("id")) in claimed)
            if outcome is None:
                failed = True
            elif outcome == PROCESSED:
                result.applied += 1
            if not failed:
                newest_done = max(newest_done or 0, _created(payload))
        if not result.complete:
            break
    if failed:
        result.complete = False
    if newest_done is not None and newest_done > (result.checkpoint or 0):
        checkpoint_store.advance(newest_done)
        result.checkpoint = newest_done
    if result.applied:
        count("EventsRecovered", result.applied)
    if result.seen:
        count("ReconcileEventsSeen", result.seen)
    return result


def _since(checkpoint: int | None) -> int:
    """Where the list starts: the checkpoint less the overlap, within Stripe's 30 days; 72 hours back at first.
    (Our clock bounds only how far back to ask: an event is compared with Stripe's stamps alone.)"""
    now = int(time.time())
    floor = now - STRIPE_RETENTION_SECONDS
    start = checkpoint - OVERLAP_SECONDS if checkpoint is not None else now - FIRST_RUN_SECONDS
    return max(start, floor)


def _list_events(since: int, time_left: Callable[[], float]) -> tuple[list[dict[str, Any]], bool]:
    """Stripe's events since ``since`` of the handled types, oldest first; False when not all of them are held
    (more than ``MAX_EVENTS_PER_RUN``, or the time ran out while listing): the oldest are kept."""
    types = sorted({t for spec_types in endpoints.event_types(platform_only=True).values() for t in spec_types})
    kept: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS_PER_RUN)  # newest first: a full deque drops the newest
    complete, after = True, None
    while True:
        if time_left() <= 0:
            complete = False
            break
        page = stripe_api.list_events(created_gte=since, types=types if len(types) <= stripe_api.MAX_EVENT_TYPES
                                      else None, starting_after=after, limit=PAGE_SIZE)
        if len(kept) + len(page.events) > MAX_EVENTS_PER_RUN:
            complete = False
        kept.extend(page.events)
        if not page.has_more or not page.events:
            break
        after = str(page.events[-1].get("id"))
    return list(reversed(kept)), complete


def _created(payload: dict[str, Any]) -> int:
    created = payload.get("created")
    return created if isinstance(created, int) and not isinstance(created, bool) else 0


def _apply(payload: dict[str, Any], *, already: bool) -> str | None:
    """The event through its callback's endpoint: its result, or None when it failed (a retry may help)."""
    if already:
        return "duplicate"
    try:
        event = StripeEvent.from_payload(payload)
    except WebhookRejected:
        logger.warning("Stripe listed an event we cannot read", extra={"event_id": str(payload.get("id"))[:100]})
        count("EventMalformed")
        return "ignored"
    name = endpoints.endpoint_for(event.type, platform_only=True)
    if name is None:
        return "ignored"
    try:
        result = endpoints.webhook_endpoint(name).apply(event, via="reconciler")
    except (TransientFailure, UpstreamUnavailable) as error:
        logger.warning("an event could not be applied now; the next run tries it again",
                       extra={"event_id": event.id, "detail": str(error)})
        count("ReconcileEventFailed")
        return None
    except Exception:
        logger.exception("an event failed unexpectedly; the next run tries it again", extra={"event_id": event.id})
        count("ReconcileEventFailed")
        return None
    if result == PROCESSED:
        logger.warning("an event the webhooks had missed was applied",
                       extra={"event_id": event.id, "event_type": event.type, "endpoint": name})
    return result

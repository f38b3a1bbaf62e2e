"""``EventPublisherFunction``: committed changes, read from the tables' DynamoDB Streams, published as domain events.

Why streams: a stream holds exactly the writes that committed (a transaction that was rolled back never shows), in
order per item, for 24 hours; it costs no extra write per change (an outbox item would double the writes of every
transaction) and no code path can forget to write it. README "Domain events" has the rest of the reasoning.

One invocation is one batch of stream records of one shard, oldest first:

1. **Map** each record to its events (``payments.events.mapping``, pure): a record of a table not in ``SOURCES``,
   or a change that moves no status, makes none. A record that cannot be read (a poison record: a bug, an image of
   an unexpected shape) is reported as failed, and no record after it is published in this invocation (Lambda
   starts again from it).
2. **Read** the orders the events carry, as the HTTP API shows them: an order event uses its own image; the others'
   orders are read with one BatchGetItem, and everything under all of them with one more (per 100 keys).
3. **Publish** with ``PutEvents``, up to 10 entries and 256 KB per call. A partial failure retries only the failed
   entries (a few rounds, backing off). A record whose events still did not all go out is reported in
   ``batchItemFailures``: Lambda retries from it (``BisectBatchOnFunctionError`` isolates it), and after
   ``MaximumRetryAttempts`` the batch's description goes to the dead-letter queue (``EventPublisherDeadLetterQueue``).

Every event's ``eventId`` is derived from the entity, its key, its version and the ``DetailType``, so a batch
delivered again publishes the same ids: consumers deduplicate by it. ``causedBy.stripeEventId`` is the Stripe event
whose webhook made the change: the record's ``lastStripeEventId`` when this write changed it, else ``null`` (a
change made through the HTTP API).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from payments.core import aws
from payments.core.clock import from_epoch, parse_iso
from payments.core.config import get_settings
from payments.core.observability import count, lambda_handler_for, logger
from payments.data import store
from payments.data.models import STRIPE_EVENT_STAMP, OrderRecord
from payments.events.mapping import SOURCES, Happened, Source
from payments.orders.views import order_views

#: uuid5 namespace of ``eventId``s (fixed forever: changing it would change every id).
EVENT_ID_NAMESPACE = uuid.UUID("6f0c1d1e-6b7a-4d1f-9a59-3c2f6c0e5a10")
MAX_ENTRIES_PER_CALL = 10  # PutEvents' limits
MAX_BYTES_PER_CALL = 256 * 1024
PUBLISH_ROUNDS = 4  # the first call, then up to 3 retries of what failed
BACKOFF_SECONDS = 0.2


def event_id(entity: str, key: str, version: Any, detail_type: str) -> str:
    """The same id for the same change, however often its record is delivered."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{entity}/{key}/v{version}/{detail_type}"))


class UnpublishableRecord(Exception):
    """A stream record this code cannot turn into events (reported, retried, then dead-lettered)."""


@dataclass
class Change:
    """One stream record: the record before and after, as models of its table."""

    sequence_number: str
    source: Source
    old: Any
    new: Any
    approximate_creation: float | None

    @classmethod
    def parse(cls, record: Mapping[str, Any], sources: Mapping[str, Source]) -> Change | None:
        """None for a table whose changes are not published."""
        try:
            table = str(record["eventSourceARN"]).split(":table/", 1)[1].split("/", 1)[0]
            stream = record["dynamodb"]
            sequence_number = str(stream["SequenceNumber"])
        except (KeyError, IndexError, TypeError) as error:
            raise UnpublishableRecord(f"not a DynamoDB Stream record ({error!r})") from None
        source = sources.get(table)
        if source is None:
            logger.warning("a stream record of a table whose changes are not published", extra={"table": table})
            return None
        try:
            old = source.model.from_raw_data(stream["OldImage"]) if stream.get("OldImage") else None
            new = source.model.from_raw_data(stream["NewImage"]) if stream.get("NewImage") else None
        except Exception as error:  # pynamodb's errors for an attribute of an unexpected type
            raise UnpublishableRecord(f"an image of {table} does not read as {source.model.__name__} "
                                      f"({type(error).__name__})") from None
        creation = stream.get("ApproximateCreationDateTime")
        return cls(sequence_number, source, old, new, float(creation) if creation is not None else None)

    def happened(self) -> list[Happened]:
        return self.source.changes(self.old, self.new)

    @property
    def key(self) -> str:
        return str(self.new._get_hash_range_key_serialized_values()[0])

    @property
    def caused_by(self) -> str | None:
        stamp = getattr(self.new, STRIPE_EVENT_STAMP, None)
        before = getattr(self.old, STRIPE_EVENT_STAMP, None) if self.old is not None else None
        return stamp if stamp and stamp != before else None

    @property
    def occurred_at(self) -> str:
        """When the change was made: the record's own ``updatedAt``, else when the stream saw it."""
        updated = getattr(self.new, "updated_at", None)
        if updated:
            try:
                parse_iso(updated)
                return str(updated)
            except ValueError:
                pass
        return from_epoch(self.approximate_creation or time.time()) or ""


@dataclass
class DomainEvent:
    """One event to publish, and the stream record (by its place in the batch) it comes from."""

    index: int
    change: Change
    happened: Happened
    order: dict[str, Any] | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def build(self) -> dict[str, Any]:
        change, source = self.change, self.change.source
        new = change.new
        version = getattr(new, "version", None)
        detail: dict[str, Any] = {
            "eventId": event_id(source.entity, change.key, version if version is not None else change.sequence_number,
                                self.happened.detail_type),
            "type": self.happened.detail_type,
            "occurredAt": change.occurred_at,
            "userId": source.user_id(new) or (self.order or {}).get("userId"),
            "previousStatus": self.happened.previous_status,
            "version": int(version) if version is not None else None,
        }
        if source.order_id(new) is not None:
            detail["order"] = self.order
        if source.view is not None:
            detail[source.entity] = source.view(new)
        detail["causedBy"] = {"stripeEventId": change.caused_by} if change.caused_by else None
        self.detail = detail
        return detail


class EventBus:
    """``PutEvents`` to one bus: batches within its limits, failed entries retried, what still failed answered."""

    def __init__(self, client: Any, bus_name: str, source: str, *, sleep: Callable[[float], None] = time.sleep):
        self.client, self.bus_name, self.source, self.sleep = client, bus_name, source, sleep
        self.calls = 0

    def entry(self, event: DomainEvent) -> dict[str, Any]:
        return {"Source": self.source, "DetailType": event.happened.detail_type, "EventBusName": self.bus_name,
                "Detail": json.dumps(event.detail, separators=(",", ":")),
                "Time": _time(event.detail["occurredAt"])}

    def publish(self, events: Sequence[DomainEvent]) -> list[DomainEvent]:
        """Publish ``events``; returns those that did not go out after every round."""
        pending = [(event, self.entry(event)) for event in events]
        too_big = [event for event, entry in pending if _size(entry) > MAX_BYTES_PER_CALL]
        for event in too_big:
            logger.error("a domain event is larger than EventBridge takes",
                         extra={"event_id": event.detail["eventId"], "type": event.happened.detail_type})
        pending = [(event, entry) for event, entry in pending if event not in too_big]
        for attempt in range(PUBLISH_ROUNDS):
            if not pending:
                break
            if attempt:
                self.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1) * (1 + random.random()))  # noqa: S311 (jitter)
            pending = self._round(pending)
        return too_big + [event for event, _ in pending]

    def _round(self, pending: list[tuple[DomainEvent, dict[str, Any]]]) -> list[tuple[DomainEvent, dict[str, Any]]]:
        failed = []
        for chunk in _chunks(pending):
            self.calls += 1
            try:
                answer = self.client.put_events(Entries=[entry for _, entry in chunk])
            except Exception as error:  # botocore already retried what it retries; the next round tries again
                logger.warning("PutEvents failed", extra={"error": type(error).__name__, "detail": str(error)[:300],
                                                          "entries": len(chunk)})
                failed.extend(chunk)
                continue
            for item, result in zip(chunk, answer.get("Entries") or [], strict=False):
                if result.get("ErrorCode"):
                    logger.warning("PutEvents did not take an entry",
                                   extra={"code": result.get("ErrorCode"), "event_id": item[0].detail["eventId"]})
                    failed.append(item)
            failed.extend(chunk[len(answer.get("Entries") or []):])  # an answer shorter than the call
        return failed


def _chunks(items: list[tuple[DomainEvent, dict[str, Any]]]) -> Iterable[list[tuple[DomainEvent, dict[str, Any]]]]:
    chunk: list[tuple[DomainEvent, dict[str, Any]]] = []
    size = 0
    for item in items:
        item_size = _size(item[1])
        if chunk and (len(chunk) == MAX_ENTRIES_PER_CALL or size + item_size > MAX_BYTES_PER_CALL):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it (Time 14 bytes, then Source, DetailType, Detail in UTF-8)."""
    return 14 + sum(len(str(entry.get(name) or "").encode("utf-8")) for name in ("Source", "DetailType", "Detail"))


def _time(occurred_at: str) -> datetime:
    try:
        return parse_iso(occurred_at)
    except ValueError:
        return datetime.now(UTC)


class EventPublisher:
    """A batch of stream records in, ``{"batchItemFailures": [...]}`` out (see the module doc)."""

    def __init__(self, sources: Sequence[Source] = SOURCES, bus: EventBus | None = None):
        self.sources = tuple(sources)
        self._bus = bus

    def bus(self) -> EventBus:
        """The bus given, else the configured one (its client is the container's, made once)."""
        if self._bus is not None:
            return self._bus
        settings = get_settings()
        return EventBus(aws.client("events", settings.region), settings.event_bus_name, settings.event_source)

    def __call__(self, lambda_event: Mapping[str, Any]) -> dict[str, Any]:
        records = list(lambda_event.get("Records") or [])
        settings = get_settings()
        tables = {getattr(settings, source.table_setting): source for source in self.sources}
        events, failed_at = self._map(records, tables)
        events, failed_at = self._with_orders(events, failed_at, records)
        for event in events:
            event.build()
        unpublished = self.bus().publish(events) if events else []
        failed = {event.index for event in unpublished}
        if failed_at is not None:
            failed.add(failed_at)
        published = len(events) - len(unpublished)
        count("DomainEventsPublished", published)
        if failed:
            count("StreamRecordsFailed", len(failed))
        logger.info("stream batch published", extra={"records": len(records), "events": published,
                                                     "failed_records": len(failed)})
        return {"batchItemFailures": [{"itemIdentifier": _sequence_number(records[index])}
                                      for index in sorted(failed)]}

    def _map(self, records: list[Mapping[str, Any]], tables: Mapping[str, Source]
             ) -> tuple[list[DomainEvent], int | None]:
        events: list[DomainEvent] = []
        for index, record in enumerate(records):
            try:
                change = Change.parse(record, tables)
                happened = change.happened() if change is not None else []
            except Exception as error:
                logger.exception("a stream record could not be mapped to events",
                                 extra={"sequence_number": _sequence_number(record), "reason": str(error)})
                return events, index
            events.extend(DomainEvent(index, change, item) for item in happened if change is not None)
        return events, None

    def _with_orders(self, events: list[DomainEvent], failed_at: int | None, records: list[Mapping[str, Any]]
                     ) -> tuple[list[DomainEvent], int | None]:
        """The events with their orders' JSON; a record whose order is missing fails (and what follows waits)."""
        carrying = [event for event in events if event.change.source.order_id(event.change.new) is not None]
        own = [event for event in carrying if event.change.source.entity == "order"]
        wanted = {event.change.source.order_id(event.change.new) for event in carrying if event not in own}
        read = store.batch_read([(OrderRecord, order_id) for order_id in sorted(o for o in wanted if o)]) \
            if wanted else {}
        by_id = {key: record for (_, key), record in read.items()}
        orders = [event.change.new for event in own] + list(by_id.values())
        views = order_views(orders) if orders else []
        own_views = dict(zip((id(event) for event in own), views[:len(own)], strict=True))
        read_views = dict(zip(by_id, views[len(own):], strict=True))
        for event in carrying:
            order_id = event.change.source.order_id(event.change.new) or ""
            event.order = own_views.get(id(event)) or read_views.get(order_id)
            if event.order is None:
                logger.error("a change's order is missing", extra={
                    "sequence_number": _sequence_number(records[event.index]), "type": event.happened.detail_type})
                failed_at = event.index if failed_at is None else min(failed_at, event.index)
        if failed_at is None:
            return events, None
        return [event for event in events if event.index < failed_at], failed_at


def _sequence_number(record: Mapping[str, Any]) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def stream_handler(publisher: EventPublisher) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The ``lambda_handler`` of the publisher."""
    return lambda_handler_for(publisher)

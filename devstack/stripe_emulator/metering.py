"""Extension 22: usage-based billing: Billing Meters, meter events deduplicated by ``identifier``, and the meters'
error reports as thin events.

**Meters** (``/v1/billing/meters``: create, retrieve, list): ``display_name``, ``event_name`` (one meter per
event name), ``default_aggregation[formula]`` (``sum``, ``count`` or ``last``), ``customer_mapping`` and
``value_settings`` (their payload keys; by default ``stripe_customer_id`` and ``value``).
``GET /v1/billing/meters/{id}/event_summaries`` (``customer``, ``start_time``, ``end_time``) aggregates the
customer's accepted events in that time as one summary (no ``value_grouping_window``).

**Meter events** (``POST /v1/billing/meter_events``: ``event_name``, ``payload``, ``identifier``,
``timestamp``). What Stripe checks at once is checked at once (a 400): the event name and a payload of strings
are required, an identifier is at most 100 characters. An ``identifier`` already used answers the first event
again and is not counted twice (Stripe enforces uniqueness for at least 24 hours; here for the emulator's life).
What Stripe checks later is checked later, as on Stripe: an event without a meter for its name, without a
customer, for a customer that does not exist, with a value that is not a number, or with a timestamp more than
35 days old or 5 minutes ahead is answered 200 but not counted; it waits for the meter's next error report.
``GET /_test/billing/meter_events`` (API key; optional ``event_name``) lists every event received, each with
``counted`` and the ``error`` it had, for tests.

**Error reports.** The test helper ``POST /_test/billing/meters/{id}/error_report`` (optional ``code``, default
``meter_event_customer_not_found``) plays Stripe's periodic report: the v2 event
``v1.billing.meter.error_report_triggered`` about the meter, whose ``data.reason`` lists the meter's uncounted
events not reported yet by error code (or one error of ``code`` when there is none). It is delivered as a thin
event (``{"id", "object": "v2.core.event", "type", "created": <ISO time>, "related_object"}``, signed like any
webhook) to the endpoints registered with ``payload=thin`` for that type (extension 24, ``connect``), and
``GET /v2/core/events/{id}`` answers it whole. The answer of the helper is that event.

Left out: meter event adjustments (cancellations), meter event streams (``/v2/billing/meter_event_stream``),
``/v2/billing/meter_events``, deactivating meters, dimensions (``dimension_payload_keys``), grouping windows,
``event_time_window``, Stripe's own schedule of error reports, metered prices and the invoices they make.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from localstripe.resources import Customer, store
from localstripe.webhooks import schedule_webhook

from devstack.stripe_emulator.common import (
    ListedObject,
    as_int,
    as_str,
    invalid,
    missing,
    reject_unknown,
    stripe_error,
)

EVENTS = "billing.meter_event:"  # meter events live in localstripe's store (a data wipe forgets them)
V2_EVENTS = "v2.core.event:"
ERROR_REPORT = "v1.billing.meter.error_report_triggered"
PAST_SECONDS, FUTURE_SECONDS = 35 * 86400, 300


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Meter(ListedObject):
    object = "billing.meter"
    _id_prefix = "mtr_"
    _filters = ("status",)

    def __init__(self, display_name=None, event_name=None, default_aggregation=None, customer_mapping=None,
                 value_settings=None, **kwargs):
        reject_unknown(kwargs, what="meters")
        if display_name is None:
            raise missing("display_name")
        as_str(display_name, "display_name")
        if event_name is None:
            raise missing("event_name")
        if not isinstance(event_name, str) or not 0 < len(event_name) <= 100:
            raise invalid("event_name", "event_name must be 1 to 100 characters.")
        if _meter_for(event_name) is not None:
            raise invalid("event_name", f"A meter with event_name {event_name!r} already exists.")
        formula = (default_aggregation or {}).get("formula") if isinstance(default_aggregation, dict) else None
        if formula not in ("sum", "count", "last"):
            raise invalid("default_aggregation[formula]", "default_aggregation[formula] must be sum, count or last.")
        customer_key = (customer_mapping or {}).get("event_payload_key", "stripe_customer_id")
        value_key = (value_settings or {}).get("event_payload_key", "value")
        super().__init__()
        self.customer_mapping = {"event_payload_key": customer_key, "type": "by_id"}
        self.default_aggregation = {"formula": formula}
        self.display_name = display_name
        self.event_name = event_name
        self.event_time_window = None
        self.status = "active"
        self.status_transitions = {"deactivated_at": None}
        self.updated = self.created
        self.value_settings = {"event_payload_key": value_key}

    def _events(self) -> list[dict[str, Any]]:
        return [e for key, e in store.items() if key.startswith(EVENTS) and e["event_name"] == self.event_name]


def _meter_for(event_name: str) -> Meter | None:
    return next((m for key, m in store.items() if key.startswith("billing.meter:") and m.event_name == event_name),
                None)


class _Answer:
    """A JSON answer for localstripe's route wrapper, which calls ``_export``."""

    def __init__(self, body: dict[str, Any]):
        self.body = body

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return self.body


def _public(event: dict[str, Any]) -> dict[str, Any]:
    return {"object": "billing.meter_event", "created": event["created"], "event_name": event["event_name"],
            "identifier": event["identifier"], "livemode": False, "payload": dict(event["payload"]),
            "timestamp": event["timestamp"]}


def _later_check(event_name: str, payload: dict[str, str], timestamp: int) -> str | None:
    """What Stripe finds wrong with an accepted event when it processes it (an error report's code), or None."""
    meter = _meter_for(event_name)
    if meter is None:
        return "no_meter"
    customer = payload.get(meter.customer_mapping["event_payload_key"])
    if not customer:
        return "meter_event_no_customer_defined"
    if store.get(f"{Customer.object}:{customer}") is None:
        return "meter_event_customer_not_found"
    try:
        float(payload.get(meter.value_settings["event_payload_key"], ""))
    except ValueError:
        return "meter_event_invalid_value"
    now = time.time()
    if timestamp < now - PAST_SECONDS:
        return "timestamp_too_far_in_past"
    if timestamp > now + FUTURE_SECONDS:
        return "timestamp_in_future"
    return None


def create_meter_event(event_name=None, payload=None, identifier=None, timestamp=None, **kwargs) -> _Answer:
    """``POST /v1/billing/meter_events``."""
    reject_unknown(kwargs, what="meter events")
    if event_name is None:
        raise missing("event_name")
    if not isinstance(event_name, str) or not 0 < len(event_name) <= 100:
        raise invalid("event_name", "event_name must be 1 to 100 characters.")
    if not isinstance(payload, dict) or not payload:
        raise missing("payload")
    if not all(isinstance(v, str) for v in payload.values()):
        raise invalid("payload", "Invalid object: payload values must be strings.")
    if identifier is not None and (not isinstance(identifier, str) or not 0 < len(identifier) <= 100):
        raise invalid("identifier", "identifier must be 1 to 100 characters.")
    now = int(time.time())
    timestamp = now if timestamp is None else as_int(timestamp, "timestamp")
    identifier = identifier or f"emulator_{secrets.token_hex(12)}"
    seen = store.get(EVENTS + identifier)
    if seen is not None:  # the same identifier: the first event, not counted again
        seen["repeats"] += 1
        return _Answer(_public(seen))
    error = _later_check(event_name, payload, timestamp)
    event = {"identifier": identifier, "event_name": event_name, "payload": dict(payload), "timestamp": timestamp,
             "created": now, "counted": error is None, "error": error, "reported": False, "repeats": 0}
    store[EVENTS + identifier] = event
    return _Answer(_public(event))


def list_received(event_name=None, **kwargs) -> _Answer:
    """``GET /_test/billing/meter_events``: every event received (with ``counted``, ``error``, ``repeats``)."""
    reject_unknown(kwargs, what="listing meter events")
    received = [dict(e) for key, e in store.items() if key.startswith(EVENTS)
                and (event_name is None or e["event_name"] == event_name)]
    received.sort(key=lambda e: e["created"])
    return _Answer({"object": "list", "data": received, "has_more": False, "url": "/_test/billing/meter_events"})


def event_summaries(id=None, customer=None, start_time=None, end_time=None, **kwargs) -> _Answer:
    """``GET /v1/billing/meters/{id}/event_summaries``: the customer's counted events in [start, end)."""
    kwargs.pop("limit", None)
    reject_unknown(kwargs, what="event summaries")
    meter = Meter._api_retrieve(id)
    for name, value in (("customer", customer), ("start_time", start_time), ("end_time", end_time)):
        if value is None:
            raise missing(name)
    start, end = as_int(start_time, "start_time"), as_int(end_time, "end_time")
    customer_key, value_key = meter.customer_mapping["event_payload_key"], meter.value_settings["event_payload_key"]
    counted = sorted((e for e in meter._events() if e["counted"] and e["payload"].get(customer_key) == customer
                      and start <= e["timestamp"] < end), key=lambda e: (e["timestamp"], e["created"]))
    values = [float(e["payload"][value_key]) for e in counted]
    formula = meter.default_aggregation["formula"]
    total = {"sum": sum(values), "count": float(len(values)), "last": values[-1] if values else 0.0}[formula]
    summary = {"id": f"mtrusum_{meter.id.removeprefix('mtr_')}", "object": "billing.meter_event_summary",
               "aggregated_value": total, "end_time": end, "livemode": False, "meter": meter.id, "start_time": start}
    return _Answer({"object": "list", "data": [summary], "has_more": False,
                    "url": f"/v1/billing/meters/{meter.id}/event_summaries"})


# --------------------------------------------------------------------------------------------
# Error reports, as thin events
# --------------------------------------------------------------------------------------------


class ThinEvent:
    """A v2 event's notification (a thin payload). Delivered by extension 24 to ``payload=thin`` endpoints."""

    thin = True

    def __init__(self, event: dict[str, Any]):
        self.event = event
        self.id = event["id"]
        self.type = event["type"]
        self.created = int(event["_created"])

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {key: self.event[key] for key in ("id", "object", "type", "livemode", "created", "context",
                                                 "related_object", "reason")}


def _error_types(meter: Meter, code: str) -> tuple[int, list[dict[str, Any]]]:
    pending = [e for e in meter._events() if not e["counted"] and not e["reported"]]
    for event in pending:
        event["reported"] = True
    if not pending:
        pending = [{"error": code, "identifier": f"emulator_{secrets.token_hex(8)}"}]
    by_code: dict[str, list[dict[str, Any]]] = {}
    for event in pending:
        by_code.setdefault(event["error"], []).append(event)
    types = [{"code": found, "error_count": len(events),
              "sample_errors": [{"error_message": f"The meter event failed with {found}.",
                                 "request": {"identifier": e["identifier"]}} for e in events[:5]]}
             for found, events in sorted(by_code.items())]
    return len(pending), types


def trigger_error_report(id=None, code="meter_event_customer_not_found", **kwargs) -> _Answer:
    """``POST /_test/billing/meters/{id}/error_report``: Stripe's report of the meter's failed events."""
    reject_unknown(kwargs, what="error reports")
    meter = Meter._api_retrieve(id)
    if not isinstance(code, str) or not code:
        raise invalid("code", "code must be an error code such as meter_event_customer_not_found.")
    count, types = _error_types(meter, code)
    now = time.time()
    event = {
        "id": f"evt_test_{secrets.token_hex(12)}", "object": "v2.core.event", "type": ERROR_REPORT,
        "livemode": False, "created": _iso(now), "context": None, "reason": None,
        "related_object": {"id": meter.id, "type": "billing.meter", "url": f"/v1/billing/meters/{meter.id}"},
        "data": {"developer_message_summary": f"{count} meter event(s) failed for meter {meter.display_name}",
                 "reason": {"error_count": count, "error_types": types},
                 "validation_start": _iso(now - 3600), "validation_end": _iso(now)},
        "_created": now,
    }
    store[V2_EVENTS + event["id"]] = event
    schedule_webhook(ThinEvent(event))
    return _Answer(_v2(event))


def _v2(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


async def retrieve_v2_event(request: web.Request) -> web.Response:
    """``GET /v2/core/events/{id}``: a v2 event whole (the thin notification's full form)."""
    from localstripe import server

    event = store.get(V2_EVENTS + request.match_info["id"])
    if event is None:
        raise stripe_error(404, f"No such event: '{request.match_info['id']}'", code="resource_missing", param="id")
    return server.json_response(_v2(event))


#: Routes answered through localstripe's route wrapper (``server.api_extra``)
API_ROUTES = (
    ("POST", "/v1/billing/meters", Meter._api_create),
    ("GET", "/v1/billing/meters", Meter._api_list_all),
    ("GET", "/v1/billing/meters/{id}", Meter._api_retrieve),
    ("GET", "/v1/billing/meters/{id}/event_summaries", event_summaries),
    ("POST", "/v1/billing/meter_events", create_meter_event),
    ("GET", "/_test/billing/meter_events", list_received),
    ("POST", "/_test/billing/meters/{id}/error_report", trigger_error_report),
)
#: aiohttp handlers of their own (a v2 answer)
WEB_ROUTES = (("GET", "/v2/core/events/{id}", retrieve_v2_event),)

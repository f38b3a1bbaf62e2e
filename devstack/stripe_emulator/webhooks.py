"""Events and webhook endpoints as Stripe serves them, and a way to lose webhooks on purpose: extension 20.

- **Listing events** (``GET /v1/events``), as Stripe lists them: newest first, ``type`` or ``types[]`` (at most
  20), ``created`` (an integer, or ``[gt|gte|lt|lte]``), ``limit`` (1 to 100, default 10), ``starting_after`` /
  ``ending_before`` (an event id: the next older / newer page). localstripe lists oldest first and has no
  ``types[]``.
- **Webhook endpoints** (``/v1/webhook_endpoints``): create (``url``, ``enabled_events[]`` (``*`` for all),
  ``connect`` (extension 24), ``api_version``, ``description``, ``metadata``; the answer alone carries the
  signing secret ``secret``, ``whsec_...``), retrieve, update (``url``, ``enabled_events``, ``description``,
  ``metadata``, ``disabled``; Stripe cannot change ``api_version`` or ``connect``, nor can this), delete, list.
  Events are delivered to each enabled endpoint whose ``enabled_events`` take the event's type, signed with its own
  secret, as to the endpoints registered with localstripe's ``/_config/webhooks/{id}`` (which keep working). An
  endpoint wiped by ``DELETE /_config/data`` gets nothing more.
- **An endpoint that is down** (test helpers, API key required): ``POST /_test/webhook_endpoints/{id}/down``
  (optional ``seconds``: down for that long, else until ``/up``) and ``POST /_test/webhook_endpoints/{id}/up``,
  for a ``we_`` endpoint or a ``/_config/webhooks`` id alike. While it is down its deliveries are lost: Stripe
  would retry for three days and then give up; the emulator gives up at once, so what the reconciler recovers
  can be shown in seconds. ``GET /_test/webhook_endpoints/{id}/deliveries``: what was sent to it (event id, type,
  status, or ``down``), oldest first, for the events the emulator still holds (a data wipe forgets them).
- **Sending an event again** (``POST /_test/events/{id}/resend``, optional ``webhook_endpoint``): delivered now to
  the endpoints that take its type (or to the one named, as ``stripe events resend --webhook-endpoint`` does),
  down ones excepted; the answer lists each delivery with the status and body the endpoint answered.

Each delivery is signed the way Stripe signs (``t=...,v1=...`` over ``<t>.<payload>``), so the stripe SDK's
verification accepts it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web
from localstripe import webhooks
from localstripe.resources import Event, List, StripeObject, store, try_convert_to_int

from devstack.stripe_emulator import connect
from devstack.stripe_emulator.common import as_metadata, as_str, get_or_404, invalid, missing, reject_unknown
from devstack.stripe_emulator.connect import _endpoint_kinds as _connect_kinds

MAX_TYPES = 20
DELIVERY_TIMEOUT_SECONDS = 30
_down_until: dict[str, float] = {}  # endpoint id -> monotonic deadline (inf: until /up)
_deliveries: dict[str, list[dict[str, Any]]] = {}  # endpoint id -> what was sent to it


# ------------------------------------------------------------------------------------------ events


def _created_filter(created: Any) -> list[Any]:
    if created is None:
        return []
    if not isinstance(created, dict):
        exact = try_convert_to_int(created)
        if not isinstance(exact, int):
            raise invalid("created", "Invalid integer for created.")
        return [lambda e: e.created == exact]
    checks = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
              "lte": lambda a, b: a <= b}
    unknown = set(created) - set(checks)
    if unknown:
        raise invalid(f"created[{sorted(unknown)[0]}]", "Unknown comparison for created.")
    filters = []
    for op, value in created.items():
        bound = try_convert_to_int(value)
        if not isinstance(bound, int):
            raise invalid(f"created[{op}]", f"Invalid integer for created[{op}].")
        filters.append(lambda e, check=checks[op], bound=bound: check(e.created, bound))
    return filters


def list_events(cls: type, url: str, type: Any = None, types: Any = None, created: Any = None, limit: Any = None,
                starting_after: Any = None, ending_before: Any = None, **rest: Any) -> List:
    reject_unknown(rest, what="events")
    if type is not None and types is not None:
        raise invalid("types", "You may pass either type or types, but not both.")
    if isinstance(types, dict):  # types[0]=...&types[1]=...
        types = [types[k] for k in sorted(types, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise invalid("types", "types must be a list of event types.")
    if types is not None and len(types) > MAX_TYPES:
        raise invalid("types", f"You may pass at most {MAX_TYPES} types.")
    wanted = {type} if type is not None else set(types) if types is not None else None
    filters = _created_filter(created)
    limit = try_convert_to_int(limit) if limit is not None else 10
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise invalid("limit", "limit must be between 1 and 100.")
    newest_first = [obj for key, obj in reversed(list(store.items())) if key.startswith("event:")
                    and (wanted is None or obj.type in wanted) and all(f(obj) for f in filters)]
    if starting_after is not None and ending_before is not None:
        raise invalid("ending_before", "You may pass either starting_after or ending_before, but not both.")
    if ending_before is not None:  # the page just newer than that event
        position = next((i for i, e in enumerate(newest_first) if e.id == ending_before), None)
        if position is None:
            raise invalid("ending_before", f"No such event: '{ending_before}'")
        newest_first = newest_first[max(0, position - limit):position]
    page = List(url, limit=limit, starting_after=starting_after)
    page._list = newest_first
    if starting_after is not None and not any(e.id == starting_after for e in newest_first):
        raise invalid("starting_after", f"No such event: '{starting_after}'")
    return page


# ------------------------------------------------------------------------------------------ endpoints


class WebhookEndpoint(StripeObject):
    object = "webhook_endpoint"
    _id_prefix = "we_"

    def __init__(self, url: Any = None, enabled_events: Any = None, api_version: Any = None,
                 description: Any = None, metadata: Any = None, connect: Any = None, **rest: Any):
        reject_unknown(rest, what="webhook endpoints")
        _check_url(url)
        events = _check_events(enabled_events)
        super().__init__()
        self.url = url
        self.enabled_events = events
        self.api_version = as_str(api_version, "api_version")
        self.description = as_str(description, "description")
        self.metadata = as_metadata(metadata)
        self.status = "enabled"
        self.application = None
        self.secret = "whsec_" + secrets.token_hex(24)  # shown once: in the create answer
        # connect=true: a Connect endpoint, for the connected accounts' events (set at creation only, as at Stripe)
        _connect_kinds[self.id] = {"connect": str(connect).lower() == "true", "thin": False}
        _register(self)

    def _export(self, expand: Any = None) -> dict[str, Any]:
        data = super()._export(expand=expand)
        if not getattr(self, "_show_secret", False):
            data.pop("secret", None)
        return data

    @classmethod
    def _api_create(cls, **data: Any) -> WebhookEndpoint:
        endpoint = cls(**data)
        endpoint._show_secret = True
        return endpoint

    @classmethod
    def _api_retrieve(cls, id: str) -> WebhookEndpoint:
        endpoint = get_or_404(cls.object, id, "id")
        endpoint._show_secret = False
        return endpoint

    @classmethod
    def _api_update(cls, id: str, url: Any = None, enabled_events: Any = None, description: Any = None,
                    metadata: Any = None, disabled: Any = None, **rest: Any) -> WebhookEndpoint:
        if "api_version" in rest:
            raise invalid("api_version", "An endpoint's api_version cannot be changed: create a new endpoint.")
        reject_unknown(rest, what="webhook endpoints")
        endpoint = cls._api_retrieve(id)
        if url is not None:
            _check_url(url)
            endpoint.url = url
        if enabled_events is not None:
            endpoint.enabled_events = _check_events(enabled_events)
        if description is not None:
            endpoint.description = as_str(description, "description")
        if metadata is not None:
            endpoint.metadata = {**(endpoint.metadata or {}), **as_metadata(metadata)}
            endpoint.metadata = {k: v for k, v in endpoint.metadata.items() if v != ""}
        if disabled is not None:
            endpoint.status = "disabled" if str(disabled).lower() == "true" else "enabled"
        _register(endpoint)
        return endpoint

    @classmethod
    def _api_delete(cls, id: str) -> Any:
        endpoint = cls._api_retrieve(id)
        del store[f"{cls.object}:{id}"]
        webhooks._webhooks.pop(id, None)
        return _Deleted(endpoint.id, cls.object)

    @classmethod
    def _api_list_all(cls, url: str, limit: Any = None, starting_after: Any = None, **rest: Any) -> List:
        reject_unknown(rest, what="webhook endpoints")
        page = List(url, limit=limit, starting_after=starting_after)
        page._list = [o for k, o in reversed(list(store.items())) if k.startswith(f"{cls.object}:")]
        for endpoint in page._list:
            endpoint._show_secret = False
        return page


class _Deleted:
    def __init__(self, id: str, object_name: str):
        self.id, self.object_name = id, object_name

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {"id": self.id, "object": self.object_name, "deleted": True}


def _check_url(url: Any) -> None:
    if url is None:
        raise missing("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise invalid("url", "Invalid URL: must be http(s).")


def _check_events(events: Any) -> list[str]:
    if events is None:
        raise missing("enabled_events")
    if isinstance(events, dict):
        events = [events[k] for k in sorted(events, key=lambda k: int(k) if str(k).isdigit() else 0)]
    if not isinstance(events, list) or not events or not all(isinstance(e, str) and e for e in events):
        raise invalid("enabled_events", "enabled_events must be a non-empty list of event types (or ['*']).")
    return list(events)


def _register(endpoint: WebhookEndpoint) -> None:
    """Deliver to ``endpoint`` through localstripe's registry (``events`` None: every type)."""
    if endpoint.status != "enabled":
        webhooks._webhooks.pop(endpoint.id, None)
        return
    events = None if "*" in endpoint.enabled_events else list(endpoint.enabled_events)
    webhooks.register_webhook(endpoint.id, endpoint.url, endpoint.secret, events)


# ------------------------------------------------------------------------------------------ delivery


def _is_down(endpoint_id: str) -> bool:
    until = _down_until.get(endpoint_id)
    if until is None:
        return False
    if time.monotonic() >= until:
        _down_until.pop(endpoint_id, None)
        return False
    return True


def _targets(event: Any, only: str | None = None) -> list[tuple[str, Any]]:
    targets = []
    for endpoint_id, hook in list(webhooks._webhooks.items()):
        if endpoint_id.startswith("we_") and store.get(f"webhook_endpoint:{endpoint_id}") is None:
            webhooks._webhooks.pop(endpoint_id, None)  # wiped by DELETE /_config/data
            continue
        if only is not None and endpoint_id != only:
            continue
        if hook.events is not None and event.type not in hook.events:
            continue
        if not connect.wants(endpoint_id, event):  # extension 24: platform, Connect and thin endpoints
            continue
        targets.append((endpoint_id, hook))
    return targets


async def _deliver(event: Any, endpoint_id: str, hook: Any) -> dict[str, Any]:
    log = logging.getLogger("aiohttp.access")
    record: dict[str, Any] = {"event": event.id, "type": event.type, "endpoint": endpoint_id, "url": hook.url}
    if _is_down(endpoint_id):
        log.info('webhook "%s" not delivered to %s: the endpoint is down (lost)', event.type, endpoint_id)
        record.update(status="down", body=None)
        _deliveries.setdefault(endpoint_id, []).append(record)
        return record
    payload = json.dumps(event._export(), indent=2, sort_keys=True).encode("utf-8")
    stamp = int(time.time())
    signature = hmac.new(hook.secret.encode("utf-8"), b"%d.%s" % (stamp, payload), hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": f"t={stamp},v1={signature}"}
    try:
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, \
                session.post(hook.url, data=payload, headers=headers) as response:
            text = await response.text()
            record.update(status=response.status, body=_json_or_text(text))
            log.info('webhook "%s" delivered to %s: %d', event.type, endpoint_id, response.status)
    except (TimeoutError, aiohttp.ClientError) as error:
        record.update(status="failed", body=str(error))
        log.info('webhook "%s" to %s failed: %s', event.type, endpoint_id, error)
    _deliveries.setdefault(endpoint_id, []).append(record)
    return record


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _send_webhook(event: Any) -> None:
    """localstripe's delivery (about 1 s after the event), to each endpoint that takes its type, down ones lost."""
    await asyncio.sleep(1)
    await asyncio.gather(*(_deliver(event, endpoint_id, hook) for endpoint_id, hook in _targets(event)))


# ------------------------------------------------------------------------------------------ test helpers


def _known_endpoint(endpoint_id: str) -> None:
    if endpoint_id not in webhooks._webhooks and store.get(f"webhook_endpoint:{endpoint_id}") is None:
        raise invalid("id", f"No such webhook endpoint: '{endpoint_id}'")


async def endpoint_down(request: web.Request) -> web.Response:
    from localstripe import server

    endpoint_id = request.match_info["id"]
    _known_endpoint(endpoint_id)
    data = await server.get_post_data(request) or {}
    seconds = try_convert_to_int(data.get("seconds")) if data.get("seconds") is not None else None
    if seconds is not None and (not isinstance(seconds, int) or seconds <= 0):
        raise invalid("seconds", "seconds must be a positive integer.")
    _down_until[endpoint_id] = time.monotonic() + seconds if seconds else float("inf")
    return web.json_response({"id": endpoint_id, "down": True, "seconds": seconds})


async def endpoint_up(request: web.Request) -> web.Response:
    endpoint_id = request.match_info["id"]
    _known_endpoint(endpoint_id)
    _down_until.pop(endpoint_id, None)
    return web.json_response({"id": endpoint_id, "down": False})


async def endpoint_deliveries(request: web.Request) -> web.Response:
    endpoint_id = request.match_info["id"]
    _known_endpoint(endpoint_id)
    # Deliveries of events wiped by DELETE /_config/data are forgotten with them.
    kept = [d for d in _deliveries.get(endpoint_id, []) if store.get(f"event:{d['event']}") is not None]
    _deliveries[endpoint_id] = kept
    return web.json_response({"id": endpoint_id, "down": _is_down(endpoint_id), "deliveries": kept})


async def resend_event(request: web.Request) -> web.Response:
    from localstripe import server

    event = get_or_404("event", request.match_info["id"], "id")
    data = await server.get_post_data(request) or {}
    only = data.get("webhook_endpoint")
    if only is not None:
        _known_endpoint(str(only))
    deliveries = await asyncio.gather(*(_deliver(event, endpoint_id, hook)
                                        for endpoint_id, hook in _targets(event, only)))
    return web.json_response({"id": event.id, "type": event.type, "deliveries": list(deliveries)})


# ------------------------------------------------------------------------------------------ install


def install() -> None:
    """Before ``localstripe.server`` is imported: the event list, delivery, and the endpoints' class."""
    Event._api_list_all = classmethod(list_events)
    webhooks._send_webhook = _send_webhook


def add_routes(app: web.Application) -> None:
    """After it is imported: the endpoints' API (wrapped like localstripe's own) and the test helpers."""
    from localstripe import server

    cls, url = WebhookEndpoint, "/v1/webhook_endpoints"
    router = app.router
    router.add_route("POST", url, server.api_create(cls, url))
    router.add_route("GET", url, server.api_list_all(cls, url))
    router.add_route("GET", url + "/{id}", server.api_retrieve(cls, url))
    router.add_route("POST", url + "/{id}", server.api_update(cls, url))
    router.add_route("DELETE", url + "/{id}", server.api_delete(cls, url))
    router.add_post("/_test/webhook_endpoints/{id}/down", endpoint_down)
    router.add_post("/_test/webhook_endpoints/{id}/up", endpoint_up)
    router.add_get("/_test/webhook_endpoints/{id}/deliveries", endpoint_deliveries)
    router.add_post("/_test/events/{id}/resend", resend_event)

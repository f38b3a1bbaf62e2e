"""The local stack's Stripe webhooks: registered through the product's own code, one route for ``stripe listen``,
and endpoints that can be taken down.

* **Registration** (emulator mode): the callbacks' endpoints are created at the emulator by
  ``WebhookRegistrationFunction``'s own ``sync_endpoints`` (the code the stack's custom resource runs in AWS):
  each callback's Function URL, exactly the event types its rules handle, the API version the SDK pins. The
  signing secrets Stripe answers with go into the functions' environment (``STRIPE_WEBHOOK_SECRET_<NAME>``),
  as the custom resource writes them into each callback's secret. When a callback or the layer is reloaded the
  registration is synced again (its event types may have changed).
* An event destination with thin payloads (the usage callback's meter error reports) is registered at the
  emulator directly (extension 24), with the secret the function's environment holds.
* ``POST /_local/stripe-events``: one URL for ``stripe listen --forward-to`` and ``--forward-connect-to`` (Stripe
  test mode; thin events go to their callback with ``--forward-thin-to``): each event is
  handed, as a Function URL request with its signature, to the callback whose rules handle its type
  (``payments.webhooks.endpoints``); the callback verifies it. A type no callback handles answers 200
  ``ignored``, as the callbacks do.
* ``POST /_local/webhooks/<name>/down[?seconds=N]`` and ``.../up`` (loopback clients, emulator mode): the endpoint
  of callback ``<name>`` stops receiving (its deliveries are lost) for ``N`` seconds or until ``up``, so the
  reconciler's job can be watched.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from devstack.handlers import HandlerRuntime
from devstack.lambda_events import HttpRequest
from devstack.local_functions import FUNCTION_URL_PREFIX, LocalFunction
from devstack.local_http import Response

REGISTRATION_FUNCTION = "WebhookRegistrationFunction"
LOCAL_STACK_ID = "local"  # the registration's "stack": the endpoints' metadata says so
FORWARD_ROUTE = "stripe-events"


class LocalWebhooks:
    """The callbacks' endpoints at the emulator (``register``) and the ``/_local/`` routes above."""

    def __init__(self, functions: list[LocalFunction], runtime: HandlerRuntime, *, api_url: str,
                 emulator: Any = None, log: Callable[[str], None] = print):
        self.functions = {f.logical_id: f for f in functions}
        self.runtime = runtime
        self.api_url = api_url
        self.emulator = emulator  # None: Stripe test mode (webhooks come through stripe listen)
        self.log = log
        self.endpoints: dict[str, dict[str, Any]] = {}  # name -> {id, function, url, events}
        self.dirty = False
        self.dispatch: Callable[[HttpRequest], Response] | None = None  # the local app's request handler

    # ------------------------------------------------------------------ registration

    def callbacks(self) -> dict[str, LocalFunction]:
        return {f.webhook_endpoint: f for f in self.functions.values() if f.webhook_endpoint and f.url_path}

    def register(self) -> dict[str, dict[str, Any]]:
        """Create or update the callbacks' endpoints at the emulator; put new signing secrets in the environment."""
        registration = self.functions.get(REGISTRATION_FUNCTION)
        if self.emulator is None or registration is None:
            return self.endpoints
        self.dirty = False
        thin = self._thin_callbacks()  # registered at the emulator directly, below
        urls = {name: f"{self.api_url}{function.url_path}" for name, function in self.callbacks().items()
                if name not in thin}
        secrets = self.runtime.call(registration, "sync_endpoints", urls, str(uuid.uuid4()))
        for name, secret in secrets.items():
            for function in self.functions.values():  # every function agrees, so switching costs no cache reset
                environment: Any = function.environment
                environment[f"STRIPE_WEBHOOK_SECRET_{name.upper()}"] = secret
        self._register_thin_destinations()
        client = self.emulator.client()
        for endpoint in client.v1.webhook_endpoints.list({"limit": 100}).auto_paging_iter():
            metadata = endpoint.metadata.to_dict() if endpoint.metadata else {}
            name = metadata.get("endpoint")
            if metadata.get("stack") == LOCAL_STACK_ID and name in urls:
                self.endpoints[name] = {"id": endpoint.id, "function": self.callbacks()[name].logical_id,
                                        "url": endpoint.url, "events": list(endpoint.enabled_events)}
        return self.endpoints

    def _thin_callbacks(self) -> dict[str, tuple[LocalFunction, Any]]:
        """The callbacks outside the map of snapshot endpoints, event destinations with thin payloads
        (``endpoints.THIN_DESTINATIONS``: usage), each with its handler's endpoint (its ``rules`` by event type)."""
        from payments.webhooks import endpoints  # the layer is mounted by the runtime

        return {name: (function, getattr(self.runtime.module(function), "endpoint", None))
                for name, function in self.callbacks().items() if name in endpoints.THIN_DESTINATIONS}

    def _register_thin_destinations(self) -> None:
        """An event destination with thin payloads for each thin callback, at the emulator (extension 24): the
        product registers no thin destination itself (README, "Usage-based billing"), so make dev does."""
        assert self.emulator is not None
        for name, (function, handler) in self._thin_callbacks().items():
            url = f"{self.api_url}{function.url_path}"
            secret = str(function.environment.get(f"STRIPE_WEBHOOK_SECRET_{name.upper()}") or "")
            events = sorted(getattr(handler, "rules", {}) or {}) or None
            self.emulator.register_webhook(name, url, secret, events, thin=True)
            self.endpoints[name] = {"id": name, "function": function.logical_id, "url": url,
                                    "events": events or ["*"], "thin": True}

    def listen_flags(self) -> str:
        """What ``stripe listen`` takes to serve every callback (Stripe test mode): the platform's and the
        connected accounts' events to the forwarding route, thin events to their callback."""
        route = f"{self.api_url}/_local/{FORWARD_ROUTE}"
        flags = f"--forward-to {route} --forward-connect-to {route}"
        for function, handler in self._thin_callbacks().values():
            events = ",".join(sorted(getattr(handler, "rules", {}) or {})) or "'*'"
            flags += f" --thin-events {events} --forward-thin-to {self.api_url}{function.url_path}"
        return flags

    def on_load(self, function: LocalFunction) -> None:
        """A callback (or the layer) was reloaded: sync again soon (not now: an invocation is in progress)."""
        if function.webhook_endpoint and self.endpoints:
            self.dirty = True

    # ------------------------------------------------------------------ the /_local/ routes

    def routes(self) -> dict[str, Callable[[HttpRequest], Response]]:
        """``/_local/...`` routes for :class:`devstack.local_http.LocalApp` (``webhooks/``: every path under it),
        answered to loopback clients only."""
        return {FORWARD_ROUTE: _loopback_only(self.forward), "webhooks/": _loopback_only(self.switch)}

    def forward(self, request: HttpRequest) -> Response:
        """``stripe listen --forward-to <api>/_local/stripe-events``: to the callback for the event's type."""
        if request.method != "POST":
            return Response.json(405, {"message": "Method Not Allowed"})
        try:
            event_type = json.loads(request.body or b"").get("type")
        except (ValueError, AttributeError):
            event_type = None
        if not isinstance(event_type, str):
            return Response.json(400, {"message": "not a Stripe event"})
        from payments.webhooks import endpoints  # the layer is mounted by the runtime

        name = endpoints.endpoint_for(event_type)
        function = self.callbacks().get(name or "")
        if function is None:
            return Response.json(200, {"received": True, "result": "ignored",
                                       "note": f"no callback handles {event_type}"})
        assert self.dispatch is not None and function.url_path is not None
        response = self.dispatch(dataclasses.replace(request, path=f"{FUNCTION_URL_PREFIX}{function.logical_id}/"))
        response.note = f"-> {function.logical_id} {response.note}".rstrip()
        return response

    def switch(self, request: HttpRequest) -> Response:
        """``/_local/webhooks/<name>/down?seconds=N`` and ``/_local/webhooks/<name>/up``."""
        name, _, action = request.path.removeprefix("/_local/webhooks/").partition("/")
        if request.method != "POST" or action not in ("down", "up"):
            return Response.json(404, {"message": "POST /_local/webhooks/<name>/down[?seconds=N] or /up"})
        if self.emulator is None:
            return Response.json(409, {"message": "only the emulator can take an endpoint down"})
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return Response.json(404, {"message": f"no webhook endpoint {name!r}; there are {sorted(self.endpoints)}"})
        if action == "up":
            self.emulator.webhook_up(endpoint["id"])
            self.log(f"webhook endpoint {name} is up again")
            return Response.json(200, {"endpoint": name, "down": False})
        seconds = dict(parse_qsl(request.query)).get("seconds")
        if seconds is not None and not (seconds.isdigit() and int(seconds) > 0):
            return Response.json(400, {"message": "seconds must be a positive integer"})
        self.emulator.webhook_down(endpoint["id"], int(seconds) if seconds else None)
        self.log(f"webhook endpoint {name} is down{f' for {seconds} s' if seconds else ''}: its deliveries are lost")
        return Response.json(200, {"endpoint": name, "down": True, "seconds": int(seconds) if seconds else None})


def _loopback_only(route: Callable[[HttpRequest], Response]) -> Callable[[HttpRequest], Response]:
    def guarded(request: HttpRequest) -> Response:
        try:
            loopback = ipaddress.ip_address(request.client_ip.split("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            return Response.json(403, {"message": "for loopback clients only"})
        return route(request)

    return guarded

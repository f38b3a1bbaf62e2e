"""A webhook endpoint for emulator tests: keeps every delivery and verifies it as Stripe's SDK does."""

from __future__ import annotations

import time
from collections.abc import Callable

import stripe
from werkzeug.wrappers import Request, Response

from devstack.loopback import LoopbackServer


class WebhookReceiver:
    """An endpoint on a free loopback port (``url``) that keeps every (raw body, signature) it gets."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[bytes, str]] = []
        self.server = LoopbackServer(self._receive).start()
        self.url = f"{self.server.url}/stripe"

    @Request.application
    def _receive(self, request: Request) -> Response:
        self.received.append((request.get_data(), request.headers.get("Stripe-Signature", "")))
        return Response(status=200)

    def events(self) -> list[stripe.Event]:
        """Every delivery so far, each checked with ``stripe.Webhook.construct_event`` (raises if unsigned)."""
        return [stripe.Webhook.construct_event(body, sig, self.secret) for body, sig in list(self.received)]

    def wait_for(self, type: str, object_id: str, where: Callable[[stripe.Event], bool] = lambda _: True,  # noqa: A002
                 timeout: float = 30) -> stripe.Event:
        """The ``type`` event about ``object_id`` (and matching ``where``). Matching on the object matters:
        an earlier test's events can still arrive (localstripe delivers about 1 s after the fact, to
        whichever endpoints are registered then)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events():
                if event.type == type and event.data.object.id == object_id and where(event):
                    return event
            if time.monotonic() > deadline:
                seen = [(e.type, e.data.object.id) for e in self.events()]
                raise AssertionError(f"no {type} event for {object_id} within {timeout} s; got {seen}")
            time.sleep(0.1)

    def close(self) -> None:
        self.server.stop()

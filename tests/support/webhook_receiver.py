"""A webhook endpoint for emulator tests: keeps every delivery and verifies it as Stripe's SDK does."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable

import stripe


class WebhookReceiver:
    """A tiny HTTP server on a free loopback port that keeps every (raw body, signature) it gets."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[bytes, str]] = []
        received = self.received

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((body, self.headers["Stripe-Signature"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/stripe"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

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
        self.server.shutdown()
        self.server.server_close()

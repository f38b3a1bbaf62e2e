"""The emulator as a child process, for the local stack, tests and scripts: :class:`StripeEmulator`, and the
test helpers that drive a running one (:func:`advance_subscription`, :func:`pay_invoice`).

Standard library only in this process (the stripe SDK when a client is asked for): the emulator itself runs
``python -m devstack.stripe_emulator`` in the child.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Self

from devstack import REPO_ROOT

READY_MESSAGE = "stripe emulator ready on"


class StripeEmulator:
    """Run ``python -m devstack.stripe_emulator`` on a free loopback port (or ``port``).

    With ``port=0`` the child binds port 0 itself and the port is read from its ready line, so
    parallel runs cannot race for a port.

    >>> with StripeEmulator() as emulator:
    ...     client = emulator.client()
    ...     price = client.v1.prices.create({"currency": "eur", "unit_amount": 500,
    ...                                      "product_data": {"name": "T-shirt"}})
    """

    api_key = "sk_test_stripe_emulator"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", startup_timeout: float = 20.0):
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the started process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the process and wait until it answers; raise RuntimeError with its log otherwise."""
        if self._process is not None:
            return self
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        # A file, not a pipe: nobody reads a pipe while the server runs, and a full pipe blocks it.
        # Append mode: the child shares this file's offset, and logs() seeks to read it.
        self._log = tempfile.TemporaryFile("a+b")  # closed by stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "devstack.stripe_emulator", "--port", str(self.port), "--host", self.host,
             "--parent-pid", str(os.getpid())],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:  # including Ctrl-C: never leave the process behind
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise RuntimeError(f"stripe emulator exited with code {code} during startup:\n{self.logs()}")
            if not self.port:  # the child chose it: read its ready line
                ready = re.search(rf"{READY_MESSAGE} http://\S+:(\d+)", self.logs())
                self.port = int(ready.group(1)) if ready else 0
            try:
                if self.port:
                    self._request("GET", "/v1/prices?limit=1", timeout=1)
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                late = f"did not answer on {self.url} within {self.startup_timeout} s"
                raise RuntimeError(f"stripe emulator {late}:\n{self.logs()}")
            time.sleep(0.05)

    def client(self, **kwargs: Any) -> Any:
        """A ``stripe.StripeClient`` talking to this emulator (``kwargs`` go to its constructor)."""
        import stripe

        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **kwargs)

    def reset(self) -> None:
        """Wipe every object and saved idempotent response (webhook registrations stay)."""
        self._request("DELETE", "/_config/data")

    def register_webhook(
        self,
        endpoint_id: str,
        url: str,
        secret: str,
        events: list[str] | None = None,
        *,
        connect: bool = False,
        thin: bool = False,
    ) -> None:
        """Deliver events (all, or only ``events``) to ``url``, signed with ``secret``: the platform's own events,
        or with ``connect`` the connected accounts' events (Connect), or with ``thin`` thin events (extension 24)."""
        form = [("url", url), ("secret", secret)] + [("events[]", e) for e in events or []]
        form += [("connect", "true" if connect else "false"), ("payload", "thin" if thin else "snapshot")]
        self._request("POST", f"/_config/webhooks/{endpoint_id}", form)

    def webhook_down(self, endpoint_id: str, seconds: int | None = None) -> None:
        """Take a webhook endpoint (``we_...`` or a ``register_webhook`` id) down: its deliveries are lost, for
        ``seconds`` or until :meth:`webhook_up`."""
        self._request("POST", f"/_test/webhook_endpoints/{endpoint_id}/down",
                      [("seconds", str(seconds))] if seconds else [])

    def webhook_up(self, endpoint_id: str) -> None:
        self._request("POST", f"/_test/webhook_endpoints/{endpoint_id}/up", [])

    def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        """What was sent to the endpoint, oldest first: ``{"event", "type", "status" (or "down"), "body"}``."""
        import json

        return json.loads(self._request("GET", f"/_test/webhook_endpoints/{endpoint_id}/deliveries"))["deliveries"]

    def resend_event(self, event_id: str, endpoint_id: str | None = None) -> list[dict[str, Any]]:
        """Deliver an event again now (to ``endpoint_id`` only, if given); each endpoint's answer."""
        import json

        form = [("webhook_endpoint", endpoint_id)] if endpoint_id else []
        return json.loads(self._request("POST", f"/_test/events/{event_id}/resend", form))["deliveries"]

    def complete_checkout_session(self, session_id: str, payment_method: str = "pm_card_visa"):
        """Play the customer paying a Checkout Session; returns the session (a stripe object).

        A declined card raises ``stripe.CardError`` and leaves the session open.
        """
        client = self.client()
        response = client.raw_request(
            "post", f"/_test/checkout/sessions/{session_id}/complete", payment_method=payment_method
        )
        return client.deserialize(response, api_mode="V1")

    def logs(self) -> str:
        """What the process wrote so far (access log, webhook deliveries, tracebacks)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit within 5 s). Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _request(self, method: str, path: str, form: list | None = None, timeout: float = 10) -> bytes:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()


def advance_subscription(emulator: StripeEmulator, subscription_id: str, *, fail: bool = False) -> Any:
    """End the subscription's current period (``POST /_test/subscriptions/{id}/advance``).

    Returns the renewal invoice (a ``stripe.Invoice``), or the ended ``stripe.Subscription`` when it was set
    to cancel at period end. ``fail=True`` declines the renewal charge.
    """
    client = emulator.client()
    response = client.raw_request(
        "post", f"/_test/subscriptions/{subscription_id}/advance", fail="true" if fail else "false"
    )
    return client.deserialize(response, api_mode="V1")


def onboard_account(emulator: StripeEmulator, account_id: str, *, outcome: str = "complete") -> Any:
    """The account holder completes Connect onboarding (``POST /_test/accounts/{id}/onboard``; ``outcome``
    ``restricted`` leaves a document due): the ``stripe.Account``, after ``account.updated`` was sent."""
    client = emulator.client()
    response = client.raw_request("post", f"/_test/accounts/{account_id}/onboard", outcome=outcome)
    return client.deserialize(response, api_mode="V1")


def received_meter_events(emulator: StripeEmulator, event_name: str | None = None) -> list[dict[str, Any]]:
    """Every meter event the emulator received (``GET /_test/billing/meter_events``), each with ``counted``,
    ``error`` and ``repeats`` (how often its identifier came again)."""
    import json

    query = "?" + urllib.parse.urlencode({"event_name": event_name}) if event_name else ""
    data: list[dict[str, Any]] = json.loads(emulator._request("GET", f"/_test/billing/meter_events{query}"))["data"]
    return data


def trigger_meter_error_report(emulator: StripeEmulator, meter_id: str, code: str | None = None) -> dict[str, Any]:
    """Stripe's error report for a meter (``POST /_test/billing/meters/{id}/error_report``): the v2 event, which
    is also delivered as a thin event to the endpoints registered with ``thin=True``."""
    import json

    form = [("code", code)] if code else []
    event: dict[str, Any] = json.loads(emulator._request("POST", f"/_test/billing/meters/{meter_id}/error_report",
                                                         form))
    return event


def pay_invoice(emulator: StripeEmulator, invoice_id: str, payment_method: str | None = None) -> Any:
    """Stripe retrying an open invoice (``POST /_test/invoices/{id}/pay``); returns the ``stripe.Invoice``.

    ``payment_method`` defaults to the subscription's default payment method, else the customer's.
    """
    client = emulator.client()
    params = {} if payment_method is None else {"payment_method": payment_method}
    response = client.raw_request("post", f"/_test/invoices/{invoice_id}/pay", **params)
    return client.deserialize(response, api_mode="V1")

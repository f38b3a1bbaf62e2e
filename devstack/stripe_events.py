"""Stripe webhook payloads for tests and local development.

Objects come from Stripe's own example fixtures (``devstack/stripe_fixtures``, copied from
stripe/openapi; the bench's Stripe stub reads them too), events are wrapped in a real Event
envelope, and signatures are made exactly the way Stripe makes the ``Stripe-Signature`` header, so
handlers are tested against ``stripe.Webhook.construct_event`` rather than a mock of it.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import secrets
import string
import time
from pathlib import Path
from typing import Any

FIXTURES_DIR = Path(__file__).resolve().parent / "stripe_fixtures"

_ID_ALPHABET = string.ascii_letters + string.digits


def random_stripe_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id such as ``evt_1Pgc76B7WZ01zgkWwyRHS12y`` (prefix without the underscore)."""
    return f"{prefix}_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def sign_payload(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends for ``payload``: ``t=<ts>,v1=<hex hmac-sha256>``.

    The signed string is ``f"{t}.{payload}"`` keyed by the endpoint's signing secret, the same as
    ``stripe.WebhookSignature.generate_signature_header`` (stripe-python's own test helper).
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    signed = f"{ts}.".encode() + payload
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"t={ts},v1={digest}"


@functools.cache
def _load_fixture(name: str) -> dict[str, Any]:
    path = FIXTURES_DIR / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in FIXTURES_DIR.glob("*.json"))
        raise KeyError(f"no Stripe fixture {name!r} in {FIXTURES_DIR} (have: {', '.join(known)})")
    with path.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def stripe_object(name: str, **overrides: Any) -> dict[str, Any]:
    """A fresh deep copy of Stripe's example ``name`` object (``"payment_intent"``,
    ``"checkout.session"``, ...) with top-level ``overrides`` applied (nested values replace the
    fixture's wholesale), e.g. ``stripe_object("refund", amount=500, metadata={...})``."""
    obj = copy.deepcopy(_load_fixture(name))
    obj.update(copy.deepcopy(overrides))
    return obj


def _pinned_api_version() -> str | None:
    try:
        import stripe
    except ImportError:  # pragma: no cover - stripe is a project dependency
        return None
    version = getattr(stripe, "api_version", None)
    return version if isinstance(version, str) else None


def stripe_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
    api_version: str | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """A complete Stripe Event envelope (built on the ``event`` fixture) carrying ``obj``.

    ``api_version`` defaults to the fixture's; Stripe's fixture leaves it ``null``, and a real
    webhook always names one, so then the version pinned by the installed stripe-python is used.
    """
    event = copy.deepcopy(_load_fixture("event"))
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    event.update(
        {
            "id": event_id or random_stripe_id("evt"),
            "object": "event",
            "api_version": api_version or event.get("api_version") or _pinned_api_version(),
            "created": int(time.time()) if created is None else int(created),
            "data": data,
            "livemode": False,
            "pending_webhooks": max(int(event.get("pending_webhooks") or 0), 1),
            "request": {"id": request_id, "idempotency_key": None},
            "type": event_type,
        }
    )
    return event


def encode_event(event: dict[str, Any]) -> bytes:
    """The raw webhook body for ``event``: compact JSON, utf-8. Sign exactly these bytes."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

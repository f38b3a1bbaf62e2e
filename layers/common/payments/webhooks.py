"""The pipeline every Stripe callback runs: one flow, small per-event parts.

For each delivery:

1. **Verify** the ``Stripe-Signature`` header over the raw body (base64-decoded when the Function URL
   says so) with the stripe SDK's own ``WebhookSignature.verify_header`` and Stripe's 300 s tolerance,
   before anything else. A bad or missing signature, or a body that is not a Stripe event, is a 400 and
   nothing is written.
2. **Route** by event type to an ``EventRule``; a type this endpoint does not handle is ``ignored``.
3. **Read** the ledger entry for the event id and every record the rule names, in one consistent
   ``TransactGetItems``. Already in the ledger: ``duplicate`` (one DynamoDB call in all).
4. **Decide**: the rule turns the event and the records into writes, each conditioned on the version it
   read, or into nothing (``ignored``: stale, or about an object we never created).
5. **Commit** the ledger claim and those writes in one ``TransactWriteItems``: the claim and its
   effect land together or not at all. A lost race (a concurrent delivery of the same event, or another
   event touching the same records) goes back to step 3, where a duplicate is recognised as such.

Faults a retry can cure answer 500, so Stripe retries; everything else answers 2xx.
"""

from __future__ import annotations

import base64
import binascii
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from payments import store
from payments.clock import now_iso, utc_now
from payments.config import get_settings
from payments.errors import ConfigurationError, TransientFailure, UpstreamUnavailable, WebhookRejected
from payments.models import ProcessedEventRecord
from payments.observability import count, logger

SIGNATURE_TOLERANCE_SECONDS = 300
_ATTEMPTS = 5


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: int
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None
    livemode: bool = False

    @property
    def metadata(self) -> dict[str, Any]:
        value = self.object.get("metadata")
        return value if isinstance(value, dict) else {}

    @classmethod
    def from_payload(cls, payload: Any) -> StripeEvent:
        if not isinstance(payload, dict) or payload.get("object") != "event":
            raise WebhookRejected("the body is not a Stripe event", code="malformed_event")
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, dict) else None
        event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
        if (not isinstance(event_id, str) or not event_id.startswith("evt_") or not isinstance(event_type, str)
                or not isinstance(obj, dict) or isinstance(created, bool) or not isinstance(created, int)):
            raise WebhookRejected("the body is not a Stripe event", code="malformed_event")
        previous = data.get("previous_attributes") if isinstance(data, dict) else None
        return cls(id=event_id, type=event_type, created=created, object=obj,
                   previous_attributes=previous if isinstance(previous, dict) else None,
                   livemode=bool(payload.get("livemode")))


@dataclass
class Decision:
    """What an event changes: writes to commit with the ledger claim, and what to report once committed."""

    transaction: store.Transaction = field(default_factory=store.Transaction)
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class EventRule(ABC):
    """The per-event part: which records an event concerns, and what it does to them.

    ``prepare`` runs once per delivery (a rule that must look something up, in an index or at Stripe,
    does it there); ``keys`` and ``decide`` run on each attempt of the read-decide-commit loop.
    """

    def prepare(self, event: StripeEvent) -> Any:
        """What ``keys`` and ``decide`` work from; None when the event is not about anything of ours."""
        return event

    @abstractmethod
    def keys(self, subject: Any) -> Sequence[store.Key] | None:
        """The records to read with the ledger entry; None when the event is not about anything of ours."""

    @abstractmethod
    def decide(self, subject: Any, records: Sequence[Any]) -> Decision | None:
        """The writes the event causes (records are in ``keys`` order, None where missing); None: ignored."""


def verify(lambda_event: Mapping[str, Any], secret: str) -> StripeEvent:
    """The verified Stripe event in a Function URL request, or ``WebhookRejected``."""
    import stripe

    headers = {str(k).lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
    signature = headers.get("stripe-signature")
    if not signature:
        raise WebhookRejected("the Stripe-Signature header is missing", code="missing_signature")
    body = lambda_event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if lambda_event.get("isBase64Encoded") else body.encode()
    except (binascii.Error, ValueError):
        raise WebhookRejected("the body is not valid base64", code="malformed_body") from None
    try:
        stripe.WebhookSignature.verify_header(raw.decode("utf-8"), signature, secret, SIGNATURE_TOLERANCE_SECONDS)
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise WebhookRejected("the Stripe signature does not verify", code="invalid_signature") from None
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebhookRejected("the body is not JSON", code="malformed_event") from None
    return StripeEvent.from_payload(payload)


class WebhookEndpoint:
    """One Stripe webhook endpoint (one callback function): its signing secret and its rules by event type."""

    def __init__(self, name: str, rules: Mapping[str, EventRule]):
        self.name = name
        self.rules = dict(rules)

    def __call__(self, lambda_event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            event = verify(lambda_event, get_settings().stripe_webhook_secret(self.name))
        except WebhookRejected as error:
            logger.warning("webhook rejected", extra={"code": error.code})
            count("WebhookRejected")
            return _response(400, {"error": {"code": error.code, "message": error.message}})
        except ConfigurationError as error:
            logger.error("webhook endpoint misconfigured", extra={"detail": error.message})
            return _response(500, {"error": {"code": error.code, "message": "the endpoint is misconfigured"}})
        except UpstreamUnavailable as error:
            logger.warning("webhook secret unavailable; Stripe will retry", extra={"detail": error.message})
            return _response(500, {"error": {"code": "try_again", "message": "a transient fault; retry later"}})
        logger.set_correlation_id(event.id)
        logger.append_keys(stripe_event_type=event.type, endpoint=self.name)
        try:
            result = self.process(event)
        except (TransientFailure, UpstreamUnavailable) as error:
            logger.warning("webhook not applied; Stripe will retry", extra={"detail": str(error)})
            return _response(500, {"error": {"code": "try_again", "message": "a transient fault; retry later"}})
        except Exception:
            # Not known to be transient, but answering 500 keeps the event: Stripe retries for 3 days,
            # and the failure is in the logs (with the event id) for the fix.
            logger.exception("webhook failed unexpectedly")
            count("WebhookFailed")
            return _response(500, {"error": {"code": "internal_error", "message": "the event was not applied"}})
        logger.info("webhook handled", extra={"result": result})
        if result == "duplicate":
            count("WebhookDuplicate")
        return _response(200, {"received": True, "result": result})

    def process(self, event: StripeEvent) -> str:
        rule = self.rules.get(event.type)
        subject = rule.prepare(event) if rule is not None else None
        keys = rule.keys(subject) if rule is not None and subject is not None else None
        if rule is None or keys is None:
            return "ignored"
        for _ in range(_ATTEMPTS):
            ledger, *records = store.read_items([(ProcessedEventRecord, event.id), *keys])
            if ledger is not None:
                return "duplicate"
            decision = rule.decide(subject, records)
            if decision is None or not len(decision.transaction):
                return "ignored"
            decision.transaction.create(self._claim(event))
            try:
                decision.transaction.commit()
            except store.WriteConflict:
                continue
            for report in decision.after_commit:
                report()
            return "processed"
        raise TransientFailure(f"event {event.id} kept losing write races")

    def _claim(self, event: StripeEvent) -> ProcessedEventRecord:
        ttl = timedelta(days=get_settings().processed_event_ttl_days)
        return ProcessedEventRecord(event.id, event_type=event.type, endpoint=self.name, processed_at=now_iso(),
                                    expires_at=utc_now() + ttl)


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body, separators=(",", ":"))}

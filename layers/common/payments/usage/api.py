"""``POST /usage`` (admins: the app's backend): a user's usage, sent to Stripe as a Billing Meter event, counted
once however often it is sent.

``{"userId", "meter", "value", "idempotencyKey"}``: ``meter`` is the meter's event name, ``value`` a whole
number. ``UsageAtStripe`` is a ``RecordFirst``:

1. **Reserve**: the report is written first, keyed by a hash of ``idempotencyKey`` (``use_<sha256>``), with the
   user's Stripe customer and the time of the report. A retry (a second call, eight racing ones) finds it: with
   the same ``userId``, ``meter`` and ``value`` it is the same report; with others it is a 422
   ``idempotency_key_reused``.
2. **Call Stripe**: the meter event's ``identifier`` is derived from the same hash (``usage_<sha256>``), and so
   is the request's idempotency key; its ``timestamp`` is the report's own. Stripe counts one identifier once,
   so however many calls reach Stripe for one report (a retry after a timeout, racing requests), the meter
   counts it once. Every parameter is the same on every call, so Stripe's idempotency never sees a conflict.
3. **Record**: the report is ``sent``; a retry of a sent report answers at once, without calling Stripe.
4. **Release**: Stripe refused it (4xx): ``failed`` with Stripe's code, and a retry tries again (a refused event
   was not counted). Stripe unreachable: it stays ``pending`` and a retry sends it again, with the same
   identifier.

The user must have a Stripe customer (they subscribed to a price, metered or not): otherwise a 409
``no_billing_customer``, and nothing is written. 202 with the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.clock import now_iso, parse_iso
from payments.core.errors import ApiError, Conflict, IdempotencyKeyReused
from payments.core.identity import Caller
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import customers as customer_store
from payments.data import usage as usage_store
from payments.data.models import UsageRecord
from payments.record_first import RecordFirst, busy
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeMeterEvent

MAX_VALUE = 10**12


@dataclass(frozen=True)
class UsageReport:
    user_id: str
    meter: str
    value: int
    idempotency_key: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> UsageReport:
        meter = validation.required_text(body, "meter", max_length=100)
        value = validation.integer(body, "value", minimum=0, maximum=MAX_VALUE)
        assert value is not None
        return cls(user_id=str(validation.text(body, "userId", max_length=256, strip=False)), meter=meter,
                   value=value, idempotency_key=str(validation.text(body, "idempotencyKey", max_length=255,
                                                                    strip=False)))

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(f"usage:{self.idempotency_key}".encode()).hexdigest()[:48]

    @property
    def usage_id(self) -> str:
        return f"use_{self.key_hash}"

    @property
    def identifier(self) -> str:
        """The meter event's identifier at Stripe: derived from the caller's key, the same on every retry."""
        return f"usage_{self.key_hash}"

    @property
    def digest(self) -> str:
        said = json.dumps([self.user_id, self.meter, self.value], separators=(",", ":"))
        return hashlib.sha256(said.encode()).hexdigest()


class UsageAtStripe(RecordFirst[UsageRecord, StripeMeterEvent]):
    name = "Usage"

    def __init__(self, report: UsageReport):
        self.report = report

    def reserve(self) -> UsageRecord:
        report = self.report
        existing = usage_store.get(report.usage_id)
        if existing is None:
            customer = customer_store.get(report.user_id)
            if customer is None or not customer.stripe_customer_id:
                raise Conflict("the user has no Stripe customer yet: subscribe them to a price first",
                               code="no_billing_customer")
            now = now_iso()
            existing = UsageRecord(report.usage_id, user_id=report.user_id, meter=report.meter, value=report.value,
                                   identifier=report.identifier, request_digest=report.digest, status="pending",
                                   stripe_customer_id=customer.stripe_customer_id, created_at=now, updated_at=now)
            usage_store.create(existing)  # WriteConflict when a racing request wrote it first: read it then
            count("UsageReported")
        elif existing.request_digest != report.digest:
            raise IdempotencyKeyReused("this idempotencyKey was already used for another usage report")
        return existing

    def record_id(self, record: UsageRecord) -> str:
        return record.usage_id

    def call(self, record: UsageRecord, idempotency_key: str) -> StripeMeterEvent:
        return stripe_api.create_meter_event(
            idempotency_key=idempotency_key, event_name=record.meter, customer_id=record.stripe_customer_id or "",
            value=int(record.value), identifier=record.identifier,
            timestamp=int(parse_iso(record.created_at).timestamp()))

    def record(self, record: UsageRecord, answer: StripeMeterEvent) -> None:
        usage_store.mark(record.usage_id, "sent")
        record.status = "sent"

    def release(self, record: UsageRecord, error: ApiError) -> None:
        if error.status >= 500:
            return  # Stripe may have it: stays pending, and a retry sends the same identifier again
        usage_store.mark(record.usage_id, "failed", failure_code=getattr(error, "stripe_code", None) or error.code)


def report_usage(caller: Caller, report: UsageReport) -> dict[str, Any]:
    """``POST /usage``: the report, sent to Stripe once (202)."""
    caller.require_admin()
    action = UsageAtStripe(report)
    record = retry_on_conflict(action.reserve, busy)
    if record.status != "sent":
        action.complete(record)
        logger.info("usage sent", extra={"usage_id": record.usage_id, "meter": record.meter})
    else:
        count("UsageRepeated")
    return usage_view(record)


def usage_view(record: UsageRecord) -> dict[str, Any]:
    return {"usageId": record.usage_id, "userId": record.user_id, "meter": record.meter, "value": int(record.value),
            "identifier": record.identifier, "status": record.status, "createdAt": record.created_at}

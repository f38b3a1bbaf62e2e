"""The meters' error reports: Stripe's ``v1.billing.meter.error_report_triggered``, a thin event (an event
destination's notification: which meter, not what went wrong), delivered to a Function URL of its own
(``UsageCallbackFunction``, ``UsageCallbackUrl``).

Why an endpoint of its own: thin events come from an event destination (Stripe's v2 events), not from a v1
webhook endpoint like the other callbacks', and each Stripe endpoint here has its own function, URL and signing
secret (so one leaked secret never lets anyone post to another). It is the endpoint that usage needs; a
Connect endpoint would receive the connected accounts' events instead.

For each report (verified like any delivery): the whole event is read from Stripe (``/v2/core/events/{id}``: the
error codes and counts), logged as ``MeterErrorReport`` (meter, count, codes: no customer data) and counted
(metrics ``MeterErrorReports`` and ``MeterEventErrors``, an alarm's input), exactly once: the event id is claimed
in the processed-events ledger, so a redelivery is a ``duplicate`` and counts nothing.
"""

from __future__ import annotations

from typing import Any

from payments.core.config import get_settings
from payments.core.errors import WriteConflict
from payments.core.observability import count, logger
from payments.data import ledger, store
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeMeterErrorReport
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import DUPLICATE, IGNORED, PROCESSED, Decision, EventRule, Records, WebhookEndpoint

ERROR_REPORT = "v1.billing.meter.error_report_triggered"


class MeterErrorReportRule(EventRule[StripeMeterErrorReport]):
    """Reads the report whole from Stripe. It changes no record: the endpoint logs it and counts it once."""

    def read(self, event: StripeEvent) -> StripeMeterErrorReport:
        return stripe_api.retrieve_meter_error_report(event.id)

    def locate(self, event: StripeEvent, subject: StripeMeterErrorReport) -> dict[str, store.Key] | None:
        return None

    def decide(self, event: StripeEvent, subject: StripeMeterErrorReport, records: Records) -> Decision | None:
        return None


class MeterErrorEndpoint(WebhookEndpoint):
    """The usage callback's endpoint: thin ``v1.billing.meter.error_report_triggered`` notifications."""

    payload = "thin"  # an event destination with thin payloads (the local stack registers it so)

    def __init__(self) -> None:
        super().__init__("usage", {ERROR_REPORT: MeterErrorReportRule()})

    def process(self, event: StripeEvent, *, via: str = "webhook") -> str:
        if event.livemode != get_settings().stripe_livemode:
            logger.warning("an event of the other mode", extra={"livemode": event.livemode})
            count("EventWrongMode")
            return IGNORED
        rule = self.rules.get(event.type)
        if rule is None or not event.thin:
            return IGNORED
        if store.get(*ledger.key(event.id)) is not None:
            return DUPLICATE
        report: Any = rule.read(event)
        tx = store.Transaction()
        ledger.claim(tx, event.id, event.type, self.name, via=via)
        try:
            tx.commit()
        except WriteConflict:
            return DUPLICATE  # a concurrent delivery counted it
        logger.error("MeterErrorReport", extra={"meter": report.meter_id or event.object.get("id"),
                                                "error_count": report.error_count, "errors": report.errors})
        count("MeterErrorReports")
        count("MeterEventErrors", report.error_count)
        return PROCESSED

"""The pipeline every Stripe callback runs: one flow, small per-event parts (``EventRule``).

For each delivery:

1. **Verify** the signature over the raw body (``payments.webhooks.event.verify``). A failure re-reads the
   endpoint's signing secret once (a rotated secret) before answering 400; nothing is written.
2. **Screen**: an event of the other mode (``livemode``) or about another Stripe account (``account``) is
   ``ignored`` and counted; so is a type this endpoint does not handle.
3. **Read** the event's object into the rule's typed view (``rule.read``). An object of any unexpected shape is
   ``ignored`` (logged, counted), never a 500; so is one Stripe refuses to tell us more about (a 4xx on a read).
4. **Locate** our records (``rule.locate``): metadata is a hint for finding them, as is a Stripe id on an index;
   nothing found is ``ignored``.
5. **Read** the ledger entry for the event id and those records in one consistent ``TransactGetItems``.
   Already in the ledger: ``duplicate`` (one DynamoDB call in all).
6. **Decide** (``rule.decide``, pure): first the links. An event may change a record only when its Stripe
   object is the one the record is linked to (``require_link``): otherwise it raises ``NotOurs`` and the event
   is ``ignored``, whatever its metadata says. A record that is not linked to any object yet, while we are
   still recording Stripe's answer, raises ``NotLinkedYet`` (500: Stripe retries in a moment). Then the change:
   writes conditioned on the versions read, or nothing (``ignored``: stale by Stripe's clock, nothing new).
7. **Commit** the ledger claim and those writes in one ``TransactWriteItems``: the claim and its effect land
   together or not at all. A lost race goes back to step 5, where a duplicate is recognised as such. Each record
   written carries the event's id (``lastStripeEventId``), which the domain events name as their cause.

Faults a retry can cure answer 500, so Stripe retries; everything else answers 2xx.

The same endpoint takes Stripe's events two more ways, each through ``apply`` (steps 2 to 7, the same rules and
the same ledger, so one event arriving several ways is applied once):

- **EventBridge** (``StripeEventSourceName``): a direct invocation by an EventBridge rule carries the event as
  the envelope's ``detail``, with no signature to check: AWS authenticates the partner event source. Only that
  shape skips the signature: an invocation with ``detail-type``, ``source`` and ``detail`` and no
  ``requestContext`` or ``headers`` (a Function URL request always has ``requestContext.http``, so a body that
  merely looks like an envelope is still an HTTP delivery and needs its signature). An envelope from another
  source is ignored and logged; a transient fault raises, so EventBridge retries it (then its dead-letter queue).
- **The reconciler** (``payments.reconcile``): the events Stripe lists, in Stripe's order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.core import coldstart
from payments.core.config import get_settings
from payments.core.errors import ConfigurationError, TransientFailure, UpstreamUnavailable, WebhookRejected
from payments.core.observability import count, logger, metrics, tracer
from payments.core.retry import retry_on_conflict
from payments.core.validation import is_identifier
from payments.data import ledger, store
from payments.stripe.client import StripeRejected, StripeResourceMissing
from payments.stripe.objects import MalformedObject
from payments.webhooks.event import StripeEvent, from_eventbridge, verify

S = TypeVar("S")  # the Stripe object a rule reads (a payments.stripe.objects view)
M = TypeVar("M")

PROCESSED, DUPLICATE, IGNORED = "processed", "duplicate", "ignored"


class NotOurs(Exception):
    """The event's Stripe object is not the one our record is linked to: it changes nothing."""


class NotLinkedYet(TransientFailure):
    """Our record holds no Stripe id yet (its creator is still recording Stripe's answer): Stripe retries."""


def require_link(ours: str | None, theirs: str | None, what: str) -> None:
    """``NotOurs`` unless our record's Stripe id (``ours``) is the event object's (``theirs``)."""
    if not ours or ours != theirs:
        raise NotOurs(f"the event's {what} is not the one our record holds")


def hinted_ids(metadata: Mapping[str, str], **fields: tuple[str, str]) -> dict[str, str] | None:
    """Our ids as the Stripe object's metadata names them (``payment=("paymentId", "pay_")``): all of them, each
    shaped like an id of ours, or None. A hint for finding records, never proof that the object is theirs."""
    found = {name: metadata.get(key, "") for name, (key, _) in fields.items()}
    if all(is_identifier(found[name], prefix) for name, (_, prefix) in fields.items()):
        return found
    return None


def is_stale(last_event_created: Any, event: StripeEvent) -> bool:
    """Older, by Stripe's clock, than the newest event applied to the record: a late delivery."""
    return event.created < int(last_event_created or 0)


def newest(last_event_created: Any, event: StripeEvent) -> int:
    """The record's new ``lastEventCreated``: Stripe's stamp of the newest event applied (never our clock)."""
    return max(int(last_event_created or 0), event.created)


class Records:
    """The records a rule asked for, by the names it gave them (``None`` where missing)."""

    def __init__(self, found: Mapping[str, Any]):
        self._found = dict(found)

    def get(self, name: str, model: type[M]) -> M | None:
        record = self._found.get(name)
        if record is not None and not isinstance(record, model):
            raise TypeError(f"{name} is a {type(record).__name__}, not a {model.__name__}")
        return record

    def require(self, name: str, model: type[M]) -> M:
        """The record, or ``NotOurs`` when it does not exist (metadata naming a record we do not have)."""
        record = self.get(name, model)
        if record is None:
            raise NotOurs(f"no {name} of ours")
        return record


@dataclass
class Decision:
    """What an event changes: writes to commit with the ledger claim, and what to do once they committed."""

    transaction: store.Transaction = field(default_factory=store.Transaction)
    metrics: list[str] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    _saved: set[int] = field(default_factory=set, init=False, repr=False)

    def save(self, record: Any) -> Decision:
        """Write ``record`` with the claim, conditioned on the version it was read at (once, however often asked)."""
        if id(record) not in self._saved:
            self._saved.add(id(record))
            self.transaction.save(record)
        return self

    @property
    def saved(self) -> list[Any]:
        """The records this decision writes (for reading it, in tests and logs)."""
        return [record for kind, record, *_ in self.transaction.writes if kind == "put"]

    def count(self, metric: str) -> Decision:
        self.metrics.append(metric)
        return self

    def then(self, effect: Callable[[], None]) -> Decision:
        self.after_commit.append(effect)
        return self


class EventRule(ABC, Generic[S]):
    """The per-event part: the typed Stripe object, where our records are, and what the event does to them."""

    @abstractmethod
    def read(self, event: StripeEvent) -> S:
        """The event's object as a typed view (``MalformedObject`` when it has an unexpected shape)."""

    @abstractmethod
    def locate(self, event: StripeEvent, subject: S) -> dict[str, store.Key] | None:
        """Our records the event is about, by name (None: nothing of ours). May use an index or Stripe."""

    @abstractmethod
    def decide(self, event: StripeEvent, subject: S, records: Records) -> Decision | None:
        """The writes the event causes, or None (ignored). Pure: reads nothing; raises ``NotOurs`` when the
        event's object is not the one the records are linked to."""


class WebhookEndpoint:
    """One Stripe webhook endpoint (one callback function): its signing secret and its rules by event type."""

    def __init__(self, name: str, rules: Mapping[str, EventRule[Any]], *, connected_accounts: bool = False):
        self.name = name
        self.rules = dict(rules)
        self.connected_accounts = connected_accounts  # Connect endpoints receive events of other accounts

    def __call__(self, lambda_event: Mapping[str, Any]) -> dict[str, Any]:
        if is_eventbridge_delivery(lambda_event):
            return self._from_eventbridge(lambda_event)
        try:
            event = self._verified(lambda_event)
        except WebhookRejected as error:
            logger.warning("webhook rejected", extra={"code": error.code})
            count("WebhookRejected")
            return _response(400, error.body())
        except ConfigurationError as error:
            logger.error("webhook endpoint misconfigured", extra={"detail": error.message})
            return _server_error(error.code, "the endpoint is misconfigured")
        except UpstreamUnavailable as error:
            logger.warning("webhook secret unavailable; Stripe will retry", extra={"detail": error.message})
            return _server_error("try_again", "a transient fault; retry later")
        self._log_keys(event)
        try:
            result = self.apply(event)
        except (TransientFailure, UpstreamUnavailable) as error:
            logger.warning("webhook not applied; Stripe will retry", extra={"detail": str(error)})
            return _server_error("try_again", "a transient fault; retry later")
        except Exception:
            # A bug, not the event's shape (every field is checked as it is read): answering 500 keeps the event,
            # since Stripe retries for 3 days, and the failure is in the logs with the event id for the fix.
            logger.exception("webhook failed unexpectedly")
            count("WebhookFailed")
            return _server_error("internal_error", "the event was not applied")
        logger.info("webhook handled", extra={"result": result})
        count(RESULT_METRICS[result])
        return _response(200, {"received": True, "result": result})

    def _from_eventbridge(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """An event from Stripe's EventBridge destination: ``{"received", "result"}``, or raises so that
        EventBridge retries it (a transient fault, or a bug: after its retries it lands in the dead-letter queue)."""
        expected = get_settings().stripe_event_source
        if not expected or envelope.get("source") != expected:
            logger.warning("an EventBridge event from a source that is not our Stripe partner source: ignored",
                           extra={"source": str(envelope.get("source"))[:300], "configured": expected or None})
            count("EventBridgeForeignSource")
            return {"received": True, "result": IGNORED}
        try:
            event = from_eventbridge(envelope)
        except WebhookRejected as error:
            logger.warning("an EventBridge event that is not a Stripe event: ignored", extra={"code": error.code})
            count("EventMalformed")
            return {"received": True, "result": IGNORED}
        self._log_keys(event)
        result = self.apply(event, via="eventbridge")  # a transient fault raises: EventBridge retries
        logger.info("EventBridge event handled", extra={"result": result})
        count(RESULT_METRICS[result])
        return {"received": True, "result": result}

    def _log_keys(self, event: StripeEvent) -> None:
        logger.set_correlation_id(event.id)
        logger.append_keys(stripe_event_type=event.type, endpoint=self.name)

    def apply(self, event: StripeEvent, *, via: str = "webhook") -> str:
        """``process``, with what Stripe will not tell us about counted as ``ignored``: the one entry for a
        webhook, an EventBridge event and the reconciler. Raises ``TransientFailure`` / ``UpstreamUnavailable``
        when a retry can help (and anything unexpected)."""
        try:
            return self.process(event, via=via)
        except (StripeRejected, StripeResourceMissing) as error:
            # Stripe will not tell us about the object this event names (no such object, not ours to read):
            # delivering it again would not change that.
            logger.warning("Stripe refused to read what the event names", extra={"code": error.code})
            count("EventNotOurs")
            return IGNORED

    def _verified(self, lambda_event: Mapping[str, Any]) -> StripeEvent:
        settings = get_settings()
        try:
            return verify(lambda_event, settings.stripe_webhook_secret(self.name))
        except (WebhookRejected, ConfigurationError) as error:
            if isinstance(error, WebhookRejected) and error.code != "invalid_signature":
                raise
            # The secret may have been rotated, or first filled in, since this container read it: read it again,
            # once (at most once a minute, so a flood of bad signatures is not a flood of Secrets Manager reads).
            return verify(lambda_event, settings.stripe_webhook_secret(self.name, refresh=True))

    def process(self, event: StripeEvent, *, via: str = "webhook") -> str:
        """Apply one verified event: ``processed``, ``duplicate`` or ``ignored``. ``via`` (webhook, eventbridge,
        reconciler) is kept in the ledger with the claim."""
        settings = get_settings()
        if event.livemode != settings.stripe_livemode:
            logger.warning("an event of the other mode", extra={"livemode": event.livemode})
            count("EventWrongMode")
            return IGNORED
        if event.account is not None and not self.connected_accounts:
            logger.warning("an event about another Stripe account", extra={"account": event.account})
            count("EventForeignAccount")
            return IGNORED
        rule = self.rules.get(event.type)
        if rule is None:
            return IGNORED
        try:
            subject = rule.read(event)
        except MalformedObject as error:
            logger.warning("an event whose object we cannot read", extra={"detail": str(error)})
            count("EventMalformed")
            return IGNORED
        keys = rule.locate(event, subject)
        if not keys:
            logger.info("an event about nothing of ours")
            return IGNORED
        return retry_on_conflict(lambda: self._apply(event, rule, subject, keys, via),
                                 lambda: TransientFailure(f"event {event.id} kept losing write races"))

    def _apply(self, event: StripeEvent, rule: EventRule[S], subject: S, keys: dict[str, store.Key], via: str) -> str:
        claimed, *found = store.read_items([ledger.key(event.id), *keys.values()])
        if claimed is not None:
            return DUPLICATE
        try:
            decision = rule.decide(event, subject, Records(dict(zip(keys, found, strict=True))))
        except NotOurs as why:
            logger.warning("an event about a Stripe object we did not create", extra={"detail": str(why)})
            count("EventNotOurs")
            return IGNORED
        if decision is None or not len(decision.transaction):
            return IGNORED
        decision.transaction.stamp(event.id)  # each record it writes names the event (the domain events' cause)
        ledger.claim(decision.transaction, event.id, event.type, self.name, via=via)
        commit(decision)
        return PROCESSED


def commit(decision: Decision) -> None:
    """Commit ``decision``'s writes in one transaction, then count its metrics and run what follows the commit.
    (The pipeline adds the ledger claim first; the reconciler's settling of stuck records commits without one.)"""
    decision.transaction.commit()
    for metric in decision.metrics:
        count(metric)
    for effect in decision.after_commit:
        effect()


def webhook_handler(endpoint: WebhookEndpoint) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The ``lambda_handler`` of a callback function: logger, metrics and tracer (no response capture) around
    the endpoint."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            return endpoint(event)
        finally:
            coldstart.started()

    return lambda_handler


RESULT_METRICS = {PROCESSED: "WebhookProcessed", DUPLICATE: "WebhookDuplicate", IGNORED: "WebhookIgnored"}


def is_eventbridge_delivery(lambda_event: Mapping[str, Any]) -> bool:
    """A direct invocation by an EventBridge rule: the envelope's keys, and nothing of an HTTP request."""
    return (isinstance(lambda_event, Mapping) and "detail-type" in lambda_event and "source" in lambda_event
            and "detail" in lambda_event and "requestContext" not in lambda_event and "headers" not in lambda_event)


def _server_error(code: str, message: str) -> dict[str, Any]:
    """A 500: Stripe delivers the event again later. Counted (``WebhookServerError``, alarmed)."""
    count("WebhookServerError")
    return _response(500, {"error": {"code": code, "message": message}})


def _response(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body, separators=(",", ":"))}

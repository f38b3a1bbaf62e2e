"""What an app team's consumer function stands on: the EventBridge event as a typed view, handled once per
``eventId``.

Publishing is at least once (a stream batch retried, an EventBridge retry), so the same event can arrive twice.
``domain_event_handler(handle)`` makes ``lambda_handler``: it runs ``handle(event)`` once per ``eventId``, however
often and however concurrently the event is delivered, through Powertools' idempotency utility on the
``IdempotencyTable`` (kept ``KEPT_SECONDS``, longer than EventBridge's 24 hours of retries): a repeat answers what
the first run answered without running it again. An exception is not kept: EventBridge delivers the event again.

``version`` orders events about one entity: keep the highest you applied, and drop an older event arriving late.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from payments.core import aws
from payments.core.config import get_settings
from payments.core.observability import count, logger, metrics, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

KEPT_SECONDS = 48 * 3600


@dataclass(frozen=True)
class DomainEvent:
    """A domain event as a consumer receives it (``detail`` as documented in ``docs/events/``)."""

    detail_type: str
    detail: Mapping[str, Any]

    @classmethod
    def from_eventbridge(cls, event: Mapping[str, Any]) -> DomainEvent:
        detail = event.get("detail")
        if not isinstance(detail, dict) or not isinstance(detail.get("eventId"), str):
            raise ValueError("not a domain event of the payments bus")
        return cls(str(event.get("detail-type") or detail.get("type")), detail)

    @property
    def event_id(self) -> str:
        return str(self.detail["eventId"])

    @property
    def user_id(self) -> str | None:
        return self.detail.get("userId")

    @property
    def version(self) -> int | None:
        return self.detail.get("version")

    @property
    def order(self) -> dict[str, Any] | None:
        return self.detail.get("order")

    @property
    def stripe_event_id(self) -> str | None:
        return (self.detail.get("causedBy") or {}).get("stripeEventId")


def domain_event_handler(handle: Callable[[DomainEvent], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """``lambda_handler`` running ``handle`` once per ``eventId`` (see the module doc)."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        domain_event = DomainEvent.from_eventbridge(event)
        logger.set_correlation_id(domain_event.event_id)
        logger.append_keys(detail_type=domain_event.detail_type)
        return _once(domain_event, handle, context)

    return lambda_handler


def _once(event: DomainEvent, handle: Callable[[DomainEvent], Any], context: Any) -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(event_key_jmespath="eventId", expires_after_seconds=KEPT_SECONDS,
                               raise_on_no_idempotency_key=True, response_hook=_repeated)
    if hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="key", persistence_store=_store(), config=config)  # type: ignore[untyped-decorator]
    def run(key: dict[str, str]) -> Any:
        return handle(event)

    return run(key={"eventId": event.event_id})


@functools.cache
def _store() -> DynamoDBPersistenceLayer:
    """This module's own persistence layer: Powertools configures one on its first use, for one key expression, so
    the HTTP API's (``payments.core.idempotency``) cannot be shared."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    settings = get_settings()
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table,
                                    boto3_client=aws.client("dynamodb", settings.region))


def reset() -> None:
    _store.cache_clear()


def _repeated(response: Any, idempotent_data: DataRecord) -> Any:
    count("DomainEventRepeated")
    logger.info("an event handled before: its first answer again")
    return response

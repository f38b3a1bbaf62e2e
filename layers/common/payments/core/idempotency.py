"""Client retries: ``Idempotency-Key`` on every ``POST`` and ``DELETE`` route, through Powertools' idempotency
utility on a DynamoDB table (``IdempotencyTable``). ``payments.core.http.resolve`` calls ``once`` for a request
that carries the header; this module is imported only then, so other requests pay no cold-start cost for it.

The same key from the same caller on the same method and path, with the same body, within 24 hours answers
what the first request answered (same status, same body, plus ``Idempotent-Replayed: true``), and the work is
done once even when the two race: the first request writes an in-progress record with a conditional put, and
the second finds it. While the first is still running the second is a 409 ``request_in_progress``; the same
key with another body is a 422 ``idempotency_key_reused``. 5xx answers are not kept (a retry can help), nor is a
429 (too many payment attempts: a retry after ``Retry-After`` must run, as Stripe keeps no result of a request
it rate-limited); every other answer is, 4xx included, as Stripe does.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

from payments.core import aws
from payments.core.config import get_settings
from payments.core.errors import BadRequest, IdempotencyKeyReused, RequestInProgress, UpstreamUnavailable
from payments.core.observability import count, logger
from payments.core.validation import is_clean_text

MAX_KEY_LENGTH = 255
KEPT_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Request:
    """What makes two requests the same one: who, where, the key, and (checked, not keyed) the body."""

    caller: str
    method: str
    path: str
    key: Any
    body: Any

    def as_data(self) -> dict[str, str]:
        if not isinstance(self.key, str) or not self.key or len(self.key) > MAX_KEY_LENGTH \
                or not is_clean_text(self.key):
            raise BadRequest(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters of text",
                             code="invalid_idempotency_key")
        digest = hashlib.sha256(json.dumps(self.body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        return {"caller": self.caller, "method": self.method, "path": self.path, "key": self.key, "body": digest}


class _NotKept(Exception):
    """A 5xx or 429 answer: handed back as it is, and its record deleted, so a retry runs again."""

    def __init__(self, response: dict[str, Any]):
        super().__init__(response.get("statusCode"))
        self.response = response


def once(answer: Callable[[], dict[str, Any]], request: Request, context: Any) -> dict[str, Any]:
    """``answer()`` the first time; the kept answer for a repeat. Raises the contract's 409, 422 or 503."""
    config = IdempotencyConfig(event_key_jmespath="[caller, method, path, key]", payload_validation_jmespath="body",
                               expires_after_seconds=KEPT_SECONDS, raise_on_no_idempotency_key=True,
                               response_hook=_replayed)
    if hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="request", persistence_store=_store(), config=config)
    def run(request: dict[str, str]) -> dict[str, Any]:
        response = answer()
        status = int(response.get("statusCode", 500))
        if status >= 500 or status == 429:
            raise _NotKept(response)
        return response

    try:
        return run(request=request.as_data())
    except _NotKept as not_kept:
        return not_kept.response
    except IdempotencyValidationError:
        count("IdempotencyKeyReused")
        raise IdempotencyKeyReused("this Idempotency-Key was already used with another request body") from None
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress("a request with this Idempotency-Key is still running; retry shortly",
                                headers={"Retry-After": "1"}) from None
    except IdempotencyPersistenceLayerError as error:
        logger.warning("idempotency store unavailable", extra={"detail": type(error.__cause__).__name__})
        raise UpstreamUnavailable("the service is busy; try again shortly", code="busy",
                                  headers={"Retry-After": "1"}) from error


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    count("IdempotentReplay")
    return {**response, "headers": {**(response.get("headers") or {}), "Idempotent-Replayed": "true"}}


@functools.cache
def _store() -> DynamoDBPersistenceLayer:
    settings = get_settings()
    return DynamoDBPersistenceLayer(table_name=settings.idempotency_table,
                                    boto3_client=aws.client("dynamodb", settings.region))


def reset() -> None:
    _store.cache_clear()

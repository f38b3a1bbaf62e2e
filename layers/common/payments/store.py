"""Data access: binding models to tables, one-call reads across tables, and transactions.

Every read-decide-write in the product goes through here:

- ``read_items`` reads several records, from any tables, in one ``TransactGetItems`` (a consistent
  snapshot); ``batch_read`` does the same for many records where a snapshot is not needed.
- ``Transaction`` collects writes (each conditioned on the version that was read, or on the record
  not existing yet) and commits them in one ``TransactWriteItems``. A lost race raises ``WriteConflict``;
  the caller reads again and decides again.

DynamoDB faults that a retry can cure become ``UpstreamUnavailable`` (503); anything else is a bug.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from payments.config import Settings, get_settings
from payments.errors import UpstreamUnavailable
from payments.models import (
    CustomerRecord,
    OrderRecord,
    PaymentRecord,
    ProcessedEventRecord,
    RecurringPaymentRecord,
    RefundRecord,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

M = TypeVar("M", bound=Model)
Key = tuple[type[Model], str]

_RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)


class WriteConflict(Exception):
    """A transaction's condition failed: someone else wrote first. Read again, decide again."""


@functools.cache
def _bound(settings: Settings) -> Connection:
    tables = {
        OrderRecord: settings.orders_table,
        PaymentRecord: settings.payments_table,
        RefundRecord: settings.refunds_table,
        RecurringPaymentRecord: settings.recurring_payments_table,
        CustomerRecord: settings.customers_table,
        ProcessedEventRecord: settings.processed_events_table,
    }
    for model, table_name in tables.items():
        model.Meta.table_name = table_name
        model.Meta.region = settings.region
        model._connection = None
    # One Connection (one botocore session and client) for every table: pynamodb would otherwise give each
    # model class its own, and each new session costs ~70 ms of a cold start (docs/performance.md).
    conn = Connection(region=settings.region)
    for model, table_name in tables.items():
        table = model._get_connection()
        conn.add_meta_table(table.connection.get_meta_table(table_name))
        table.connection = conn
    return conn


def connection() -> Connection:
    """The shared connection, created on first use; binds every model to its configured table."""
    return _bound(get_settings())


def reset() -> None:
    """Forget bindings and clients (tests, after the settings change)."""
    _bound.cache_clear()


@contextmanager
def dynamodb_errors() -> Iterator[None]:
    """Translate DynamoDB faults: retryable ones to a 503, the rest re-raised as they are."""
    try:
        yield
    except PynamoDBException as error:
        if error.cause_response_code in _RETRYABLE_CODES or error.cause_response_code is None:
            raise UpstreamUnavailable("the database is busy or unreachable; try again shortly",
                                      code="database_unavailable") from error
        raise


def get(model: type[M], key: str) -> M | None:
    connection()
    with dynamodb_errors():
        try:
            return model.get(key, consistent_read=True)
        except model.DoesNotExist:
            return None


def reload(record: M) -> M:
    """The stored version of ``record`` (after losing a write race); it must still exist."""
    fresh = get(type(record), record._get_hash_range_key_serialized_values()[0])
    if fresh is None:
        raise LookupError(f"{type(record).__name__} vanished while being updated")
    return fresh


def first_in_index(index: Any, hash_key: str | None) -> Any:
    """The first item an index holds under ``hash_key`` (None when there is none, or no key)."""
    if not hash_key:
        return None
    connection()
    with dynamodb_errors():
        for hit in index.query(hash_key, limit=1):
            return hit
    return None


def read_items(keys: Sequence[Key]) -> list[Any]:
    """Several records (``None`` where missing) in one consistent TransactGetItems call."""
    conn = connection()
    with dynamodb_errors():
        with TransactGet(connection=conn) as transaction:
            futures = [transaction.get(model, key) for model, key in keys]
    results: list[Any] = []
    for future, (model, _) in zip(futures, keys, strict=True):
        try:
            results.append(future.get())
        except model.DoesNotExist:
            results.append(None)
    return results


def batch_read(keys: Sequence[Key]) -> dict[Key, Any]:
    """Many records from any tables in one BatchGetItem (more only past 100 keys or when throttled)."""
    conn = connection()
    wanted: dict[str, dict[str, Any]] = {}
    models: dict[str, type[Model]] = {}
    for model, key in dict.fromkeys(keys):
        table = model.Meta.table_name
        models[table] = model
        hash_name = model._hash_key_attribute().attr_name
        wanted.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append({hash_name: {"S": key}})
    found: dict[Key, Any] = {}
    pending = [(table, k) for table, request in wanted.items() for k in request["Keys"]]
    for _ in range(5):
        if not pending:
            break
        chunk, pending = pending[:100], pending[100:]
        request_items: dict[str, Any] = {}
        for table, k in chunk:
            request_items.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(k)
        with dynamodb_errors():
            try:
                response = cast("DynamoDBClient", conn.client).batch_get_item(RequestItems=request_items)
            except Exception as error:  # botocore errors, not yet wrapped by pynamodb
                raise UpstreamUnavailable("the database is busy or unreachable; try again shortly",
                                          code="database_unavailable") from error
        for table, items in response.get("Responses", {}).items():
            model = models[table]
            for item in items:
                record = model.from_raw_data(item)
                found[(model, record._get_hash_range_key_serialized_values()[0])] = record
        for table, request in response.get("UnprocessedKeys", {}).items():
            pending.extend((table, k) for k in request["Keys"])
    if pending:
        raise UpstreamUnavailable("the database is throttling reads; try again shortly", code="database_unavailable")
    return found


class Transaction:
    """Writes that commit together or not at all, each conditioned so a lost race is detected."""

    def __init__(self) -> None:
        self._writes: list[tuple[Model, Condition | None, list[Action] | None]] = []

    def save(self, record: Model, condition: Condition | None = None) -> Transaction:
        """Put the whole record; pynamodb adds ``version = <as read>`` (or "does not exist" when new)."""
        self._writes.append((record, condition, None))
        return self

    def update(self, record: Model, actions: list[Action], condition: Condition | None = None) -> Transaction:
        """Apply ``actions`` to the stored record whatever its version (the version is still bumped, so a
        concurrent read-decide-write of the same record loses its race and decides again).

        ``record`` only needs its key: a key-only instance is fine. (pynamodb adds ``version + 1`` when the
        instance has a version and ``version = 1`` when it has none, which could move a stored version
        backwards; so a missing version is taken as 0 here, and the stored one is incremented.)"""
        version_name = type(record)._version_attribute_name
        if version_name is not None and getattr(record, version_name) is None:
            setattr(record, version_name, 0)
        self._writes.append((record, condition, actions))
        return self

    def create(self, record: Model) -> Transaction:
        """Put a record that must not exist yet (for models without a version, e.g. the event ledger)."""
        hash_key = type(record)._hash_key_attribute()
        self._writes.append((record, hash_key.does_not_exist(), None))
        return self

    def __len__(self) -> int:
        return len(self._writes)

    def commit(self) -> None:
        if not self._writes:
            return
        conn = connection()
        with dynamodb_errors():
            try:
                with TransactWrite(connection=conn) as transaction:
                    for record, condition, actions in self._writes:
                        if actions is None:
                            transaction.save(record, condition=condition)
                        else:
                            transaction.update(record, list(actions), condition=condition,
                                               add_version_condition=False)
            except TransactWriteError as error:
                reasons = {reason.code for reason in error.cancellation_reasons if reason is not None}
                if reasons & {"ConditionalCheckFailed", "TransactionConflict"}:
                    raise WriteConflict(str(sorted(reasons))) from error
                raise

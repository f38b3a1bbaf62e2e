"""DynamoDB through pynamodb: tables bound once, reads across tables, single-item writes and transactions.

The repositories (``payments.data.orders`` ...) build their expressions on these; nothing outside
``payments.data`` touches pynamodb or a table.

- ``bind()`` points every model at its table from the settings, on the container's one connection
  (``payments.core.aws``). Every operation here binds first, so it happens exactly once per container.
- ``read_items`` reads several records, from any tables, in one ``TransactGetItems`` (a consistent snapshot);
  ``batch_read`` reads many in ``BatchGetItem`` calls of up to 100 keys, however many there are.
- A change to one record is one conditional ``PutItem`` (``put``, ``create``), ``UpdateItem`` (``update``) or
  ``DeleteItem`` (``delete``);
  ``Transaction`` commits changes to several records together in one ``TransactWriteItems``. Each write is
  conditioned (on the version that was read, on a status, or on the record not existing yet); a lost race
  raises ``WriteConflict``, and the caller reads again and decides again (``payments.core.retry``).

DynamoDB faults that a retry can cure become ``UpstreamUnavailable`` (503); anything else is a bug.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, PynamoDBException, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from payments.core import aws
from payments.core.config import Settings, get_settings
from payments.core.errors import UpstreamUnavailable, WriteConflict
from payments.data.models import STRIPE_EVENT_STAMP, TABLES

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

M = TypeVar("M", bound=Model)
Key = tuple[type[Model], str]

BATCH_SIZE = 100  # BatchGetItem's limit
_UNPROCESSED_ROUNDS = 5  # rounds of retrying keys DynamoDB left unprocessed (throttling), per call

_RETRYABLE_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "InternalServerError",
    "ServiceUnavailable", "TransactionInProgressException",
})
_CONFLICT_CODES = frozenset({"ConditionalCheckFailedException", "ConditionalCheckFailed", "TransactionConflict"})


@functools.cache
def _bind(settings: Settings) -> Connection:
    conn = aws.dynamodb(settings.region)
    added: set[str] = set()
    for model, setting in TABLES.items():
        table_name = getattr(settings, setting)
        model.Meta.table_name = table_name
        model.Meta.region = settings.region
        model._connection = None
        # every model on the one connection: pynamodb would otherwise give each its own botocore session
        table = model._get_connection()
        if table_name not in added:  # several models may share a table (MetricsTable)
            conn.add_meta_table(table.connection.get_meta_table(table_name))
            added.add(table_name)
        table.connection = conn
    return conn


def bind() -> Connection:
    """Every model bound to its configured table, on the container's one connection (once per settings)."""
    return _bind(get_settings())


def reset() -> None:
    """Forget bindings (tests, and the local stack after the settings change)."""
    _bind.cache_clear()


def unavailable() -> UpstreamUnavailable:
    return UpstreamUnavailable("the database is busy or unreachable; try again shortly", code="database_unavailable")


@contextmanager
def dynamodb_errors() -> Iterator[None]:
    """Translate DynamoDB faults: retryable ones to a 503, lost conditions to ``WriteConflict``."""
    try:
        yield
    except TransactWriteError as error:
        reasons = {reason.code for reason in (error.cancellation_reasons or []) if reason is not None}
        if reasons & _CONFLICT_CODES:
            raise WriteConflict(str(sorted(reasons))) from error
        if error.cause_response_code in _RETRYABLE_CODES or error.cause_response_code is None:
            raise unavailable() from error
        raise
    except (PutError, UpdateError, DeleteError) as error:
        if error.cause_response_code in _CONFLICT_CODES:
            raise WriteConflict(error.cause_response_code or "") from error
        if error.cause_response_code in _RETRYABLE_CODES or error.cause_response_code is None:
            raise unavailable() from error
        raise
    except PynamoDBException as error:
        if error.cause_response_code in _RETRYABLE_CODES or error.cause_response_code is None:
            raise unavailable() from error
        raise


# --- reads -------------------------------------------------------------------------------------------------


def get(model: type[M], key: str) -> M | None:
    bind()
    with dynamodb_errors():
        try:
            return model.get(key, consistent_read=True)
        except model.DoesNotExist:
            return None


def first_in_index(index: Any, hash_key: str | None) -> Any:
    """The first item an index holds under ``hash_key`` (None when there is none, or no key)."""
    if not hash_key:
        return None
    bind()
    with dynamodb_errors():
        for hit in index.query(hash_key, limit=1):
            return hit
    return None


def query_page(index: Any, hash_key: str, *, limit: int, newest_first: bool, start: dict[str, Any] | None) -> list[Any]:
    """Up to ``limit`` items under ``hash_key`` in one Query."""
    bind()
    with dynamodb_errors():
        return list(index.query(hash_key, scan_index_forward=not newest_first, limit=limit, page_size=limit,
                                last_evaluated_key=start))


def get_item(model: type[M], hash_key: str, range_key: str) -> M | None:
    """A record of a table with a composite key (consistent read)."""
    bind()
    with dynamodb_errors():
        try:
            return model.get(hash_key, range_key, consistent_read=True)
        except model.DoesNotExist:
            return None


def query_range(model: type[M], hash_key: str, range_key_condition: Condition) -> list[M]:
    """Every item under ``hash_key`` matching ``range_key_condition``, in key order: one Query while the answer is
    under DynamoDB's 1 MB page (further pages are read if it is not). Eventually consistent."""
    bind()
    with dynamodb_errors():
        return list(model.query(hash_key, range_key_condition))


def query_before(index: Any, hash_key: str, range_condition: Condition, *, limit: int) -> list[Any]:
    """Up to ``limit`` items under ``hash_key`` whose range key meets ``range_condition``, in its order: one Query."""
    bind()
    with dynamodb_errors():
        return list(index.query(hash_key, range_condition, limit=limit, page_size=limit))


def query_all(index: Any, hash_key: str, *, page_size: int = 100) -> list[Any]:
    """Everything an index holds under ``hash_key``, in as many Queries (pages) as it takes."""
    bind()
    with dynamodb_errors():
        return list(index.query(hash_key, page_size=page_size))


def read_items(keys: Sequence[Key]) -> list[Any]:
    """Several records (``None`` where missing) in one consistent TransactGetItems call."""
    conn = bind()
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
    """Records from any tables, by key, in BatchGetItem calls of up to 100 keys: as many calls as the keys
    need, so no number of keys can make it fail. Keys DynamoDB leaves unprocessed (throttling) are asked for
    again a bounded number of times, then it is a 503."""
    conn = bind()
    client = cast("DynamoDBClient", conn.client)
    models = {model.Meta.table_name: model for model, _ in keys}
    wanted: list[tuple[str, dict[str, Any]]] = [
        (model.Meta.table_name, {model._hash_key_attribute().attr_name: {"S": key}})
        for model, key in dict.fromkeys(keys)]
    found: dict[Key, Any] = {}
    for start in range(0, len(wanted), BATCH_SIZE):
        pending = wanted[start:start + BATCH_SIZE]
        for _ in range(_UNPROCESSED_ROUNDS):
            request: dict[str, Any] = {}
            for table, key in pending:
                request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
            try:
                response = client.batch_get_item(RequestItems=request)
            except Exception as error:  # botocore's errors, not wrapped by pynamodb on this path
                raise unavailable() from error
            for table, items in response.get("Responses", {}).items():
                for item in items:
                    record = models[table].from_raw_data(item)
                    found[(models[table], record._get_hash_range_key_serialized_values()[0])] = record
            pending = [(table, key) for table, request_ in response.get("UnprocessedKeys", {}).items()
                       for key in request_["Keys"]]
            if not pending:
                break
        if pending:
            raise UpstreamUnavailable("the database is throttling reads; try again shortly",
                                      code="database_unavailable")
    return found


def reload(record: M) -> M:
    """The stored version of ``record`` (after losing a write race); it must still exist."""
    fresh = get(type(record), record._get_hash_range_key_serialized_values()[0])
    if fresh is None:
        raise LookupError(f"{type(record).__name__} vanished while being updated")
    return fresh


# --- single-item writes --------------------------------------------------------------------------------------


def put(record: Model, condition: Condition | None = None) -> None:
    """Write the whole record; pynamodb adds ``version = <as read>`` (or "does not exist" when it is new)."""
    bind()
    with dynamodb_errors():
        record.save(condition=condition)


def create(record: Model) -> None:
    """Write a record that must not exist yet (for models without a version)."""
    put(record, type(record)._hash_key_attribute().does_not_exist())


def update(record: Model, actions: Sequence[Action], condition: Condition | None = None) -> None:
    """Apply ``actions`` to the stored record, whatever its version (which is still bumped, so a concurrent
    read-decide-write of the same record loses its race). ``record`` only needs its key; after the call it
    holds the stored item as updated."""
    bind()
    _prepare_update(record)
    with dynamodb_errors():
        record.update(list(actions), condition=condition, add_version_condition=False)


def delete(record: Model, condition: Condition | None = None) -> None:
    """Delete the record (a versioned one only at the version it was read at; one without a version whatever it
    holds, and nothing to delete is not an error), with ``condition``."""
    bind()
    with dynamodb_errors():
        record.delete(condition=condition)


def _prepare_update(record: Model) -> None:
    # pynamodb adds ``version + 1`` when the instance has a version and ``version = 1`` when it has none, which
    # could move a stored version backwards: a missing version is taken as 0, so the stored one is incremented.
    version_name = type(record)._version_attribute_name
    if version_name is not None and getattr(record, version_name) is None:
        setattr(record, version_name, 0)


class Transaction:
    """Writes to several records that commit together or not at all, each conditioned so a lost race shows."""

    def __init__(self) -> None:
        self._writes: list[tuple[str, Model, Condition | None, list[Action] | None]] = []

    def save(self, record: Model, condition: Condition | None = None) -> Transaction:
        """Put the whole record; pynamodb adds ``version = <as read>`` (or "does not exist" when new)."""
        self._writes.append(("put", record, condition, None))
        return self

    def update(self, record: Model, actions: Sequence[Action], condition: Condition | None = None) -> Transaction:
        """As ``payments.data.store.update``, inside the transaction."""
        _prepare_update(record)
        self._writes.append(("update", record, condition, list(actions)))
        return self

    def create(self, record: Model) -> Transaction:
        """Put a record that must not exist yet (for models without a version, e.g. the event ledger)."""
        self._writes.append(("put", record, type(record)._hash_key_attribute().does_not_exist(), None))
        return self

    def delete(self, record: Model, condition: Condition | None = None) -> Transaction:
        """Delete the record (as read: a versioned record only at the version read), with ``condition``."""
        self._writes.append(("delete", record, condition, None))
        return self

    def check(self, record: Model, condition: Condition) -> Transaction:
        """Commit only while ``condition`` holds on ``record`` (which is not written)."""
        self._writes.append(("check", record, condition, None))
        return self

    def stamp(self, stripe_event_id: str) -> Transaction:
        """Mark every record this transaction writes as changed by the Stripe event ``stripe_event_id``
        (``models.STRIPE_EVENT_STAMP``, on the models that keep it): the event publisher's ``causedBy``."""
        for kind, record, _, actions in self._writes:
            attribute = getattr(type(record), STRIPE_EVENT_STAMP, None)
            if attribute is None or kind == "check":
                continue
            if kind == "put":
                setattr(record, STRIPE_EVENT_STAMP, stripe_event_id)
            elif actions is not None:
                actions.append(attribute.set(stripe_event_id))
        return self

    @property
    def writes(self) -> list[tuple[str, Model, Condition | None, list[Action] | None]]:
        return list(self._writes)

    def __len__(self) -> int:
        return sum(1 for kind, *_ in self._writes if kind != "check")

    def commit(self) -> None:
        if not self._writes:
            return
        if len(self._writes) == 1 and self._writes[0][0] != "check":
            kind, record, condition, actions = self._writes[0]  # one record: one single-item write, half the cost
            if kind == "put":
                put(record, condition)
            elif kind == "delete":
                delete(record, condition)
            else:
                update(record, actions or [], condition)
            return
        conn = bind()
        with dynamodb_errors():
            with TransactWrite(connection=conn) as transaction:
                for kind, record, condition, actions in self._writes:
                    if kind == "put":
                        transaction.save(record, condition=condition)
                    elif kind == "update":
                        transaction.update(record, actions or [], condition=condition, add_version_condition=False)
                    elif kind == "delete":
                        transaction.delete(record, condition=condition)
                    else:
                        transaction.condition_check(type(record), record._get_hash_range_key_serialized_values()[0],
                                                    condition=condition)

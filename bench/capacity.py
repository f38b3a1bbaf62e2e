"""DynamoDB capacity per request: what DynamoDB would charge (read and write request units, on-demand), next to
what the answer reports.

``bench/run.py`` calls ``CapacityMeter.call`` around every DynamoDB request any botocore client makes (boto3's and
pynamodb's alike: the recorder wraps ``BaseClient._make_api_call``). It

1. asks for ``ReturnConsumedCapacity=INDEXES`` and keeps what the answer reports (``reported``), then gives the
   caller the answer it asked for (the ``ConsumedCapacity`` it requested, or none), so the product and the
   recording the cold-start probe replays see what DynamoDB would have sent them;
2. computes the units DynamoDB charges (``read``, ``write``) from the items involved, read from moto's store
   before and after the request, by DynamoDB's published rules:

   - item size: attribute names plus values (strings and binaries by bytes, numbers 1 byte per two significant
     digits + 1, booleans and nulls 1, lists and maps 3 + 1 per element + their elements);
   - reads: 1 unit per 4 KB, rounded up per item (``GetItem``, each key of ``BatchGetItem``, a missing item
     included) or over the whole page (``Query``); half that when eventually consistent (every index
     ``Query``); twice that in ``TransactGetItems``;
   - writes: 1 unit per 1 KB of the larger of the item before and after, rounded up per item (a failed
     condition is charged on the stored item); twice that in ``TransactWriteItems``, where a
     ``ConditionCheck`` is charged as a transactional read of its item;
   - global secondary indexes: a write that puts an item into an index, or removes it, costs 1 unit per 1 KB
     of the index entry (keys + projected attributes); one that changes the entry's key costs both; one that
     changes only projected attributes costs 1 per KB of the larger entry; one that leaves the entry as it was
     costs nothing. Index writes are counted as standard writes, also inside a transaction.

moto (5.2) does not compute capacity: it answers constants (``GetItem`` 0.5, ``UpdateItem`` 0.5, ``PutItem`` 1,
``Query`` 1, ``BatchGetItem`` 1 per key, ``TransactGetItems`` 2 per item found, ``TransactWriteItems`` nothing),
whatever the items' sizes, consistency or indexes. The report therefore uses the computed units and shows, per
DynamoDB operation, how moto's figures compare (``compare``).
"""

from __future__ import annotations

import base64
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
OPERATIONS_WITH_CAPACITY = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems",
})


# --- item sizes -------------------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    mantissa = text.lstrip("+-").lower().split("e")[0]
    digits = mantissa.replace(".", "").strip("0")  # leading and trailing zeroes are trimmed
    return math.ceil(len(digits) / 2) + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, bytes | bytearray) else len(base64.b64decode(value))


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value in DynamoDB's typed form (``{"S": ...}``, ``{"N": ...}``, ...)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return _binary_size(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(_binary_size(v) for v in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return units * (2 if transactional else 1) * (1 if consistent or transactional else 0.5)


def write_units(size: int, *, transactional: bool = False) -> float:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2 if transactional else 1)


# --- tables -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    included: tuple[str, ...] = ()

    def entry(self, item: dict[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The item's entry in this index (None when the item is not in it: an index key is missing)."""
        if not item or any(key not in item for key in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = {*self.keys, *table_keys, *(self.included if self.projection == "INCLUDE" else ())}
        return {name: value for name, value in item.items() if name in names}


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    @classmethod
    def from_definition(cls, definition: dict[str, Any]) -> Table:
        indexes = []
        for gsi in definition.get("GlobalSecondaryIndexes", []):
            projection = gsi.get("Projection", {})
            keys = tuple(k["AttributeName"] for k in gsi["KeySchema"])
            indexes.append(Index(gsi["IndexName"], keys, projection.get("ProjectionType", "ALL"),
                                 tuple(projection.get("NonKeyAttributes", ()))))
        return cls(definition["TableName"], tuple(k["AttributeName"] for k in definition["KeySchema"]),
                   tuple(indexes))

    def index_writes(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, float]:
        """Write units each index is charged for one item going from ``before`` to ``after``."""
        charged = {}
        for index in self.indexes:
            old, new = index.entry(before, self.keys), index.entry(after, self.keys)
            if old == new:  # not in the index before nor after, or the same entry
                continue
            if old is None or new is None:
                units = write_units(item_size(old or new))
            elif any(old[k] != new[k] for k in index.keys):
                units = write_units(item_size(old)) + write_units(item_size(new))
            else:
                units = write_units(max(item_size(old), item_size(new)))
            charged[index.name] = units
        return charged


# --- one request ------------------------------------------------------------------------------------------------


@dataclass
class Capacity:
    """What one request costs: computed read and write units (per table and index), and what the answer said."""

    read: float = 0.0
    write: float = 0.0
    by_target: dict[str, dict[str, float]] = field(default_factory=dict)  # "Table" or "Table/index" -> {read, write}
    reported: float | None = None  # CapacityUnits summed over the answer's ConsumedCapacity (None: none in it)

    def add(self, target: str, *, read: float = 0.0, write: float = 0.0) -> None:
        self.read += read
        self.write += write
        entry = self.by_target.setdefault(target, {"read": 0.0, "write": 0.0})
        entry["read"] += read
        entry["write"] += write

    def as_dict(self) -> dict[str, Any]:
        return {"read": self.read, "write": self.write, "by_target": self.by_target, "reported": self.reported}


def _reported(answer: dict[str, Any]) -> float | None:
    consumed = answer.get("ConsumedCapacity")
    if consumed is None:
        return None
    entries = consumed if isinstance(consumed, list) else [consumed]
    return float(sum(entry.get("CapacityUnits", 0) for entry in entries))


def _as_asked(answer: dict[str, Any], asked: str | None) -> None:
    """The answer's ConsumedCapacity as the caller asked for it (TOTAL: per table; none: removed)."""
    consumed = answer.get("ConsumedCapacity")
    if consumed is None:
        return
    if asked not in ("TOTAL", "INDEXES"):
        del answer["ConsumedCapacity"]
    elif asked == "TOTAL":
        keep = ("TableName", "CapacityUnits", "ReadCapacityUnits", "WriteCapacityUnits")
        trim = lambda entry: {k: v for k, v in entry.items() if k in keep}  # noqa: E731
        answer["ConsumedCapacity"] = [trim(e) for e in consumed] if isinstance(consumed, list) else trim(consumed)


class CapacityMeter:
    """Computes each DynamoDB request's capacity from moto's stored items (see the module doc)."""

    def __init__(self, definitions: dict[str, dict[str, Any]]):
        self.tables = {name: Table.from_definition(d) for name, d in definitions.items()}

    # moto's store, read directly: no request, so nothing is recorded or counted
    @staticmethod
    def _stored(region: str, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)][region]
        item = backend.get_item(table, key)
        return None if item is None else item.to_json()["Attributes"]

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.tables[table].keys}

    def call(self, operation: str, params: dict[str, Any], region: str,
             send: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[dict[str, Any], Capacity]:
        """Send ``params`` (with ``ReturnConsumedCapacity=INDEXES``) through ``send``; the answer as asked, and
        the request's capacity. A ``ClientError`` is raised again after the capacity is attached to it as
        ``error.bench_capacity``."""
        if operation not in OPERATIONS_WITH_CAPACITY:
            return send(params), Capacity()
        asked = params.get("ReturnConsumedCapacity")
        writes = self._writes(operation, params)
        before = [self._stored(region, table, key) for table, key, _ in writes]
        try:
            answer = send({**params, "ReturnConsumedCapacity": "INDEXES"})
        except Exception as error:
            failed = Capacity()
            if writes:  # a write whose condition failed is charged on the stored item, which is left as it was
                self._charge_writes(failed, operation, writes, before, before)
            error.bench_capacity = failed  # type: ignore[attr-defined]
            raise
        capacity = Capacity(reported=_reported(answer))
        _as_asked(answer, asked)
        if writes:
            after = [self._stored(region, table, key) for table, key, _ in writes]
            self._charge_writes(capacity, operation, writes, before, after)
        else:
            self._charge_reads(capacity, operation, params, answer, region)
        return answer, capacity

    # --- writes -------------------------------------------------------------------------------------------------

    def _writes(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, kind) of every item the request writes or checks."""
        if operation == "PutItem":
            return [(params["TableName"], self._key(params["TableName"], params["Item"]), "Put")]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], operation.removesuffix("Item"))]
        if operation == "TransactWriteItems":
            found = []
            for entry in params["TransactItems"]:
                (kind, action), = entry.items()
                key = self._key(action["TableName"], action["Item"]) if kind == "Put" else action["Key"]
                found.append((action["TableName"], key, kind))
            return found
        if operation == "BatchWriteItem":
            found = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        found.append((table, self._key(table, request["PutRequest"]["Item"]), "Put"))
                    else:
                        found.append((table, request["DeleteRequest"]["Key"], "Delete"))
            return found
        return []

    def _charge_writes(self, capacity: Capacity, operation: str, writes: list[tuple[str, dict[str, Any], str]],
                       before: list[dict[str, Any] | None], after: list[dict[str, Any] | None]) -> None:
        transactional = operation == "TransactWriteItems"
        for (table, _, kind), old, new in zip(writes, before, after, strict=True):
            if kind == "ConditionCheck":
                capacity.add(table, read=read_units(item_size(old), consistent=True, transactional=True))
                continue
            capacity.add(table, write=write_units(max(item_size(old), item_size(new)), transactional=transactional))
            for index, units in self.tables[table].index_writes(old, new).items():
                capacity.add(f"{table}/{index}", write=units)

    # --- reads --------------------------------------------------------------------------------------------------

    def _charge_reads(self, capacity: Capacity, operation: str, params: dict[str, Any], answer: dict[str, Any],
                      region: str) -> None:
        if operation == "GetItem":
            table = params["TableName"]
            stored = self._stored(region, table, params["Key"])
            capacity.add(table, read=read_units(item_size(stored), consistent=bool(params.get("ConsistentRead"))))
        elif operation == "BatchGetItem":
            unprocessed = answer.get("UnprocessedKeys") or {}
            for table, request in params["RequestItems"].items():
                skipped = (unprocessed.get(table) or {}).get("Keys") or []
                for key in request["Keys"]:
                    if key in skipped:
                        continue
                    stored = self._stored(region, table, key)
                    capacity.add(table, read=read_units(item_size(stored),
                                                        consistent=bool(request.get("ConsistentRead"))))
        elif operation == "TransactGetItems":
            for entry in params["TransactItems"]:
                get = entry["Get"]
                stored = self._stored(region, get["TableName"], get["Key"])
                capacity.add(get["TableName"], read=read_units(item_size(stored), consistent=True, transactional=True))
        elif operation in ("Query", "Scan"):
            # The page's items (index entries for an index), summed, then rounded up once. Without a filter, the
            # items read are the items returned.
            table, index = params["TableName"], params.get("IndexName")
            size = sum(item_size(item) for item in answer.get("Items", []))
            target = f"{table}/{index}" if index else table
            capacity.add(target, read=read_units(size, consistent=bool(params.get("ConsistentRead"))))


# --- the report's comparison --------------------------------------------------------------------------------------


def compare(calls: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per DynamoDB operation: calls, computed units, and moto's reported units (summed), for the report."""
    summary: dict[str, dict[str, Any]] = {}
    for call in calls:
        capacity = call.get("capacity")
        if call.get("service") != "dynamodb" or capacity is None:
            continue
        row = summary.setdefault(call["operation"], {"calls": 0, "read": 0.0, "write": 0.0, "reported": 0.0,
                                                     "unreported": 0, "agree": 0})
        row["calls"] += 1
        row["read"] += capacity["read"]
        row["write"] += capacity["write"]
        if capacity["reported"] is None:
            row["unreported"] += 1
        else:
            row["reported"] += capacity["reported"]
            if math.isclose(capacity["reported"], capacity["read"] + capacity["write"]):
                row["agree"] += 1
    return summary

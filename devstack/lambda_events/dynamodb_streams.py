"""DynamoDB Streams events as Lambda's event source mapping delivers them (``{"Records": [...]}``).

* :func:`stream_lambda_event`: records as ``GetRecords`` answers them (the local stack reads them from moto's
  stream), completed with what Lambda adds: ``eventSourceARN`` (the stream), ``awsRegion``.
* :func:`stream_record`: one record from plain values (samples, tests), images in DynamoDB's JSON.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from devstack.lambda_events.common import ACCOUNT_ID, REGION

STREAM_LABEL = "2026-11-01T10:00:00.000"


def stream_arn(table: str, label: str = STREAM_LABEL, region: str = REGION, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"


def attribute_value(value: Any) -> dict[str, Any]:
    """A plain value in DynamoDB's JSON (``{"S": ...}``, ``{"N": ...}``, ...)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(k): attribute_value(v) for k, v in value.items()}}
    if isinstance(value, Sequence):
        return {"L": [attribute_value(v) for v in value]}
    raise TypeError(f"no DynamoDB type for {type(value).__name__}")


def image(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: attribute_value(value) for name, value in item.items() if value is not None}


def stream_record(table: str, keys: Mapping[str, Any], old: Mapping[str, Any] | None, new: Mapping[str, Any] | None,
                  *, sequence_number: str, created: float, event_id: str) -> dict[str, Any]:
    """One record of ``table``'s stream (NEW_AND_OLD_IMAGES), as ``GetRecords`` answers it."""
    name = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
    stream: dict[str, Any] = {"ApproximateCreationDateTime": created, "Keys": image(keys),
                              "SequenceNumber": sequence_number, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if new is not None:
        stream["NewImage"] = image(new)
    if old is not None:
        stream["OldImage"] = image(old)
    stream["SizeBytes"] = len(repr(stream))
    return {"eventID": event_id, "eventName": name, "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": REGION, "dynamodb": stream, "eventSourceARN": stream_arn(table)}


def stream_lambda_event(records: Sequence[Mapping[str, Any]], arn: str) -> dict[str, Any]:
    """The event Lambda delivers for ``records`` of the stream ``arn`` (GetRecords' shape, times as epoch
    seconds)."""
    delivered = []
    for record in records:
        stream = dict(record.get("dynamodb") or {})
        created = stream.get("ApproximateCreationDateTime")
        if created is not None and not isinstance(created, int | float):
            stream["ApproximateCreationDateTime"] = float(created.timestamp())  # botocore gives a datetime
        delivered.append({"eventID": record.get("eventID"), "eventName": record.get("eventName"),
                          "eventVersion": record.get("eventVersion") or "1.1", "eventSource": "aws:dynamodb",
                          "awsRegion": record.get("awsRegion") or REGION, "dynamodb": stream,
                          "eventSourceARN": arn})
    return {"Records": delivered}

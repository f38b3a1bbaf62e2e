"""DynamoDB Streams event source mappings for the local stack, read from ``template.yaml`` and run as Lambda runs
them.

Every ``Type: DynamoDB`` event of a function in the template becomes a :class:`StreamMapping`: the table whose
stream it reads, ``BatchSize``, ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts``,
``FunctionResponseTypes: [ReportBatchItemFailures]`` and ``DestinationConfig.OnFailure`` (an SQS queue of the
template). A :class:`StreamConsumer` delivers the stream's records in order, a batch at a time, as Lambda does
(https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html):

* the handler returns ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}]}``: the batch is
  retried from the lowest one reported (an empty list, or none, is success); an exception, or an identifier that
  is not in the batch, fails the whole batch;
* with ``BisectBatchOnFunctionError`` a failed batch is split in two and each half retried, so a poison record
  ends up alone;
* after ``MaximumRetryAttempts`` retries (-1: until the stream forgets the record) the batch's description, in
  Lambda's on-failure format (``DDBStreamBatchInfo``), goes to the ``OnFailure`` queue, and the mapping goes on.

Where the records come from is a :class:`StreamReader`: the local stack reads moto's server through the DynamoDB
Streams API (:class:`StreamsApiReader`); a test may read moto's in-process tables. Each delivery is one line of
the stack's log.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from devstack.lambda_events.common import ACCOUNT_ID, REGION
from devstack.lambda_events.dynamodb_streams import stream_lambda_event
from devstack.local_functions import function_events

Record = Mapping[str, Any]


@dataclass(frozen=True)
class StreamMapping:
    function: str
    table: str
    batch_size: int = 100
    bisect: bool = False
    max_retries: int = -1
    report_item_failures: bool = False
    on_failure_queue: str | None = None
    name: str = ""


def read_stream_mappings(template: Mapping[str, Any]) -> list[StreamMapping]:
    """Every DynamoDB Streams event source of the template's functions."""
    mappings = []
    for function, event, props in function_events(template, "DynamoDB"):
        on_failure = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        retries = props.get("MaximumRetryAttempts")
        mappings.append(StreamMapping(
            function=function, table=str(props.get("Stream")), batch_size=int(props.get("BatchSize") or 100),
            bisect=bool(props.get("BisectBatchOnFunctionError")),
            max_retries=-1 if retries in (None, "") else int(retries),
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            on_failure_queue=str(on_failure) if on_failure else None, name=f"{function}.{event}"))
    return mappings


class StreamReader(Protocol):
    def stream_arn(self, table: str) -> str: ...

    def read(self, table: str, after: str | None, limit: int) -> list[Record]:
        """Up to ``limit`` records of ``table``'s stream after the sequence number ``after`` (None: from the
        start), oldest first."""


class StreamsApiReader:
    """Records through the DynamoDB Streams API (``DescribeStream``, ``GetShardIterator``, ``GetRecords``).

    moto's iterators hold on to the shard object that a rolled-back transaction replaces, so each read asks for a
    fresh iterator after the last sequence number seen: it always reads the table's current stream."""

    def __init__(self, dynamodb: Any, streams: Any):
        self.dynamodb, self.streams = dynamodb, streams
        self._shards: dict[str, tuple[str, str]] = {}

    def _shard(self, table: str) -> tuple[str, str]:
        if table not in self._shards:
            arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
            self._shards[table] = (arn, shard)
        return self._shards[table]

    def stream_arn(self, table: str) -> str:
        return self._shard(table)[0]

    def read(self, table: str, after: str | None, limit: int) -> list[Record]:
        arn, shard = self._shard(table)
        where = ({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after} if after
                 else {"ShardIteratorType": "TRIM_HORIZON"})
        iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, **where)["ShardIterator"]
        return list(self.streams.get_records(ShardIterator=iterator, Limit=limit).get("Records") or [])


Invoke = Callable[[dict[str, Any]], Any]
DeadLetter = Callable[[str, dict[str, Any]], None]


class StreamConsumer:
    """One mapping: its position in the stream, and Lambda's delivery rules (see the module doc)."""

    def __init__(self, mapping: StreamMapping, reader: StreamReader, invoke: Invoke, dead_letter: DeadLetter,
                 log: Callable[[str], None] = print):
        self.mapping, self.reader, self.invoke, self.dead_letter, self.log = mapping, reader, invoke, dead_letter, log
        self.position: str | None = None
        self.delivered = 0

    def poll(self) -> int:
        """Deliver what the stream has after the position, a batch at a time; the number of records read."""
        total = 0
        while True:
            records = self.reader.read(self.mapping.table, self.position, self.mapping.batch_size)
            if not records:
                return total
            self._deliver(records, 0)
            self.position = _sequence(records[-1])
            total += len(records)

    def _deliver(self, records: list[Record], attempt: int) -> None:
        mapping = self.mapping
        while records:
            started = time.monotonic()
            failed_from, why = self._invoke(records)
            took = (time.monotonic() - started) * 1000
            head = f"STREAM {mapping.table} {len(records)} record(s) -> {mapping.function}"
            if failed_from is None:
                self.log(f"{head} ok {took:.0f}ms")
                self.delivered += len(records)
                return
            self.delivered += failed_from
            records = records[failed_from:]
            attempt += 1
            if 0 <= mapping.max_retries < attempt:
                self.log(f"{head} {why}: retries exhausted, {len(records)} record(s) to "
                         f"{mapping.on_failure_queue or 'nowhere (no OnFailure destination)'}")
                if mapping.on_failure_queue:
                    self.dead_letter(mapping.on_failure_queue, self._failure_message(records, attempt))
                return
            self.log(f"{head} {why}: retry {attempt}" + (f"/{mapping.max_retries}" if mapping.max_retries >= 0 else ""))
            if mapping.bisect and len(records) > 1:
                half = len(records) // 2
                self._deliver(records[:half], attempt)
                self._deliver(records[half:], attempt)
                return

    def _invoke(self, records: list[Record]) -> tuple[int | None, str]:
        """(index of the first record to retry, or None; why)."""
        try:
            result = self.invoke(stream_lambda_event(records, self.reader.stream_arn(self.mapping.table)))
        except Exception as error:
            return 0, f"failed ({type(error).__name__}: {error})"
        if not self.mapping.report_item_failures or not isinstance(result, Mapping):
            return None, ""
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None, ""
        numbers = [_sequence(record) for record in records]
        reported = [str((item or {}).get("itemIdentifier") or "") for item in failures]
        if not all(number in numbers for number in reported):
            return 0, "reported an itemIdentifier not in the batch"
        first = min(numbers.index(number) for number in reported)
        return first, f"reported {len(reported)} failed record(s) from {numbers[first]}"

    def _failure_message(self, records: list[Record], attempts: int) -> dict[str, Any]:
        def arrival(record: Record) -> str:
            created = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
            moment = created.timestamp() if hasattr(created, "timestamp") else float(created or time.time())
            return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(moment))

        return {
            "requestContext": {"requestId": str(uuid.uuid4()), "condition": "RetryAttemptsExhausted",
                               "functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.mapping.function}",
                               "approximateInvokeCount": attempts},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": "shardId-local", "startSequenceNumber": _sequence(records[0]),
                "endSequenceNumber": _sequence(records[-1]), "batchSize": len(records),
                "approximateArrivalOfFirstRecord": arrival(records[0]),
                "approximateArrivalOfLastRecord": arrival(records[-1]),
                "streamArn": self.reader.stream_arn(self.mapping.table)},
        }


def _sequence(record: Record) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber"))


class StreamPoller:
    """Polls every mapping in a background thread (``interval`` seconds apart) until :meth:`stop`."""

    def __init__(self, consumers: Sequence[StreamConsumer], interval: float = 0.25,
                 log: Callable[[str], None] = print):
        self.consumers, self.interval, self.log = list(consumers), interval, log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> StreamPoller:
        if self._thread is None and self.consumers:
            self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for consumer in self.consumers:
                try:
                    consumer.poll()
                except Exception as error:  # the stream or moto hiccupped: keep polling
                    self.log(f"STREAM {consumer.mapping.table} could not be read ({type(error).__name__}: {error})")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def sqs_dead_letter(sqs: Any, queue_urls: Mapping[str, str]) -> DeadLetter:
    """Send an on-failure message to the template's queue (by logical id) through an SQS client."""

    def send(queue: str, message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=queue_urls[queue], MessageBody=json.dumps(message))

    return send

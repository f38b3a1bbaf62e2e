"""Domain events in integration tests: ``EventPublisherFunction`` driven from the tables' streams, and what it put
on the bus read back.

moto's in-process DynamoDB keeps each table's stream (``StreamSpecification`` from template.yaml) but does not
serve the Streams API in-process, so :class:`MotoShardReader` reads the stream moto keeps; the delivery itself is
the local stack's (``devstack.local_streams``: batches, batch item failures, bisect, retries, the on-failure
queue), with the template's event source mappings. The bus is moto's EventBridge with one catch-all rule to an
SQS queue, which :meth:`PublishedEvents.drain` reads.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from devstack.lambda_context import LambdaContext
from devstack.local_streams import StreamConsumer, read_stream_mappings
from devstack.template import load_template, table_definitions
from tests.support import reset_clients

REGION = "us-east-1"
BUS = "PaymentsEventBus"
SOURCE = "payments"


class MotoShardReader:
    """A table's stream as moto keeps it in-process (looked up afresh each time: a rolled-back transaction replaces
    the table, stream included)."""

    def _table(self, name: str) -> Any:
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(name)

    def stream_arn(self, table: str) -> str:
        found = self._table(table)
        return f"{found.table_arn}/stream/{found.latest_stream_label}"

    def read(self, table: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        records = [item.record for item in list(self._table(table).stream_shard.items)]
        if after is not None:
            records = [r for r in records if int(r["dynamodb"]["SequenceNumber"]) > int(after)]
        out = []
        for record in records[:limit]:
            copy = json.loads(json.dumps(record, default=str))
            created = record["dynamodb"].get("ApproximateCreationDateTime")
            if created is not None:
                moment = created if created.tzinfo else created.replace(tzinfo=UTC)
                copy["dynamodb"]["ApproximateCreationDateTime"] = moment.timestamp()
            out.append(copy)
        return out


def enable_streams() -> None:
    """Turn on the streams template.yaml gives the tables (the ``aws`` fixture creates them without): what is written
    from then on is in them."""
    client = boto3.client("dynamodb", region_name=REGION)
    for name, definition in table_definitions(load_template()).items():
        if "StreamSpecification" in definition:
            client.update_table(TableName=name, StreamSpecification=definition["StreamSpecification"])


class PublishedEvents:
    """``drain()``: run the publisher over what the streams hold since the last drain; the events it published.
    Make it before the writes whose events a test reads: it turns the streams on."""

    def __init__(self, publisher: Any, monkeypatch: Any):
        enable_streams()
        monkeypatch.setenv("EVENT_BUS_NAME", BUS)
        monkeypatch.setenv("EVENT_SOURCE", SOURCE)
        reset_clients()
        self.publisher = publisher
        self.events_client = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events_client.create_event_bus(Name=BUS)
        self.queue = self.sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events_client.put_rule(Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": [SOURCE]}))
        self.events_client.put_targets(Rule="everything", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        self.dead_letters: list[tuple[str, dict[str, Any]]] = []
        self.batches: list[dict[str, Any]] = []
        self.answers: list[Any] = []
        self.reader = MotoShardReader()
        self.consumers = [StreamConsumer(mapping, self.reader, self._invoke,
                                         lambda queue, message: self.dead_letters.append((queue, message)),
                                         log=lambda _: None)
                          for mapping in read_stream_mappings(load_template())]
        self.events: list[dict[str, Any]] = []

    def _invoke(self, event: dict[str, Any]) -> Any:
        self.batches.append(event)
        answer = self.publisher.lambda_handler(event, LambdaContext(function_name="EventPublisherFunction"))
        self.answers.append(answer)
        return answer

    def drain(self) -> list[dict[str, Any]]:
        """The events published by this drain (EventBridge's envelope: ``detail-type``, ``detail``, ...)."""
        for consumer in self.consumers:
            consumer.poll()
        new = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages") or []
            if not messages:
                break
            for message in messages:
                new.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        self.events.extend(new)
        return new

    def skip(self) -> None:
        """Forget what the streams hold so far (the set-up of a test), publishing nothing."""
        for consumer in self.consumers:
            records = self.reader.read(consumer.mapping.table, consumer.position, 10_000)
            if records:
                consumer.position = records[-1]["dynamodb"]["SequenceNumber"]


def of_order(events: list[dict[str, Any]], order_id: str) -> list[str]:
    return [e["detail-type"] for e in events if (e["detail"].get("order") or {}).get("orderId") == order_id]

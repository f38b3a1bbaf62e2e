"""Events out and live status in ``make bench``: what publishing and notifying cost, counted and timed warm.

* **EventPublisherFunction**: 100 committed changes (25 one-time orders: the order created, its payment created
  pending and then succeeded, the order paid: 75 domain events), delivered from the tables' streams as Lambda
  delivers them (one batch per table), DynamoDB answered by moto: ``PutEvents`` calls per 100 changes, DynamoDB
  calls per batch, and the warm CPU time per stream record (the same batches again, EventBridge answered at once,
  DynamoDB by moto in this process: moto's own work is counted, so it is an upper bound).
* **LiveNotifyFunction**: one event for a user with two open connections: DynamoDB calls and management API posts.

    python -m bench.events
"""

from __future__ import annotations

import os
import time
from typing import Any

CHANGES_ORDERS = 25


def _environment() -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "EVENT_BUS_NAME": "PaymentsEventBus", "EVENT_SOURCE": "payments",
                       "LIVE_MANAGEMENT_URL": "https://w1b2c3d4e5.execute-api.us-east-1.amazonaws.com/live"})
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EVENTBRIDGE"):
        os.environ.pop(name, None)


def _changes() -> None:
    """25 one-time orders paid, as checkout and the payment webhook write them."""
    from payments.core.clock import now_iso
    from payments.data import store
    from payments.data.models import OrderRecord, PaymentRecord

    for index in range(CHANGES_ORDERS):
        now = now_iso()
        order = OrderRecord(f"ord_bench{index:04d}", user_id="bench-user", kind="one_time", amount=1999,
                            currency="usd", status="pending", created_at=now, updated_at=now, created_sort=now)
        store.put(order)
        payment = PaymentRecord(f"pay_bench{index:04d}", order_id=order.order_id, user_id="bench-user", amount=1999,
                                currency="usd", mode="payment_intent", status="pending", created_at=now,
                                updated_at=now)
        store.put(payment)
        payment.status, order.status = "succeeded", "paid"
        order.payment_ids, order.paid_by_payment_id = [payment.payment_id], payment.payment_id
        store.Transaction().save(payment).save(order).stamp("evt_bench").commit()


class _Counting:
    """An EventBridge client that takes every entry at once, and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.entries = 0

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (botocore's name)
        self.calls += 1
        self.entries += len(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def measure(repeats: int = 20) -> dict[str, Any]:
    _environment()
    import boto3
    from moto import mock_aws

    with mock_aws():
        from devstack.template import create_tables
        from tests.support import reset_clients

        reset_clients()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        _changes()
        from devstack.lambda_events.dynamodb_streams import stream_lambda_event
        from payments.events.publisher import EventBus, EventPublisher
        from tests.support.calls import DynamoDBCalls
        from tests.support.events import MotoShardReader

        reader = MotoShardReader()
        batches = [stream_lambda_event(reader.read(table, None, 100), reader.stream_arn(table))
                   for table in ("OrdersTable", "PaymentsTable")]
        records = sum(len(batch["Records"]) for batch in batches)
        bus = _Counting()
        publisher = EventPublisher(bus=EventBus(bus, "PaymentsEventBus", "payments", sleep=lambda _: None))
        with DynamoDBCalls() as calls:
            for batch in batches:
                publisher(batch)
        first = {"records": records, "events": bus.entries, "put_events": bus.calls,
                 "dynamodb": list(calls.operations)}
        started = time.process_time()
        for _ in range(repeats):
            for batch in batches:
                publisher(batch)
        cpu_per_record_ms = (time.process_time() - started) * 1000 / (repeats * records)

        from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
        from moto.core import DEFAULT_ACCOUNT_ID

        from payments.data import connections
        from payments.live.notify import notify

        connections.add("bench-user", "conn-1")
        connections.add("bench-user", "conn-2")
        event = {"detail-type": "OrderPaid", "detail": {"type": "OrderPaid", "order": {"orderId": "ord_bench0000",
                                                                                      "userId": "bench-user"}}}
        with DynamoDBCalls() as calls:
            result = notify(event)
        posts = sum(1 for c in apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections.values()
                    if c.data)
        reset_clients()
    return {"publisher": first, "cpu_per_record_ms": cpu_per_record_ms,
            "notify": {"dynamodb": list(calls.operations), "posts": posts, "result": result}}


def report() -> list[str]:
    numbers = measure()
    publisher, notify = numbers["publisher"], numbers["notify"]
    per_100 = publisher["put_events"] * 100 / publisher["records"]
    return [
        "",
        "## Events out and live status (bench/events.py)",
        "",
        f"- EventPublisherFunction: {publisher['records']} stream records ({CHANGES_ORDERS} orders paid) made "
        f"{publisher['events']} domain events in {publisher['put_events']} PutEvents calls: **{per_100:.0f} "
        f"PutEvents calls per 100 changes** (10 entries a call); DynamoDB: {len(publisher['dynamodb'])} calls for "
        f"the 2 batches ({', '.join(publisher['dynamodb'])}).",
        f"- Warm CPU per stream record: **{numbers['cpu_per_record_ms']:.2f} ms** (moto's DynamoDB included: an upper "
        "bound).",
        f"- LiveNotifyFunction, one event for a user with 2 connections: {len(notify['dynamodb'])} DynamoDB call "
        f"({', '.join(notify['dynamodb'])}) and {notify['posts']} PostToConnection calls: **1 Query + 1 post per "
        "connection**.",
    ]


if __name__ == "__main__":
    print("\n".join(report()))

"""The publisher's delivery rules, on synthetic stream records and EventBridge's answers (botocore's Stubber, which
checks each request against the service's model): batches of 10, only failed entries retried, what keeps failing
reported per record and, through Lambda's rules (devstack.local_streams), dead-lettered; a poison record stops
what follows it."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from devstack.lambda_events.dynamodb_streams import stream_arn, stream_lambda_event
from devstack.local_streams import StreamConsumer, StreamMapping
from payments.data.models import OrderRecord
from payments.events.publisher import EventBus, EventPublisher

NOW = "2026-12-01T10:00:00.000Z"


def order_record(index: int, sequence: int) -> dict:
    order = OrderRecord(f"ord_{index:03d}", user_id="alice", kind="one_time", amount=1999, currency="usd",
                        status="pending", created_at=NOW, updated_at=NOW, created_sort=NOW, version=1)
    return {"eventID": f"e{sequence}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"ApproximateCreationDateTime": 1796000000, "Keys": {"orderId": {"S": order.order_id}},
                         "NewImage": order.serialize(), "SequenceNumber": str(sequence),
                         "StreamViewType": "NEW_AND_OLD_IMAGES"}}


def batch(count: int, start: int = 100) -> list[dict]:
    return [order_record(i, start + i) for i in range(count)]


class Bus:
    """A stubbed EventBridge client: answers queued per call, and every call's entries kept."""

    def __init__(self) -> None:
        self.client = botocore.session.get_session().create_client(
            "events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.stubber = Stubber(self.client)
        self.calls: list[list[str]] = []
        original = self.client.put_events

        def recording(**kwargs):
            self.calls.append([entry["Detail"] for entry in kwargs["Entries"]])
            return original(**kwargs)

        self.client.put_events = recording
        self.stubber.activate()

    def answer(self, *failed: int, size: int) -> None:
        entries = [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"} if i in failed
                   else {"EventId": f"id-{i}"} for i in range(size)]
        self.stubber.add_response("put_events", {"FailedEntryCount": len(failed), "Entries": entries},
                                  {"Entries": ANY})

    def throttled(self) -> None:
        self.stubber.add_client_error("put_events", "ThrottlingException", http_status_code=400)

    def publisher(self) -> EventPublisher:
        return EventPublisher(bus=EventBus(self.client, "bus", "payments", sleep=lambda _: None))


def test_twelve_changes_go_out_in_two_calls_and_a_partial_failure_retries_only_the_failed_entries():
    bus = Bus()
    bus.answer(3, 7, size=10)
    bus.answer(size=2)
    bus.answer(size=2)
    answer = bus.publisher()(stream_lambda_event(batch(12), stream_arn("OrdersTable")))
    assert answer == {"batchItemFailures": []}
    assert [len(call) for call in bus.calls] == [10, 2, 2]
    assert bus.calls[2] == [bus.calls[0][3], bus.calls[0][7]]  # the retry holds exactly the two that failed
    bus.stubber.assert_no_pending_responses()


def test_a_record_whose_event_keeps_failing_is_reported_and_the_others_are_not():
    bus = Bus()
    bus.answer(1, size=3)
    for _ in range(3):
        bus.answer(0, size=1)
    records = batch(3)
    answer = bus.publisher()(stream_lambda_event(records, stream_arn("OrdersTable")))
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
    assert [len(call) for call in bus.calls] == [3, 1, 1, 1]


def test_a_whole_call_refused_is_retried_and_then_every_record_in_it_reported():
    bus = Bus()
    for _ in range(4):
        bus.throttled()
    records = batch(2)
    answer = bus.publisher()(stream_lambda_event(records, stream_arn("OrdersTable")))
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["100", "101"]


def test_a_poison_record_is_reported_and_nothing_after_it_is_published():
    bus = Bus()
    bus.answer(size=1)
    records = batch(3)
    records[1]["dynamodb"]["NewImage"]["amount"] = {"S": "not a number"}
    answer = bus.publisher()(stream_lambda_event(records, stream_arn("OrdersTable")))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "101"}]}
    assert len(bus.calls) == 1 and '"ord_000"' in bus.calls[0][0]


def test_replaying_a_batch_publishes_the_same_event_ids():
    import json

    bus = Bus()
    bus.answer(size=2)
    bus.answer(size=2)
    event = stream_lambda_event(batch(2), stream_arn("OrdersTable"))
    bus.publisher()(event)
    bus.publisher()(event)
    ids = [[json.loads(detail)["eventId"] for detail in call] for call in bus.calls]
    assert ids[0] == ids[1] and len(set(ids[0])) == 2


class Reader:
    def __init__(self, records):
        self.records = records

    def stream_arn(self, table):
        return stream_arn(table)

    def read(self, table, after, limit):
        rest = [r for r in self.records if after is None or int(r["dynamodb"]["SequenceNumber"]) > int(after)]
        return rest[:limit]


@pytest.mark.parametrize("bisect", [True, False])
def test_a_record_that_keeps_failing_reaches_the_dead_letter_queue_and_the_rest_are_published(bisect):
    """Lambda's side (devstack.local_streams runs it as Lambda does): retried from the reported record, the batch
    halved each time, then the failed record's description to the on-failure queue; the mapping goes on."""
    records = batch(4)
    poisoned = records[2]["dynamodb"]["SequenceNumber"]
    records[2]["dynamodb"]["NewImage"]["status"] = {"N": "1"}
    published: list[str] = []

    class Recording:
        def put_events(self, Entries):  # noqa: N803 (botocore's name)
            published.extend(entry["Detail"] for entry in Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}

    publisher = EventPublisher(bus=EventBus(Recording(), "bus", "payments", sleep=lambda _: None))
    dead: list[dict] = []
    mapping = StreamMapping("EventPublisherFunction", "OrdersTable", batch_size=10, bisect=bisect, max_retries=3,
                            report_item_failures=True, on_failure_queue="EventPublisherDeadLetterQueue")
    consumer = StreamConsumer(mapping, Reader(records), publisher, lambda queue, message: dead.append(message),
                              log=lambda _: None)
    consumer.poll()
    assert [m["DDBStreamBatchInfo"]["startSequenceNumber"] for m in dead] == [poisoned]
    info = dead[0]["DDBStreamBatchInfo"]
    assert info["streamArn"] == stream_arn("OrdersTable") and dead[0]["requestContext"]["condition"] == \
        "RetryAttemptsExhausted"
    orders = {d.split('"orderId":')[1].split(",")[0] for d in published}
    assert consumer.position == records[-1]["dynamodb"]["SequenceNumber"]
    if bisect:  # the template's setting: the poison record ends up alone, and the record after it goes out
        assert info["batchSize"] == 1 and orders == {'"ord_000"', '"ord_001"', '"ord_003"'}
    else:  # without it, Lambda gives up on the rest of the batch with it
        assert info["batchSize"] == 2 and orders == {'"ord_000"', '"ord_001"'}

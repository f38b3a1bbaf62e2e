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


NEW_FUNCTIONS = {"event_publisher": "EventPublisherFunction", "on_order_paid": "OnOrderPaidFunction",
                 "live_authorizer": "LiveAuthorizerFunction", "live_connect": "LiveConnectFunction",
                 "live_notify": "LiveNotifyFunction"}
FLOOR = ("import botocore.session; botocore.session.get_session().create_client('dynamodb', region_name='us-east-1', "
         "aws_access_key_id='x', aws_secret_access_key='x')")


def _timed(python: str, code: str, env: dict[str, str]) -> float:
    import subprocess

    probe = f"import time; t = time.perf_counter(); {code}; print((time.perf_counter() - t) * 1000)"
    out = subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return float(out.stdout.strip().splitlines()[-1])


def _native_stand_ins(python: str, work: Any) -> str:
    """The layer's native wheels are arm64 (Lambda's Graviton): on another machine the same versions, built for it,
    stand in (first on the path), so the import is measured with the code the layer ships."""
    import platform
    import subprocess
    from pathlib import Path

    target = Path(work) / f"native-{platform.machine()}"
    if platform.machine() in ("aarch64", "arm64"):
        return str(target)
    layers = Path(__file__).resolve().parent.parent / "layers"
    pins = [line.split(";")[0].strip() for layer in ("common", "auth")
            for line in (layers / layer / "requirements.txt").read_text().splitlines()
            if line.startswith(("cryptography", "cffi"))]
    stamp = target / ".complete"
    wanted = " ".join(pins)  # a stand-in made for other pins is made again
    if not stamp.is_file() or stamp.read_text() != wanted:
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),  # noqa: S603
                        "--only-binary=:all:", *pins, "cffi"], check=True, capture_output=True)
        stamp.write_text(wanted)
    return str(target)


def cold_imports(build_dir: Any, python: str, runtime: Any, runs: int = 5) -> dict[str, tuple[float, float]]:
    """Each new function's handler import (the layer as /opt/python, the runtime's botocore, no .pyc written, tracing
    off), against the floor run right before it: ``{LogicalId: (median ms, median ratio)}``. The full probe
    (bench/cold_start_probe.py) serves HTTP and webhook samples; these functions take stream, EventBridge and
    WebSocket events, so their first event is left out and the import is what is compared."""
    import statistics
    from pathlib import Path

    results = {}
    native = _native_stand_ins(python, Path(runtime).parent)
    for logical_id in NEW_FUNCTIONS.values():
        task = Path(build_dir) / logical_id
        layers = ":".join(str(Path(build_dir) / layer / "python") for layer in ("CommonLayer", "AuthLayer"))
        path = f"{native}:{task}:{layers}:{runtime}"
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1",
               "POWERTOOLS_TRACE_DISABLED": "true", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
               "POWERTOOLS_SERVICE_NAME": "payments"}
        ratios, times = [], []
        for _ in range(runs):
            floor = _timed(python, FLOOR, env)
            took = _timed(python, "import app", {**env, "PYTHONPATH": path})
            ratios.append(took / floor)
            times.append(took)
        results[logical_id] = (statistics.median(times), statistics.median(ratios))
    return results


def report(build_dir: Any = None, python: str | None = None, runtime: Any = None) -> list[str]:
    numbers = measure()
    publisher, notify = numbers["publisher"], numbers["notify"]
    per_100 = publisher["put_events"] * 100 / publisher["records"]
    return [  # noqa: RUF005
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
    ] + _cold_lines(build_dir, python, runtime)


def _cold_lines(build_dir: Any, python: str | None, runtime: Any) -> list[str]:
    if build_dir is None or python is None or runtime is None:
        return []
    lines = ["", "Cold import of each new function's handler (the layer as built, no .pyc written, tracing off) "
             "against the floor (botocore imported, a DynamoDB client made), median of 5 runs, target <= 1.8x:", ""]
    for logical_id, (took, ratio) in cold_imports(build_dir, python, runtime).items():
        verdict = "ok" if ratio <= 1.8 else "over"
        lines.append(f"- {logical_id}: {took:.0f} ms, **{ratio:.2f}x** the floor ({verdict})")
    return lines


if __name__ == "__main__":
    print("\n".join(report()))

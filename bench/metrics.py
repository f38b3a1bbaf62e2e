"""The numbers in the bench: what counting an event and reading the numbers cost, and the two functions' cold starts.

    python -m bench.metrics [--build-dir .aws-sam/build] [--runs 7]

1. **MetricsAggregatorFunction, per event** (moto, in this process): DynamoDB calls and the request units DynamoDB
   would charge (``bench/capacity.py``) for a payment event delivered first and again, and for a subscription event.
2. **AdminFunction**: ``GET /admin/metrics`` over a full window (366 days, every shard of every day filled, and the
   levels): DynamoDB calls, items and bytes the one Query reads, read units.
3. **Cold start** of the aggregator, process start to the first answer of its sample event, with the ``sam build``
   output (the layer as ``/opt/python``, the function as ``/var/task``, the runtime's boto3/botocore, no ``.pyc``
   written, tracing off), DynamoDB answered by a loopback stand-in; against a floor run just before each run (botocore
   imported, a DynamoDB client made, one call to the same stand-in). Its sample is an EventBridge event, which
   ``bench/run.py``'s probe (HTTP and webhook answers) does not serve; it measures ``AdminFunction``'s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
# AdminFunction answers an HTTP API request: ``make bench`` (bench/run.py) measures its cold start with the others'.
SAMPLES = {"MetricsAggregatorFunction": "events/metrics_aggregator/payment_succeeded.json"}
TARGET = 1.8


# --- calls and capacity -------------------------------------------------------------------------------------------


def _delivery(detail_type: str, **detail: Any) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"detail-type": detail_type, "detail": {"eventId": str(uuid.uuid4()), "occurredAt": now, "version": 2,
                                                   **detail}}


def calls_and_capacity() -> dict[str, Any]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "ERROR"})
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    import boto3
    from moto import mock_aws

    from bench.capacity import CapacityMeter, item_size
    from bench.run import AwsRecorder, capacity_total
    from devstack.template import create_tables, table_definitions
    from tests.support import reset_clients

    results: dict[str, Any] = {}
    with mock_aws():
        reset_clients()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), streams=False)
        from payments.core.config import MAX_METRICS_SHARDS
        from payments.metrics.aggregate import aggregate
        from payments.metrics.report import WINDOW_DAYS, MetricsRequest, metrics

        recorder = AwsRecorder(CapacityMeter(table_definitions()))
        payment = _delivery("PaymentSucceeded", payment={"amount": 1999, "currency": "usd"})
        started = _delivery("SubscriptionStarted", order={"currency": "usd", "items": [
            {"priceId": "price_1", "quantity": 1, "unitAmount": 999, "interval": "month", "intervalCount": 1}]},
            subscription={"recurringPaymentId": "sub_rec_1", "priceId": "price_1", "status": "active"})
        with recorder.installed():
            for name, event in (("payment event", payment), ("payment event again", payment),
                                ("subscription event", started)):
                with recorder.recording() as calls:
                    answer = aggregate(event)
                results[name] = {"result": answer["result"], "dynamodb": [c["operation"] for c in calls],
                                 "units": capacity_total(calls)}
            # a full window: every shard of every day, and the levels
            client = boto3.client("dynamodb", region_name="us-east-1")
            today = datetime.now(UTC).date()
            days = [(today - timedelta(days=n)).isoformat() for n in range(-1, WINDOW_DAYS)]
            big = str(10**9)
            for day in [*days, "now"]:
                for shard in range(MAX_METRICS_SHARDS):
                    item = {"scope": {"S": "currency#usd"}, "slot": {"S": f"{day}#{shard:02d}"},
                            **{name: {"N": big} for name in ("succeeded", "failed", "gross", "refunds", "refunded",
                                                             "paidOrders", "paidOrderValue", "started", "canceled",
                                                             "activeChange", "mrrChange")}}
                    client.put_item(TableName="MetricsTable", Item=item)
            request = MetricsRequest(today - timedelta(days=WINDOW_DAYS - 1), today, "usd")
            with recorder.recording() as calls:
                body = metrics(request)
            items = client.query(TableName="MetricsTable", KeyConditionExpression="#s = :s AND #t >= :f",
                                 ExpressionAttributeNames={"#s": "scope", "#t": "slot"},
                                 ExpressionAttributeValues={":s": {"S": "currency#usd"},
                                                            ":f": {"S": request.first.isoformat()}})["Items"]
            results["full window read"] = {
                "dynamodb": [c["operation"] for c in calls], "units": capacity_total(calls), "items": len(items),
                "bytes": sum(item_size(i) for i in items), "days": len(body["byDay"]), "shards": MAX_METRICS_SHARDS}
    reset_clients()
    return results


# --- cold start ---------------------------------------------------------------------------------------------------


class _StandIn(BaseHTTPRequestHandler):
    """DynamoDB's answers for the one call each sample makes (an empty Query, a committed transaction)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        target = self.headers.get("x-amz-target", "")
        body = b'{"Items":[],"Count":0,"ScannedCount":0}' if target.endswith(".Query") else b"{}"
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


_CONTEXT = ("class C:\n function_name='f'; memory_limit_in_mb=512; "
            "invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:f'; aws_request_id='r'\n"
            " def get_remaining_time_in_millis(self): return 29000\n")
_PROBE = ("import time, json; t = time.perf_counter()\nimport app\n" + _CONTEXT +
          "answer = app.lambda_handler(json.load(open({event!r})), C())\n"
          "took = (time.perf_counter() - t) * 1000\nassert 'statusCode' not in answer or answer['statusCode'] == 200, "
          "answer\nprint(took)")
_FLOOR = ("import time; t = time.perf_counter()\nimport botocore.session\n"
          "c = botocore.session.get_session().create_client('dynamodb', region_name='us-east-1')\n"
          "c.list_tables()\nprint((time.perf_counter() - t) * 1000)")


def _timed(python: str, code: str, env: dict[str, str], cwd: Path) -> float:
    out = subprocess.run([python, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if out.returncode:
        raise RuntimeError(out.stderr.strip()[-600:])
    return float(out.stdout.strip().splitlines()[-1])


def cold_starts(build_dir: Path, runs: int) -> dict[str, tuple[float, float, float]]:
    """``{LogicalId: (median ms, median ratio to the floor, floor median ms)}``."""
    from bench.events import _native_stand_ins
    from bench.run import probe_python, runtime_dir

    python, _ = probe_python()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            runtime = runtime_dir(python, Path(scratch))
            native = _native_stand_ins(python, Path(scratch))
            for logical_id, sample in SAMPLES.items():
                task = build_dir / logical_id
                event = str(REPO / sample)
                env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1",
                       "PYTHONPATH": f"{native}:{task}:{build_dir / 'CommonLayer' / 'python'}:{runtime}",
                       "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
                       "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_SERVICE_NAME": "payments", "POWERTOOLS_METRICS_NAMESPACE": "PaymentsBackend",
                       "POWERTOOLS_LOG_LEVEL": "ERROR", "METRICS_TABLE_NAME": "MetricsTable",
                       "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{server.server_address[1]}",
                       "AWS_LAMBDA_FUNCTION_NAME": logical_id}
                ratios, times, floors = [], [], []
                for _ in range(runs):
                    floor = _timed(python, _FLOOR, env, task)
                    took = _timed(python, _PROBE.format(event=event), env, task)
                    ratios.append(took / floor)
                    times.append(took)
                    floors.append(floor)
                results[logical_id] = (statistics.median(times), statistics.median(ratios), statistics.median(floors))
    finally:
        server.shutdown()
    return results


def report(build_dir: Path | None, runs: int) -> list[str]:
    numbers = calls_and_capacity()
    lines = ["## The numbers (bench/metrics.py)", ""]
    for name in ("payment event", "payment event again", "subscription event"):
        entry = numbers[name]
        read, write = entry["units"]
        lines.append(f"- MetricsAggregatorFunction, a {name} ({entry['result']}): {len(entry['dynamodb'])} DynamoDB "
                     f"call(s) ({', '.join(entry['dynamodb'])}), {read:g} read / {write:g} write units")
    window = numbers["full window read"]
    read, _ = window["units"]
    lines.append(f"- AdminFunction, GET /admin/metrics of a full window ({window['days']} days, {window['shards']} "
                 f"shards each, and the levels): {len(window['dynamodb'])} DynamoDB call(s) "
                 f"({', '.join(window['dynamodb'])}) reading {window['items']} items, {window['bytes'] / 1024:.0f} KB, "
                 f"{read:g} read units")
    if build_dir is not None:
        lines += ["", f"Cold start, process start to the first answer (median of {runs}, tracing off, DynamoDB a "
                  "loopback stand-in), against the floor run just before each:", ""]
        for logical_id, (took, ratio, floor) in cold_starts(build_dir, runs).items():
            verdict = "ok" if ratio <= TARGET else "over"
            lines.append(f"- {logical_id}: {took:.0f} ms, **{ratio:.2f}x** the floor ({floor:.0f} ms; target <= "
                         f"{TARGET}x: {verdict})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.metrics", description=__doc__.split("\n")[0])
    parser.add_argument("--build-dir", type=Path, default=REPO / ".aws-sam" / "build")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    for path in (str(REPO / "layers" / "common"), str(REPO)):
        if path not in sys.path:
            sys.path.insert(0, path)
    # absolute: each probe runs in its function's folder, so a relative PYTHONPATH would point elsewhere
    build = args.build_dir.resolve() if (args.build_dir / "CommonLayer" / "python").is_dir() else None
    if build is None:
        print(f"(no sam build output at {args.build_dir}: cold starts skipped; run make sam-build)", file=sys.stderr)
    print("\n".join(report(build, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

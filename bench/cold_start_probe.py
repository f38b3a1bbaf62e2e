"""One cold start, measured inside a fresh interpreter. ``bench/run.py`` starts one process per sample.

    python3.13 -S bench/cold_start_probe.py SPEC.json SPAWN_NS

``SPAWN_NS`` is ``time.monotonic_ns()`` taken by the parent just before it started this process (the
monotonic clock is system-wide), so ``total_ms`` runs from process creation until the handler's answer
is in hand: interpreter start-up, every import (deferred ones included, since the first call makes
them), client creation and the first event. Interpreter teardown is not counted (Lambda freezes the
sandbox instead), hence the ``os._exit`` at the end.

The spec (JSON) says what to do:

- ``mode``: ``bare`` (start and stop: the interpreter's own cost), ``botocore`` (the DynamoDB floor:
  import botocore, create a DynamoDB client, make one stubbed GetItem), or ``function`` (import
  ``module`` from the function's directory and call ``handler(event, context)`` once), and optionally
  ``warm_events`` more calls of the same event afterwards, timed as CPU time per event.
- ``gc_paused``: the cyclic garbage collector is disabled from the start (the floor measured that way shows
  what a function that pauses it, as ``payments.core.coldstart`` does, is compared with).
- ``paths``: put first on ``sys.path``, in Lambda's order: the function (``/var/task``), the layer's
  ``python/`` (``/opt/python``), then the directory that plays the runtime (``/var/runtime``: boto3 and
  botocore as the python3.13 runtime ships them).
- ``aws``: the answers AWS gives, per service, in call order (recorded from the same operation against
  moto by ``bench/run.py``). Every botocore client created in this process gets a botocore ``Stubber``
  (``botocore.session.Session.create_client`` is wrapped, which covers pynamodb's own clients and
  boto3's), and each call takes the next answer for its service, so no request leaves the process.
  A call the recording does not have fails the probe.
- Stripe is whatever ``STRIPE_API_BASE`` points at (``bench/stripe_stub.py``, served by the parent).

Standard library only, apart from botocore and what the handler imports: nothing from the project's
virtualenv is on the path.
"""

from __future__ import annotations

import base64
import gc
import json
import os
import sys
import time
from collections import deque
from datetime import datetime
from typing import Any

# --- JSON for recorded AWS answers (bytes and datetimes tagged); also used by bench/run.py ----------------


def _status(response: object) -> int | None:
    """An HTTP answer's status; an answer of another kind (a stream batch's, an EventBridge consumer's, an
    authorizer's, a scheduled run's summary) counts as 200, as ``bench.run`` counts it, unless it reports failed
    records of its batch."""
    if not isinstance(response, dict):
        return None
    if "statusCode" in response:
        return response["statusCode"]  # type: ignore[no-any-return]
    return 500 if response.get("batchItemFailures") else 200


def encode_answer(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: encode_answer(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_answer(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"__datetime__": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if type(value).__name__ == "StreamingBody":
        return {"__bytes__": base64.b64encode(value.read()).decode()}
    raise TypeError(f"cannot record an AWS answer holding {type(value).__name__}")


def decode_answer(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__bytes__"}:
            return base64.b64decode(value["__bytes__"])
        if set(value) == {"__datetime__"}:
            return datetime.fromisoformat(value["__datetime__"])
        return {k: decode_answer(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_answer(v) for v in value]
    return value


# --- AWS through botocore's Stubber -----------------------------------------------------------------------


class StubbedAws:
    """Attach a Stubber to every botocore client; feed each call the next recorded answer of its service."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]]):
        self.answers = {service: deque(calls) for service, calls in answers.items()}
        self.served: list[tuple[Any, dict[str, Any]]] = []  # (stubber, recorded call), in call order
        self.feeding = True
        self.clients: dict[str, int] = {}  # botocore clients created, by service

    def install(self) -> None:
        import botocore.session
        from botocore.stub import Stubber

        original = botocore.session.Session.create_client
        probe = self

        def create_client(session: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
            client = original(session, service_name, *args, **kwargs)
            probe.clients[service_name] = probe.clients.get(service_name, 0) + 1
            stubber = Stubber(client)

            def feed(model: Any, **_: Any) -> None:
                if not probe.feeding:
                    return
                queue = probe.answers.get(service_name)
                if not queue:
                    raise AssertionError(f"unexpected AWS call {service_name}.{model.name}: not in the recording")
                call = queue.popleft()
                if call["operation"] != model.name:
                    raise AssertionError(f"AWS call {service_name}.{model.name}, but the recording has "
                                         f"{call['operation']} next")
                probe.add(stubber, call)
                probe.served.append((stubber, call))

            # Registered before the Stubber's own first handler, so the answer is queued when it looks.
            client.meta.events.register_first("before-parameter-build.*.*", feed)
            stubber.activate()
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign]

    @staticmethod
    def add(stubber: Any, call: dict[str, Any]) -> None:
        from botocore import xform_name

        method = xform_name(call["operation"])
        if "error" in call:
            error = call["error"]
            stubber.add_client_error(method, service_error_code=error["code"], service_message=error["message"],
                                     http_status_code=error["status"],
                                     modeled_fields=decode_answer(error.get("modeled") or {}))
        else:
            stubber.add_response(method, decode_answer(call["response"]))


def _compiled(module: Any) -> bool:
    """True when the module came from a .py file with no usable .pyc beside it (compiled in memory)."""
    spec = getattr(module, "__spec__", None)
    return (spec is not None and type(spec.loader).__name__ == "SourceFileLoader" and bool(spec.cached)
            and not os.path.exists(spec.cached))


class Context:
    """The parts of Lambda's context object that Powertools reads."""

    function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "probe")
    function_version = "$LATEST"
    memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
    invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    log_group_name = f"/aws/lambda/{function_name}"
    log_stream_name = "2026/11/22/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


class GcClock:
    """Time spent in the cyclic garbage collector, by generation (collections, ms)."""

    def __init__(self) -> None:
        self.started = 0
        self.by_generation: dict[int, list[float]] = {}
        gc.callbacks.append(self.callback)

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter_ns()
        else:
            entry = self.by_generation.setdefault(info["generation"], [0, 0.0])
            entry[0] += 1
            entry[1] += (time.perf_counter_ns() - self.started) / 1e6

    def total_ms(self) -> float:
        return sum(ms for _, ms in self.by_generation.values())


def main() -> None:
    spec_path, spawn_ns = sys.argv[1], int(sys.argv[2])
    gc_clock = GcClock()
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("gc_paused"):
        gc.disable()
    sys.path[:0] = spec.get("paths", [])
    result: dict[str, Any] = {"mode": spec["mode"], "python": sys.version.split()[0]}

    if spec["mode"] != "bare":
        aws = StubbedAws(spec.get("aws", {}))
        aws.install()

    if spec["mode"] == "botocore":
        import botocore.session

        client = botocore.session.get_session().create_client("dynamodb", region_name=os.environ["AWS_REGION"])
        client.get_item(TableName="OrdersTable", Key={"orderId": {"S": "ord_1"}}, ConsistentRead=True)

    elif spec["mode"] == "function":
        import importlib

        started = time.monotonic_ns()
        module = importlib.import_module(spec["module"])
        handler = getattr(module, spec["handler"])
        imported = time.monotonic_ns()
        response = handler(spec["event"], Context())
        done = time.monotonic_ns()
        result.update(import_ms=(imported - started) / 1e6, first_call_ms=(done - imported) / 1e6,
                      status=_status(response),
                      body=str(response.get("body"))[:300] if isinstance(response, dict) else None)

    result["total_ms"] = (time.monotonic_ns() - spawn_ns) / 1e6
    result["gc_ms"] = gc_clock.total_ms()
    result["gc"] = {str(g): v for g, v in gc_clock.by_generation.items()}
    result["modules"] = len(sys.modules)
    result["loaded"] = sorted({name.split(".")[0] for name in sys.modules})
    result["stripe_modules"] = sum(1 for name in sys.modules if name == "stripe" or name.startswith("stripe."))
    # Modules whose bytecode had to be compiled during this start (no .pyc shipped next to them).
    result["compiled_at_start"] = sorted(name for name, module in list(sys.modules.items()) if _compiled(module))
    if spec["mode"] != "bare":
        result["aws_calls"] = [f"{call['service']}.{call['operation']}" for _, call in aws.served]
        result["aws_unused"] = sum(len(queue) for queue in aws.answers.values())
        result["clients"] = dict(aws.clients)

    warm = int(spec.get("warm_events") or 0)
    if spec["mode"] == "function" and warm:
        # The same DynamoDB answers again for every event, queued before the clock starts so the
        # Stubber's own bookkeeping (it validates each answer) is not counted as ours.
        per_event = [(stubber, call) for stubber, call in aws.served if call["service"] == "dynamodb"]
        aws.feeding = False
        for _ in range(warm):
            for stubber, call in per_event:
                aws.add(stubber, call)
        statuses: dict[str, int] = {}
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(warm):
            response = handler(spec["event"], Context())
            key = str(_status(response))
            statuses[key] = statuses.get(key, 0) + 1
        result.update(warm_cpu_ms=(time.process_time() - cpu) * 1000 / warm,
                      warm_wall_ms=(time.perf_counter() - wall) * 1000 / warm, warm_statuses=statuses)

    with open(spec["result"], "w", encoding="utf-8") as f:
        json.dump(result, f)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

"""EventBridge for the local stack: ``PutEvents`` on a local endpoint, the template's rules matched with
EventBridge's semantics (``devstack.event_patterns``), and every function with a matching ``EventBridgeRule``
invoked, as EventBridge invokes a Lambda target: asynchronously, with the event as it delivers it.

* :func:`read_rules` reads each function's ``EventBridgeRule`` events from the template: its bus (``EventBusName``;
  a bus of the template is named by its logical id locally) and its pattern, intrinsics resolved.
* :class:`LocalEventBus` takes entries (``put_events``), answers as ``PutEvents`` does (an ``EventId`` each), and
  delivers them from a worker thread, one event at a time: a slow consumer never holds back the function that
  published. A consumer that raises is retried, as the rule's ``RetryPolicy`` allows (a few times, locally).
* :meth:`LocalEventBus.wsgi` serves the AWS JSON protocol (``X-Amz-Target: AWSEvents.PutEvents``), so the
  functions' own botocore clients reach it through ``AWS_ENDPOINT_URL_EVENTS``.

Each event is one line of the stack's log (``EVENT <DetailType> <entity> -> <functions>``), and so is each
delivery (``DELIVER <DetailType> -> <function> ok|failed``). :attr:`LocalEventBus.recent` keeps the last events
for the demo page (``/_local/events``).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from devstack.event_patterns import matches
from devstack.lambda_events.eventbridge import event_from_entry
from devstack.local_functions import function_events

DEFAULT_BUS = "default"
RECENT = 200
LOCAL_RETRIES = 2


@dataclass(frozen=True)
class Rule:
    name: str
    function: str
    bus: str
    pattern: Mapping[str, Any]


def read_rules(template: Mapping[str, Any]) -> list[Rule]:
    return [Rule(name=f"{function}{event}", function=function, bus=str(props.get("EventBusName") or DEFAULT_BUS),
                 pattern=props.get("Pattern") or {})
            for function, event, props in function_events(template, "EventBridgeRule")]


class LocalEventBus:
    """``put_events(entries)``; matching rules' functions are invoked by ``invoke(function, event)``."""

    def __init__(self, rules: list[Rule], invoke: Callable[[str, dict[str, Any]], Any],
                 log: Callable[[str], None] = print):
        self.rules, self.invoke, self.log = rules, invoke, log
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._queue: queue.Queue[tuple[dict[str, Any], list[Rule]] | None] = queue.Queue()
        self._idle = threading.Condition()
        self._pending = 0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ publishing

    def put_events(self, entries: list[Mapping[str, Any]]) -> dict[str, Any]:
        answers = []
        for entry in entries:
            try:
                event = event_from_entry(entry)
            except (ValueError, TypeError):
                answers.append({"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is not a JSON object"})
                continue
            bus = str(entry.get("EventBusName") or DEFAULT_BUS).rsplit("/", 1)[-1]
            targets = [rule for rule in self.rules if rule.bus == bus and matches(rule.pattern, event)]
            detail = event["detail"]
            self.log(f"EVENT {event['detail-type']} {_about(detail)} eventId={detail.get('eventId', '-')} "
                     f"-> {', '.join(rule.function for rule in targets) or 'no rule matches'}")
            self.recent.append({"receivedAt": time.time(), "bus": bus, "targets": [r.function for r in targets],
                                **event})
            with self._idle:
                self._pending += 1
            self._queue.put((event, targets))
            answers.append({"EventId": event["id"]})
        failed = sum(1 for answer in answers if "ErrorCode" in answer)
        return {"FailedEntryCount": failed, "Entries": answers}

    # ------------------------------------------------------------------ delivering

    def start(self) -> LocalEventBus:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="event-bus", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def wait_idle(self, timeout: float = 10) -> bool:
        """True once every event put so far has been delivered."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            event, targets = item
            for rule in targets:
                self._deliver(rule, event)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        for attempt in range(LOCAL_RETRIES + 1):
            started = time.monotonic()
            try:
                result = self.invoke(rule.function, event)
            except Exception as error:
                self.log(f"DELIVER {event['detail-type']} -> {rule.function} failed ({type(error).__name__}: "
                         f"{error}){' retrying' if attempt < LOCAL_RETRIES else ', giving up'}")
                continue
            took = (time.monotonic() - started) * 1000
            self.log(f"DELIVER {event['detail-type']} -> {rule.function} ok {took:.0f}ms{_result_note(result)}")
            return

    # ------------------------------------------------------------------ the AWS protocol

    def answer(self, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, JSON) for one AWS JSON 1.1 request to the events endpoint."""
        if target != "AWSEvents.PutEvents":
            return 400, {"__type": "UnknownOperationException", "message": f"the local bus serves PutEvents only "
                         f"({target})"}
        try:
            entries = json.loads(body or b"{}").get("Entries")
        except ValueError:
            return 400, {"__type": "SerializationException", "message": "the body is not JSON"}
        if not isinstance(entries, list) or not 1 <= len(entries) <= 10:
            return 400, {"__type": "ValidationException", "message": "Entries: 1 to 10 entries"}
        return 200, self.put_events(entries)


def _about(detail: Mapping[str, Any]) -> str:
    for key, id_key in (("refund", "refundId"), ("payment", "paymentId"), ("subscription", "recurringPaymentId"),
                        ("order", "orderId"), ("seller", "sellerId")):
        value = detail.get(key)
        if isinstance(value, dict) and value.get(id_key):
            owner = (detail.get("order") or {}).get("orderId") if key != "order" else None
            return str(value[id_key]) + (f" (order {owner})" if owner else "")
    if isinstance(detail.get("entitlements"), list):  # EntitlementsChanged: the user's, no order
        return f"entitlements of {detail.get('userId')}"
    return "-"


def _result_note(result: Any) -> str:
    if isinstance(result, dict):
        shown = {k: v for k, v in result.items() if isinstance(v, int | str | bool)}
        return f" {json.dumps(shown, separators=(',', ':'))}" if shown else ""
    return ""

"""The template's schedules, run by the local stack: every function with a ``ScheduleV2`` (or ``Schedule``) event
is invoked with what its schedule hands it (``devstack.lambda_events.scheduled_event``).

Locally every schedule runs every ``interval`` seconds (60 by default: ``make dev`` runs the reconciler every
minute, where the template's default is every 15), the first time ``interval`` after the stack is ready. A run that
changed something is logged with its answer; a quiet one is not. The same thread carries out work the stack
defers until no invocation is in progress (``then``: re-registering the webhooks after a reload).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.handlers import HandlerRuntime
from devstack.lambda_events import scheduled_event
from devstack.local_functions import LocalFunction
from devstack.template import load_template

SCHEDULE_TYPES = ("ScheduleV2", "Schedule")
DEFAULT_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True)
class Scheduled:
    function: str  # logical id
    name: str  # the event's name in the template
    event: dict[str, Any]  # what the schedule hands the function
    expression: str  # as the template writes it (locally: every interval)


def read_schedules(template: Path) -> list[Scheduled]:
    """Every schedule event of every function in the template."""
    found = []
    for logical_id, resource in (load_template(template).get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") in SCHEDULE_TYPES:
                props = event.get("Properties") or {}
                expression = props.get("ScheduleExpression") or props.get("Schedule")
                found.append(Scheduled(logical_id, name, scheduled_event(props), str(expression)))
    return found


class LocalSchedules:
    """``start()`` a thread that runs every schedule each ``interval`` seconds; ``stop()`` ends it."""

    def __init__(self, schedules: list[Scheduled], functions: list[LocalFunction], runtime: HandlerRuntime, *,
                 interval: float = DEFAULT_INTERVAL_SECONDS, log: Callable[[str], None] = print,
                 then: Callable[[], None] | None = None):
        by_id = {f.logical_id: f for f in functions}
        self.schedules = [s for s in schedules if s.function in by_id]
        self.functions = by_id
        self.runtime = runtime
        self.interval = interval
        self.log = log
        self.then = then
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="local-schedules", daemon=True)

    def start(self) -> LocalSchedules:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def run_all(self) -> list[Any]:
        """Run every schedule once now; their answers."""
        answers = []
        for schedule in self.schedules:
            try:
                answer = self.runtime.invoke(self.functions[schedule.function], dict(schedule.event))
            except Exception:
                self.log(f"{schedule.function} ({schedule.name}) raised:\n{traceback.format_exc()}")
                continue
            self.runs += 1
            answers.append(answer)
            if _did_something(answer):
                self.log(f"{schedule.function} ({schedule.name}, every {self.interval:g} s locally): {answer}")
        return answers

    def _loop(self) -> None:
        next_run = time.monotonic() + self.interval
        while not self._stop.wait(1.0):
            if self.then is not None:
                try:
                    self.then()
                except Exception:
                    self.log(f"local stack housekeeping failed:\n{traceback.format_exc()}")
            if time.monotonic() >= next_run:
                self.run_all()
                next_run = time.monotonic() + self.interval


def _did_something(answer: Any) -> bool:
    if not isinstance(answer, dict):
        return answer is not None
    return any(answer.get(key) for key in ("eventsApplied", "stuckSettled")) or answer.get("complete") is False

"""The reconciler's entry points: ``reconcile`` (both passes within a time budget), ``handler`` (the function's
``lambda_handler``: the schedule's runs, and the HTTP API's ``POST /admin/reconcile`` on the same code)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from payments.core.observability import logger, metrics, tracer
from payments.reconcile.events import apply_events
from payments.reconcile.stuck import settle_stuck

SCHEDULED_MARGIN_SECONDS = 20.0  # stop this long before the function's own timeout
ADMIN_BUDGET_SECONDS = 20.0  # POST /admin/reconcile: the HTTP API gives up on an answer after 30 s

LambdaHandler = Callable[[dict[str, Any], Any], Any]


def reconcile(budget_seconds: float) -> dict[str, Any]:
    """Apply Stripe's events since the checkpoint, then (once caught up) settle what is stuck; stop before
    ``budget_seconds`` have passed. Answers and logs the summary."""
    deadline = time.monotonic() + budget_seconds

    def time_left() -> float:
        return deadline - time.monotonic()

    events = apply_events(time_left)
    settled = settle_stuck(time_left) if events.complete and time_left() > 0 else 0
    summary = {"eventsSeen": events.seen, "eventsApplied": events.applied, "stuckSettled": settled,
               "checkpoint": events.checkpoint, "complete": events.complete}
    logger.info("reconciled", extra=summary)
    return summary


def budget(context: Any, *, cap: float | None = None, margin: float = SCHEDULED_MARGIN_SECONDS) -> float:
    """Seconds this invocation may spend: what Lambda leaves it, less ``margin``, at most ``cap``."""
    left = context.get_remaining_time_in_millis() / 1000.0 - margin if context is not None else 60.0
    return max(0.0, min(left, cap) if cap is not None else left)


def handler(http: LambdaHandler) -> LambdaHandler:
    """``ReconcileFunction``'s ``lambda_handler``: an HTTP API request (it has ``requestContext.http``) goes to
    ``http`` (the routes); anything else is the schedule, which runs the reconciler and returns its summary."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def scheduled(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return reconcile(budget(context))

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        if isinstance(event, dict) and isinstance((event.get("requestContext") or {}).get("http"), dict):
            return http(event, context)
        return scheduled(event, context)

    return lambda_handler

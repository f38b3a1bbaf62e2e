"""Logger, metrics and tracer: one of each per container, configured by Powertools' env settings.

The logger's correlation id is the API Gateway request id for HTTP calls and the Stripe event id for
webhooks. Nothing in the product logs a key, a secret, a client secret or card data.

The tracer is Powertools' ``Tracer`` either way, so its decorators behave the same; what it costs at a cold
start depends on whether X-Ray is on (docs/performance.md has the numbers):

- On (in Lambda with ``Tracing: Active``): it patches ``botocore``, which traces every AWS call
  (pynamodb's included), and ``requests``, which traces the Stripe SDK's calls, but only once something
  imports ``requests``: a function that never calls Stripe does not load it for the tracer's sake. Powertools'
  default patches every library the X-Ray SDK knows, which imports ``requests`` and ``sqlite3`` up front and
  records each DynamoDB call three times (botocore, pynamodb and http.client subsegments).
- Off (``POWERTOOLS_TRACE_DISABLED=true``, or outside Lambda, as Powertools decides): the X-Ray SDK is not
  imported at all; the decorators run over a provider that records nothing.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

__all__ = ["MetricUnit", "count", "lambda_handler_for", "logger", "metrics", "tracer"]

TRACED_MODULES = ("botocore",)  # and requests, when it is imported


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def tracing_enabled() -> bool:
    """Powertools' own rule: off when POWERTOOLS_TRACE_DISABLED is true, outside Lambda, and under sam local."""
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in ("1", "true", "t", "yes", "y", "on")
    in_lambda = bool(os.getenv("LAMBDA_TASK_ROOT")) and not os.getenv("AWS_SAM_LOCAL")
    return in_lambda and not disabled and not os.getenv("AWS_CHALICE_CLI_MODE")


class _NoSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None:
        pass

    def add_subsegment(self, subsegment: Any) -> None:
        pass

    def remove_subsegment(self, subsegment: Any) -> None:
        pass

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        pass


class _NoTracing(BaseProvider):
    """Tracing off: nothing recorded, and no X-Ray SDK imported."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[BaseSegment]:
        yield _NoSegment()

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[BaseSegment]:
        yield _NoSegment()

    def put_annotation(self, key: str, value: Any) -> None:
        pass

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        pass

    def patch(self, modules: Sequence[str]) -> None:
        pass

    def patch_all(self) -> None:
        pass


def _tracer() -> Tracer:
    if not tracing_enabled():
        return Tracer(disabled=True, auto_patch=False, provider=_NoTracing())
    traced = Tracer(patch_modules=TRACED_MODULES)
    import wrapt  # the X-Ray SDK's own dependency

    wrapt.register_post_import_hook(lambda _: traced.patch(["requests"]), "requests")
    return traced


logger = Logger()
metrics = Metrics()
tracer = _tracer()


def lambda_handler_for(handle: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """The ``lambda_handler`` of a function that is not an HTTP API or webhook one (stream, EventBridge, WebSocket):
    ``handle(event)`` inside the logger (fresh keys each invocation), metrics and tracer (no response capture)."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return handle(event)

    return lambda_handler

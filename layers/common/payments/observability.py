"""Logger, metrics and tracer: one of each per container, configured by Powertools' env settings.

The logger's correlation id is the API Gateway request id for HTTP calls and the Stripe event id for
webhooks. Nothing in the product logs a key, a secret, a client secret or card data.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "count", "logger", "metrics", "tracer"]


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

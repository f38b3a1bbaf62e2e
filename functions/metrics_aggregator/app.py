"""MetricsAggregatorFunction: each counted domain event (payments, refunds, paid orders, subscriptions) added to its
currency's daily aggregates, exactly once per ``eventId`` (``payments.metrics.aggregate``)."""

from payments.core.observability import lambda_handler_for
from payments.metrics.aggregate import aggregate

lambda_handler = lambda_handler_for(aggregate)

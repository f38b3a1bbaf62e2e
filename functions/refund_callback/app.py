"""RefundCallbackFunction: Stripe's refund events (ours and the Dashboard's), through its own URL and secret."""

from payments.observability import logger, metrics, tracer
from payments.refund_events import REFUND_RULES
from payments.webhooks import WebhookEndpoint

endpoint = WebhookEndpoint("refund", REFUND_RULES)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return endpoint(event)

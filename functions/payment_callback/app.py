"""PaymentCallbackFunction: Stripe's one-time payment events, through its own Function URL and secret."""

from payments.observability import logger, metrics, tracer
from payments.payment_events import PAYMENT_RULES
from payments.webhooks import WebhookEndpoint

endpoint = WebhookEndpoint("payment", PAYMENT_RULES)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return endpoint(event)

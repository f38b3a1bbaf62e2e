"""RenewalCallbackFunction: subscription invoices (the first payment and every renewal), own URL and secret."""

from payments.observability import logger, metrics, tracer
from payments.renewal_events import RENEWAL_RULES
from payments.webhooks import WebhookEndpoint

endpoint = WebhookEndpoint("renewal", RENEWAL_RULES)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return endpoint(event)

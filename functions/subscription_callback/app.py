"""SubscriptionCallbackFunction: Stripe's subscription lifecycle events, through its own URL and secret."""

from payments.observability import logger, metrics, tracer
from payments.subscription_events import SUBSCRIPTION_RULES
from payments.webhooks import WebhookEndpoint

endpoint = WebhookEndpoint("subscription", SUBSCRIPTION_RULES)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return endpoint(event)

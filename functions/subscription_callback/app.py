"""SubscriptionCallbackFunction: Stripe's subscription lifecycle events and the customer's entitlement summaries,
own Function URL and secret."""

from payments.webhooks.endpoints import webhook_endpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = webhook_endpoint("subscription")  # its rules and event types: payments.webhooks.endpoints
lambda_handler = webhook_handler(endpoint)

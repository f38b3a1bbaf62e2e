"""PaymentCallbackFunction: Stripe's one-time payment events, through its own Function URL and signing secret."""

from payments.webhooks.endpoints import webhook_endpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = webhook_endpoint("payment")  # its rules and event types: payments.webhooks.endpoints
lambda_handler = webhook_handler(endpoint)

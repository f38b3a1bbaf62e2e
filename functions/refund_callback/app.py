"""RefundCallbackFunction: Stripe's refund events (ours and the Dashboard's), own Function URL and secret."""

from payments.webhooks.endpoints import webhook_endpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = webhook_endpoint("refund")  # its rules and event types: payments.webhooks.endpoints
lambda_handler = webhook_handler(endpoint)

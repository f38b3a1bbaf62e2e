"""RenewalCallbackFunction: subscription invoices (the first payment and every renewal), own URL and secret."""

from payments.webhooks.endpoints import webhook_endpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = webhook_endpoint("renewal")  # its rules and event types: payments.webhooks.endpoints
lambda_handler = webhook_handler(endpoint)

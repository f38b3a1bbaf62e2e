"""RefundCallbackFunction: Stripe's refund events (ours and the Dashboard's), own Function URL and secret."""

from payments.refunds.events import REFUND_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("refund", REFUND_RULES)
lambda_handler = webhook_handler(endpoint)

"""PaymentCallbackFunction: Stripe's one-time payment events, through its own Function URL and signing secret."""

from payments.checkout.events import PAYMENT_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("payment", PAYMENT_RULES)
lambda_handler = webhook_handler(endpoint)

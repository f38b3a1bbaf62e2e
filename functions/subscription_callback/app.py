"""SubscriptionCallbackFunction: Stripe's subscription lifecycle events, own Function URL and secret."""

from payments.subscriptions.events import SUBSCRIPTION_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("subscription", SUBSCRIPTION_RULES)
lambda_handler = webhook_handler(endpoint)

"""SubscriptionCallbackFunction: Stripe's subscription lifecycle events and the customer's entitlement summaries,
own Function URL and secret."""

from payments.billing.entitlements import ENTITLEMENT_RULES
from payments.subscriptions.events import SUBSCRIPTION_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("subscription", {**SUBSCRIPTION_RULES, **ENTITLEMENT_RULES})
lambda_handler = webhook_handler(endpoint)

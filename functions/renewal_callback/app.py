"""RenewalCallbackFunction: subscription invoices (the first payment and every renewal), own URL and secret."""

from payments.subscriptions.renewals import RENEWAL_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("renewal", RENEWAL_RULES)
lambda_handler = webhook_handler(endpoint)

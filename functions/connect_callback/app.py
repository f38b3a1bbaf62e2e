"""ConnectCallbackFunction: Stripe Connect events (account.updated: a seller's status), own Function URL and secret.

Its Stripe endpoint is a Connect endpoint: it receives the connected accounts' events, each carrying ``account``.
"""

from payments.sellers.events import CONNECT_RULES
from payments.webhooks.pipeline import WebhookEndpoint, webhook_handler

endpoint = WebhookEndpoint("connect", CONNECT_RULES, connected_accounts=True)
lambda_handler = webhook_handler(endpoint)

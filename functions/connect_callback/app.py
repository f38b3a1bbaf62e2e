"""ConnectCallbackFunction: Stripe Connect events (account.updated: a seller's status), own Function URL and secret.

Its Stripe endpoint is a Connect endpoint: it receives the connected accounts' events, each carrying ``account``.
"""

from payments.webhooks.endpoints import webhook_endpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = webhook_endpoint("connect")  # its rules and event types: payments.webhooks.endpoints
lambda_handler = webhook_handler(endpoint)

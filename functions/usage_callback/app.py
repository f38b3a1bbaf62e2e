"""UsageCallbackFunction: the Billing Meters' error reports (thin events), own Function URL and signing secret."""

from payments.usage.errors import MeterErrorEndpoint
from payments.webhooks.pipeline import webhook_handler

endpoint = MeterErrorEndpoint()
lambda_handler = webhook_handler(endpoint)

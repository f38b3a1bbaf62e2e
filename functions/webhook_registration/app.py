"""WebhookRegistrationFunction: the custom resource (RegisterStripeWebhooks=true) that creates, updates and deletes
the callbacks' webhook endpoints at Stripe and writes their signing secrets (payments.webhooks.registration).

crhelper speaks CloudFormation's custom-resource protocol: it always answers the response URL, FAILED with the
reason when anything raises, and before the function would time out, so a stack never hangs on it.
"""

from crhelper import CfnResource

from payments.webhooks import registration


def lambda_handler(event, context):
    # crhelper's helper is made per invocation: it creates AWS clients, which nothing does at import.
    helper = CfnResource(json_logging=False, log_level="INFO", boto_level="CRITICAL", sleep_on_delete=0)

    @helper.create
    @helper.update
    def create_or_update(request, _context):
        physical_id, data = registration.create_or_update(request)
        helper.Data.update(data)
        return physical_id

    @helper.delete
    def delete(request, _context):
        registration.delete(request)

    helper(event, context)


def sync_endpoints(urls, request_id):
    """The same registration for the local stack (make dev), which has no CloudFormation: ``{name: secret}`` of
    the endpoints created now."""
    return registration.sync("local", registration.wanted(urls), request_id=request_id).secrets

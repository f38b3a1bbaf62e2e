"""Lambda events as AWS delivers them, for the local stack, tests, sample files and ``sam local invoke``.

One module per kind of event, all built on :mod:`~devstack.lambda_events.common` (the example account
and region, AWS-shaped ids and times, reading a sample file):

* :mod:`~devstack.lambda_events.http`: API Gateway HTTP API and Function URL events (payload 2.0),
  from a real request (the local stack) or from parameters (tests, samples);
* :mod:`~devstack.lambda_events.stripe_webhooks`: Stripe's signed deliveries to the callbacks' Function
  URLs, and re-signing a stored sample (``python -m devstack.lambda_events resign ...``);
* :mod:`~devstack.lambda_events.stripe_eventbridge`: Stripe's events as an EventBridge rule hands them to a
  callback (the partner event envelope);
* :mod:`~devstack.lambda_events.schedules`: what a ``ScheduleV2`` schedule hands its target;
* :mod:`~devstack.lambda_events.cloudformation`: custom-resource requests (Create, Update, Delete).

* :mod:`~devstack.lambda_events.dynamodb_streams`: DynamoDB Streams batches as an event source mapping
  delivers them;
* :mod:`~devstack.lambda_events.eventbridge`: EventBridge events as a rule's Lambda target receives them;
* :mod:`~devstack.lambda_events.websocket`: API Gateway WebSocket events (the ``REQUEST`` authorizer's,
  ``$connect`` / ``$disconnect`` / messages).

A new kind (scheduled events, CloudFormation custom resource requests) is a new module here, on the
same ``common`` helpers. Standard library only.
"""

from devstack.lambda_events.cloudformation import custom_resource_request
from devstack.lambda_events.common import ACCOUNT_ID, REGION, load_event
from devstack.lambda_events.http import (
    HttpRequest,
    function_url_event,
    function_url_event_for,
    http_api_event,
    http_api_event_for,
    payload_v2_event,
    user_claims,
)
from devstack.lambda_events.schedules import scheduled_event
from devstack.lambda_events.stripe_eventbridge import stripe_eventbridge_event
from devstack.lambda_events.stripe_webhooks import (
    LOCAL_WEBHOOK_SECRETS,
    event_body_bytes,
    resign_event,
    signed_webhook_event,
)

__all__ = [
    "ACCOUNT_ID",
    "LOCAL_WEBHOOK_SECRETS",
    "REGION",
    "HttpRequest",
    "custom_resource_request",
    "event_body_bytes",
    "function_url_event",
    "function_url_event_for",
    "http_api_event",
    "http_api_event_for",
    "load_event",
    "payload_v2_event",
    "resign_event",
    "scheduled_event",
    "signed_webhook_event",
    "stripe_eventbridge_event",
    "user_claims",
]

"""CloudFormation's custom-resource requests, as a custom resource's function receives them (Create, Update,
Delete), with the response URL it must answer (a pre-signed S3 URL in AWS; anything in tests)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from devstack.lambda_events.common import ACCOUNT_ID, REGION

STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/payments/4d2f1c80-0000-11ef-8000-0a1b2c3d4e5f"


def custom_resource_request(request_type: str, properties: Mapping[str, Any], *, response_url: str,
                            logical_id: str = "StripeWebhooks", resource_type: str = "Custom::StripeWebhooks",
                            physical_id: str | None = None, old_properties: Mapping[str, Any] | None = None,
                            stack_id: str = STACK_ID, request_id: str | None = None) -> dict[str, Any]:
    """A ``Create`` / ``Update`` / ``Delete`` request for the resource ``logical_id``."""
    service_token = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:payments-WebhookRegistrationFunction:live"
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": response_url,
        "StackId": stack_id,
        "RequestId": request_id or str(uuid.uuid4()),
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": {"ServiceToken": service_token, **properties},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = {"ServiceToken": service_token, **old_properties}
    return event

"""Setup without the Dashboard: the custom resource that registers the callbacks' webhook endpoints at Stripe.

Driven with CloudFormation's own Create, Update and Delete requests; an HTTPS loopback server stands in for the
pre-signed response URL; the endpoints are the emulator's, the secrets moto's Secrets Manager.
"""

from __future__ import annotations

import json

import boto3
import pytest
import stripe

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import custom_resource_request
from payments.webhooks import endpoints, registration
from tests.support.cfn_response import CfnResponses
from tests.support.stub_http import closed_port_url

pytestmark = pytest.mark.emulator

URLS = {name: f"https://{name}-callback.lambda-url.us-east-1.on.aws/" for name in endpoints.NAMES}


@pytest.fixture
def secrets(aws):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arns = {name: client.create_secret(Name=f"payments/{name}-webhook",
                                       SecretString='{"signingSecret": ""}')["ARN"] for name in endpoints.NAMES}
    return client, arns


@pytest.fixture
def cfn():
    with CfnResponses() as responses:
        yield responses


def properties(arns, urls=None):
    return {"CodeVersion": "1", "Endpoints": {name: {"Url": (urls or URLS)[name], "SecretArn": arns[name]}
                                              for name in endpoints.NAMES}}


def send(handler, cfn, request_type, props, **kwargs):
    event = custom_resource_request(request_type, props, response_url=cfn.url(), **kwargs)
    handler.lambda_handler(event, LambdaContext(function_name="WebhookRegistrationFunction", remaining_ms=120_000))
    return cfn.wait(len(cfn.received))


def registered(client):
    return {e.metadata["endpoint"]: e for e in client.v1.webhook_endpoints.list({"limit": 100}).data}


def signing_secret(secrets_client, arn):
    return json.loads(secrets_client.get_secret_value(SecretId=arn)["SecretString"])["signingSecret"]


def test_create_update_and_delete_keep_exactly_the_callbacks_endpoints_and_their_secrets(
        stripe_env, secrets, cfn, webhook_registration_handler):
    client = stripe_env.client()
    secrets_client, arns = secrets

    created = send(webhook_registration_handler, cfn, "Create", properties(arns))

    assert created["Status"] == "SUCCESS", created
    found = registered(client)
    assert set(found) == set(endpoints.NAMES)
    for name, endpoint in found.items():
        assert tuple(sorted(endpoint.enabled_events)) == endpoints.spec(name).event_types()
        assert endpoint.url == URLS[name] and endpoint.api_version == stripe.api_version
        assert created["Data"][f"{name.capitalize()}EndpointId"] == endpoint.id
    written = {name: signing_secret(secrets_client, arns[name]) for name in endpoints.NAMES}
    assert all(s.startswith("whsec_") for s in written.values()) and len(set(written.values())) == len(endpoints.NAMES)
    physical_id = created["PhysicalResourceId"]

    # The payment callback's URL changes (a new Function URL): updated in place, same id, same secret
    moved = {**URLS, "payment": "https://new-payment-callback.lambda-url.us-east-1.on.aws/"}
    updated = send(webhook_registration_handler, cfn, "Update", properties(arns, moved), physical_id=physical_id,
                   old_properties=properties(arns))

    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == physical_id
    after = registered(client)
    assert {n: e.id for n, e in after.items()} == {n: e.id for n, e in found.items()}
    assert after["payment"].url == moved["payment"]
    assert {name: signing_secret(secrets_client, arns[name]) for name in endpoints.NAMES} == written

    deleted = send(webhook_registration_handler, cfn, "Delete", properties(arns, moved), physical_id=physical_id)

    assert deleted["Status"] == "SUCCESS"
    assert registered(client) == {}


def test_an_endpoint_of_another_api_version_is_replaced_and_its_new_secret_written(
        stripe_env, secrets, cfn, webhook_registration_handler, monkeypatch):
    client = stripe_env.client()
    secrets_client, arns = secrets
    with monkeypatch.context() as older_sdk:
        older_sdk.setattr(registration, "pinned_api_version", lambda: "2025-03-31.basil")
        physical_id = send(webhook_registration_handler, cfn, "Create", properties(arns))["PhysicalResourceId"]
    before = registered(client)
    old_secrets = {name: signing_secret(secrets_client, arns[name]) for name in endpoints.NAMES}

    updated = send(webhook_registration_handler, cfn, "Update", {**properties(arns), "CodeVersion": "2"},
                   physical_id=physical_id, old_properties=properties(arns))

    assert updated["Status"] == "SUCCESS" and updated["PhysicalResourceId"] == physical_id
    after = registered(client)
    assert {e.api_version for e in after.values()} == {stripe.api_version} and len(after) == len(endpoints.NAMES)
    assert not {e.id for e in after.values()} & {e.id for e in before.values()}  # the old ones are gone
    new_secrets = {name: signing_secret(secrets_client, arns[name]) for name in endpoints.NAMES}
    assert all(new_secrets[n] != old_secrets[n] for n in endpoints.NAMES)


def test_a_stripe_failure_answers_failed_with_a_reason_and_leaves_nothing(
        stripe_env, secrets, cfn, webhook_registration_handler, monkeypatch):
    _, arns = secrets
    monkeypatch.setenv("STRIPE_API_BASE", closed_port_url())
    monkeypatch.setenv("STRIPE_MAX_NETWORK_RETRIES", "0")
    from tests.support import reset_clients

    reset_clients()
    failed = send(webhook_registration_handler, cfn, "Create", properties(arns))

    assert failed["Status"] == "FAILED" and "unavailable" in failed["Reason"]
    monkeypatch.setenv("STRIPE_API_BASE", stripe_env.url)
    reset_clients()
    # CloudFormation rolls the create back with a Delete of whatever id it was given: nothing is left
    rolled_back = send(webhook_registration_handler, cfn, "Delete", properties(arns),
                       physical_id=failed["PhysicalResourceId"])
    assert rolled_back["Status"] == "SUCCESS" and registered(stripe_env.client()) == {}


def test_bad_properties_answer_failed_naming_what_is_missing(stripe_env, secrets, cfn, webhook_registration_handler):
    failed = send(webhook_registration_handler, cfn, "Create", {"Endpoints": {"payment": {"Url": URLS["payment"]}}})

    assert failed["Status"] == "FAILED" and "Endpoints.payment" in failed["Reason"]
    assert registered(stripe_env.client()) == {}


def test_a_create_cut_short_leaves_nothing_after_the_rollback_delete(
        stripe_env, secrets, cfn, webhook_registration_handler, monkeypatch):
    _, arns = secrets
    written = []

    def failing_write(arn, secret):
        written.append(arn)
        if len(written) == 2:
            raise RuntimeError("AccessDenied writing the secret")

    monkeypatch.setattr(registration, "write_signing_secret", failing_write)
    failed = send(webhook_registration_handler, cfn, "Create", properties(arns))
    assert failed["Status"] == "FAILED" and "AccessDenied" in failed["Reason"]
    assert registered(stripe_env.client())  # some were created before the failure

    send(webhook_registration_handler, cfn, "Delete", properties(arns), physical_id=failed["PhysicalResourceId"])
    assert registered(stripe_env.client()) == {}


def test_a_delete_without_a_usable_api_key_answers_success_so_the_stack_can_go(
        stripe_env, secrets, cfn, webhook_registration_handler, monkeypatch):
    _, arns = secrets
    monkeypatch.setenv("STRIPE_SECRET_KEY", "")  # the API key secret was deleted, say
    monkeypatch.delenv("STRIPE_SECRET_ARN", raising=False)
    from tests.support import reset_clients

    reset_clients()
    deleted = send(webhook_registration_handler, cfn, "Delete", properties(arns),
                   physical_id="stripe-webhooks:4d2f1c80-0000-11ef-8000-0a1b2c3d4e5f")
    assert deleted["Status"] == "SUCCESS"
    created = send(webhook_registration_handler, cfn, "Create", properties(arns))
    assert created["Status"] == "FAILED" and "STRIPE_SECRET_KEY" in created["Reason"]  # a create still fails

"""``make deploy-user``: a user of the stack's Cognito pool, in the admin group when asked, and a token the HTTP
API's authorizer takes (its ``aud`` is the app client, its groups claim holds ``admin``). Against moto."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from moto import mock_aws

from devstack import deploy_user


@pytest.fixture
def pool():
    with mock_aws():
        cognito = boto3.client("cognito-idp", region_name="us-east-1")
        pool_id = cognito.create_user_pool(PoolName="payments-users", UsernameAttributes=["email"])["UserPool"]["Id"]
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id, ClientName="app",
            ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                               "ALLOW_ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
        cognito.create_group(GroupName="admin", UserPoolId=pool_id)
        yield cognito, pool_id, client_id


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_an_admin_is_created_and_gets_a_token_the_authorizer_takes(pool):
    cognito, pool_id, client_id = pool
    said = []

    token = deploy_user.ensure_user(cognito, pool_id, client_id, "ada@example.com", admin=True, say=said.append)

    got = claims(token)
    assert got["aud"] == client_id and got["email"] == "ada@example.com" and got["cognito:groups"] == ["admin"]
    assert got["token_use"] == "id" and got["sub"]
    assert said == ["created user ada@example.com", "ada@example.com is in the admin group"]


def test_an_existing_user_gets_a_new_token_and_no_admin_group_unless_asked(pool):
    cognito, pool_id, client_id = pool
    first = claims(deploy_user.ensure_user(cognito, pool_id, client_id, "bob@example.com", admin=False,
                                           say=lambda _: None))
    said = []
    again = claims(deploy_user.ensure_user(cognito, pool_id, client_id, "bob@example.com", admin=False,
                                           say=said.append))
    assert again["sub"] == first["sub"] and "cognito:groups" not in again
    assert said == ["user bob@example.com exists"]


def test_a_stack_without_its_own_pool_is_explained(pool, capsys):
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    cloudformation.create_stack(StackName="payments", TemplateBody=json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))

    assert deploy_user.main(["--user", "ada@example.com", "--stack", "payments", "--region", "us-east-1"]) == 1
    assert "no UserPoolId output" in capsys.readouterr().err
    assert deploy_user.main(["--user", "ada", "--stack", "payments"]) == 2

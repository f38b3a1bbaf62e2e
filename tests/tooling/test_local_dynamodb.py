"""The local stack's DynamoDB: moto's server, one request at a time, so that concurrent transactions never
undo each other's commits (moto's own transactions are not isolated between threads)."""

from __future__ import annotations

import boto3
import pytest

from devstack.local_dynamodb import serve_dynamodb
from tests.support.local_stack import request
from tests.support.races import race

TEMPLATE = {"Resources": {"Things": {"Type": "AWS::DynamoDB::Table", "Properties": {
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}}}}


@pytest.fixture
def dynamodb():
    server = serve_dynamodb("127.0.0.1", 0, TEMPLATE)
    yield boto3.client("dynamodb", endpoint_url=server.url, region_name="us-east-1",
                       aws_access_key_id="local", aws_secret_access_key="local")
    # moto keeps its state per process, not per server: leave none behind for the tests that follow
    request("POST", f"{server.url}/moto-api/reset")
    server.stop()


def test_the_templates_tables_are_served(dynamodb):
    assert dynamodb.list_tables()["TableNames"] == ["Things"]


def test_a_failed_transaction_never_undoes_a_concurrent_commit(dynamodb):
    # Given many clients at once: half commit one new item each in a transaction, half run a long
    # transaction whose last condition fails (moto then puts back its copy of the table)
    def put(name: str) -> dict:
        return {"Put": {"TableName": "Things", "Item": {"id": {"S": name}}}}

    missing = {"ConditionCheck": {"TableName": "Things", "Key": {"id": {"S": "missing"}},
                                  "ConditionExpression": "attribute_exists(id)"}}

    def transact(round_: int, index: int) -> str | None:
        name = f"thing-{round_}-{index}"
        if index % 2:
            dynamodb.transact_write_items(TransactItems=[put(name)])
            return name
        doomed = [put(f"{name}-{n}") for n in range(60)] + [missing]
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=doomed)
        return None

    committed = []
    for round_ in range(10):
        committed += [name for name in race(16, lambda i, r=round_: transact(r, i)) if name]
    # Then every committed item is still there, and nothing of a failed transaction
    items = dynamodb.scan(TableName="Things")["Items"]
    assert sorted(item["id"]["S"] for item in items) == sorted(committed)

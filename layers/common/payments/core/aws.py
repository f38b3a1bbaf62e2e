"""The one AWS session of a container: pynamodb's connection (every table uses it) and the clients made from
that connection's botocore session (Secrets Manager, and whatever else a function calls).

A botocore session costs about 70 ms of a cold start, so there is one (docs/performance.md). Nothing here is
created at import time: the first call creates it, so a SnapStart snapshot holds no client or credential.
Endpoints follow the standard AWS SDK overrides (``AWS_ENDPOINT_URL_DYNAMODB``, ...), which botocore reads.
"""

from __future__ import annotations

import functools
from typing import Any

from pynamodb.connection import Connection


@functools.cache
def dynamodb(region: str) -> Connection:
    """The pynamodb connection every model shares (bound in ``payments.data.store``)."""
    return Connection(region=region)


@functools.cache
def client(service: str, region: str, endpoint_url: str | None = None) -> Any:
    """A botocore client for ``service``, from the same session as DynamoDB's (``endpoint_url`` for an API that
    has one per resource, as API Gateway's management API has one per WebSocket API and stage)."""
    return dynamodb(region).session.create_client(service, region_name=region, endpoint_url=endpoint_url)


def reset() -> None:
    """Forget the connection and clients (tests, and the local stack after it changes the environment)."""
    client.cache_clear()
    dynamodb.cache_clear()

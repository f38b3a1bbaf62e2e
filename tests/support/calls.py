"""Count the DynamoDB API calls the product makes (boto3 and pynamodb both go through botocore)."""

from __future__ import annotations

import threading
from typing import Any
from unittest import mock

from botocore.client import BaseClient


class DynamoDBCalls:
    def __init__(self) -> None:
        self.operations: list[str] = []
        self._lock = threading.Lock()
        self._original = BaseClient._make_api_call
        self._patch: Any = None

    def __enter__(self) -> DynamoDBCalls:
        original, calls = self._original, self

        def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name == "dynamodb":
                with calls._lock:
                    calls.operations.append(operation)
            return original(client, operation, params)

        self._patch = mock.patch.object(BaseClient, "_make_api_call", counting)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()

    def reset(self) -> None:
        with self._lock:
            self.operations.clear()

    @property
    def count(self) -> int:
        return len(self.operations)


class SerializedRequests:
    """One lock around each AWS request moto serves, as DynamoDB applies each request atomically.

    moto's TransactWriteItems is not isolated between threads (a failed condition restores a copy of
    every table it touched, undoing other threads' commits). With this, each request is atomic, and
    the product's own requests still race each other between calls, which is what a race test tests.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patch: Any = None

    def __enter__(self) -> SerializedRequests:
        original, lock = BaseClient._make_api_call, self._lock

        def serialized(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            with lock:
                return original(client, operation, params)

        self._patch = mock.patch.object(BaseClient, "_make_api_call", serialized)
        self._patch.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.stop()

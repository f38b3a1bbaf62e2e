"""Calling the HTTP API functions as API Gateway would, as a given user."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from devstack.lambda_events import http_api_event, user_claims
from tests.support.invoke import Answer, invoke

ALICE = "user-alice"
BOB = "user-bob"
ADMIN = "admin-ada"


def as_user(user_id: str | None, *, admin: bool = False, groups_format: str = "list") -> dict[str, Any] | None:
    if user_id is None:
        return None
    return user_claims(user_id, groups=["admin"] if admin else None, groups_format=groups_format)


def call(module: ModuleType, method: str, route: str, *, user: str | None = ALICE, admin: bool = False,
         body: Any = None, path: dict[str, str] | None = None, query: dict[str, str] | None = None,
         groups_format: str = "list", headers: dict[str, str] | None = None) -> Answer:
    event = http_api_event(method, route, path_params=path, body=body, query=query, headers=headers,
                           claims=as_user(user, admin=admin, groups_format=groups_format))
    return invoke(module, event)


def admin_order(orders: ModuleType, *, user: str = ALICE, amount: int = 1999, currency: str = "usd",
                description: str = "Invoice 42") -> dict[str, Any]:
    answer = call(orders, "POST", "/orders", user=ADMIN, admin=True,
                  body={"userId": user, "amount": amount, "currency": currency, "description": description})
    assert answer.status == 201, answer.body
    return answer.body


def get_order(orders: ModuleType, order_id: str, *, user: str = ALICE, admin: bool = False) -> Answer:
    return call(orders, "GET", "/orders/{orderId}", user=user, admin=admin, path={"orderId": order_id})

"""The Stripe customer portal: ``POST /billing-portal`` ``{"returnUrl"}`` -> 201 ``{"url"}``.

A portal session for the caller's own Stripe customer (404 ``no_customer`` when they have none yet: they have never
subscribed nor saved a card). ``returnUrl`` must be on an allowed origin (``ALLOWED_REDIRECT_ORIGINS``), like
Checkout's redirects. What the user changes there (cancel, switch plan, a new card) reaches us through the
callbacks like any other change: the subscription callback moves the record (price, status, cancel at period end),
the renewal callback makes the orders of the invoices it causes.

The session is made through ``PortalAtStripe``, a ``RecordFirst`` whose record is the caller's customer row (read,
not written: a portal session holds no money and nothing of ours waits for it). Its key is
``<userId>:portal:<request id>``: the SDK's retries of this request get the same session, and every new request a
new one (a portal session expires within minutes, so an earlier one is no answer to a later request).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.config import get_settings
from payments.core.errors import ApiError, NotFound
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count
from payments.data import customers as customer_store
from payments.record_first import RecordFirst
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripePortalSession


@dataclass(frozen=True)
class PortalRequest:
    user_id: str
    customer_id: str
    return_url: str
    request_id: str


class PortalAtStripe(RecordFirst[PortalRequest, StripePortalSession]):
    name = "Portal"

    def __init__(self, caller: Caller, return_url: str):
        self.caller, self.return_url = caller, return_url

    def reserve(self) -> PortalRequest:
        row = customer_store.get(self.caller.user_id)
        if row is None or not row.stripe_customer_id:
            raise NotFound("you have no billing account yet: subscribe or save a card first", code="no_customer")
        return PortalRequest(self.caller.user_id, str(row.stripe_customer_id), self.return_url, new_id("req"))

    def record_id(self, record: PortalRequest) -> str:
        return f"{record.user_id}:portal:{record.request_id}"

    def idempotency_key(self, record: PortalRequest) -> str:
        return self.record_id(record)

    def call(self, record: PortalRequest, idempotency_key: str) -> StripePortalSession:
        return stripe_api.create_portal_session(idempotency_key=idempotency_key, customer_id=record.customer_id,
                                                return_url=record.return_url)

    def record(self, record: PortalRequest, answer: StripePortalSession) -> None:
        count("PortalSessionCreated")  # nothing to keep: the session is the customer's for a few minutes

    def release(self, record: PortalRequest, error: ApiError) -> None:
        """Nothing was held."""


def open_portal(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    return_url = validation.redirect_url(body, "returnUrl", required=True,
                                         allowed_origins=get_settings().redirect_origins)
    assert return_url is not None
    _, session = PortalAtStripe(caller, return_url).run()
    return {"url": session.url}

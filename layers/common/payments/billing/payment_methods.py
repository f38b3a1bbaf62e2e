"""Saved payment methods, always the caller's own: set one up, list them, choose the default, delete one.

**Whose it is** is Stripe's link, not a label: a payment method is the caller's when Stripe says it is attached to
the caller's own Stripe customer (the one ``CustomersTable`` holds for them). Any other id, another user's
included, is a 404 ``payment_method_not_found``, the same as an id that does not exist, on every route.

- ``POST /payment-methods/setup``: a SetupIntent for later off-session use (``SetupAtStripe``, a ``RecordFirst``
  on the caller's customer row: the row is marked with our request id first, Stripe is called with the key
  ``<setupRequestId>:create``, and the SetupIntent's id is kept on the row). Asking again while that SetupIntent
  is still open answers it again. The app confirms it with Stripe.js (``confirmCardSetup``) or a mobile SDK; the
  card is then attached to the customer by Stripe. The user's first setup makes their Stripe customer.
- ``GET /payment-methods``: the customer's cards at Stripe, each ``{id, brand, last4, expMonth, expYear,
  default}`` (``default``: the customer's ``invoice_settings.default_payment_method``, which subscriptions
  charge). A user without a customer has none (no Stripe call).
- ``POST /payment-methods/{id}/default``: that card becomes the customer's default; 200 with the list.
- ``DELETE /payment-methods/{id}``: detached at Stripe; 204.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.config import get_settings
from payments.core.errors import ApiError, InvalidField, NotFound
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count
from payments.core.retry import retry_on_conflict
from payments.data import customers as customer_store
from payments.data.models import CustomerRecord
from payments.record_first import RecordFirst, busy
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeResourceMissing
from payments.stripe.objects import StripePaymentMethod, StripeSetupIntent, is_stripe_id
from payments.subscriptions.customers import ensure_customer


def _not_found() -> NotFound:
    return NotFound("no such payment method", code="payment_method_not_found")


def parse_id(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    """A payment method id in a request body (``pm_...``)."""
    value = validation.identifier(body, name, required=required)
    if value is not None and not is_stripe_id(value, "pm_"):
        raise InvalidField(name, "is not a payment method id (pm_...)")
    return value


def _customer_id(caller: Caller) -> str | None:
    record = customer_store.get(caller.user_id)
    return str(record.stripe_customer_id) if record is not None and record.stripe_customer_id else None


def require_own(caller: Caller, payment_method_id: str) -> StripePaymentMethod:
    """The caller's own saved payment method, or a 404 (whoever else's it is, or none)."""
    customer_id = _customer_id(caller) if is_stripe_id(payment_method_id, "pm_") else None
    if customer_id is None:
        raise _not_found()
    try:
        method = stripe_api.retrieve_payment_method(payment_method_id)
    except StripeResourceMissing:
        raise _not_found() from None
    if method.customer_id != customer_id:
        raise _not_found()
    return method


def _view(method: StripePaymentMethod, default_id: str | None) -> dict[str, Any]:
    return {"id": method.id, "brand": method.brand, "last4": method.last4, "expMonth": method.exp_month,
            "expYear": method.exp_year, "default": method.id == default_id}


def _listing(customer_id: str, default_id: str | None = None, *, known: bool = False) -> dict[str, Any]:
    """The customer's cards; ``known``: ``default_id`` is the customer's default already (no need to read it)."""
    if not known:
        default_id = stripe_api.retrieve_customer(customer_id).default_payment_method_id
    return {"paymentMethods": [_view(m, default_id) for m in stripe_api.list_payment_methods(customer_id)]}


def list_payment_methods(caller: Caller) -> dict[str, Any]:
    customer_id = _customer_id(caller)
    return _listing(customer_id) if customer_id else {"paymentMethods": []}


def set_default(caller: Caller, payment_method_id: str) -> dict[str, Any]:
    method = require_own(caller, payment_method_id)
    customer_id = method.customer_id or ""
    # An update, not a create: a fresh key per request, so "A, then B, then A again" is not replayed as the first.
    updated = stripe_api.set_default_payment_method(customer_id, method.id,
                                                    idempotency_key=f"{caller.user_id}:default:{new_id('req')}")
    count("PaymentMethodDefaultSet")
    return _listing(customer_id, updated.default_payment_method_id, known=True)


def delete(caller: Caller, payment_method_id: str) -> None:
    method = require_own(caller, payment_method_id)
    stripe_api.detach_payment_method(method.id, idempotency_key=f"{method.id}:detach")
    count("PaymentMethodDetached")


# --- setting one up ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupRequest:
    user_id: str
    customer_id: str
    request_id: str  # ours: keys the Stripe call


class SetupAtStripe(RecordFirst[SetupRequest, StripeSetupIntent]):
    """A SetupIntent for the user's customer, marked on their customer row before Stripe is called."""

    name = "Setup"

    def __init__(self, row: CustomerRecord):
        self.row = row

    def reserve(self) -> SetupRequest:
        request_id = new_id("seti_req")
        customer_store.mark_setup(self.row.user_id, request_id, previous=self.row.setup_request_id)
        return SetupRequest(self.row.user_id, str(self.row.stripe_customer_id), request_id)

    def record_id(self, record: SetupRequest) -> str:
        return record.request_id

    def call(self, record: SetupRequest, idempotency_key: str) -> StripeSetupIntent:
        return stripe_api.create_setup_intent(idempotency_key=idempotency_key, customer_id=record.customer_id,
                                              metadata={"userId": record.user_id})

    def record(self, record: SetupRequest, answer: StripeSetupIntent) -> None:
        customer_store.record_setup(record.user_id, record.request_id, answer.id)

    def release(self, record: SetupRequest, error: ApiError) -> None:
        customer_store.release_setup(record.user_id, record.request_id)


def start_setup(caller: Caller) -> dict[str, Any]:
    ensure_customer(caller.user_id)

    def attempt() -> StripeSetupIntent:
        row = customer_store.get(caller.user_id)
        assert row is not None and row.stripe_customer_id
        intent = _open_setup(row)
        if intent is not None:
            return intent
        action = SetupAtStripe(row)
        return action.complete(action.reserve())  # a lost race to mark the row: read again, decide again

    intent = retry_on_conflict(attempt, busy)
    count("SetupStarted")
    return {"clientSecret": intent.client_secret, "publishableKey": get_settings().stripe_publishable_key(),
            "setupIntentId": intent.id}


def _open_setup(row: CustomerRecord) -> StripeSetupIntent | None:
    """The user's SetupIntent while it is still open (or still being made: the same key finishes it)."""
    if row.setup_request_id and not row.stripe_setup_intent_id:
        request = SetupRequest(row.user_id, str(row.stripe_customer_id), str(row.setup_request_id))
        return SetupAtStripe(row).complete(request)
    if not row.stripe_setup_intent_id:
        return None
    try:
        intent = stripe_api.retrieve_setup_intent(str(row.stripe_setup_intent_id))
    except StripeResourceMissing:
        return None
    return intent if intent.is_open else None

"""A local Stripe emulator: localstripe plus the parts of the Stripe API this project uses.

localstripe (https://github.com/adrienverge/localstripe) is a stateful, in-memory fake of the
Stripe API. This module extends it *in process*, through its own extension points (new
``StripeObject`` subclasses, routes wrapped by ``localstripe.server.api_extra``, wrappers around
class-level validation, aiohttp middlewares), without copying or editing its files.

Extensions applied by :func:`install` (idempotent; call it before the server starts):

1. **Prices** (``/v1/prices``: create, retrieve, update, list). localstripe only has legacy Plans.
   A recurring price also creates a localstripe Plan with the *same id*, amount and interval, so
   a subscription created with ``items=[{"plan": price.id}]`` works today (``items[].price`` is
   still rejected by localstripe's Subscription; that is the next hook if subscriptions come).
   Emits ``price.created`` / ``price.updated`` (and ``product.created`` for ``product_data``).
2. **Checkout Sessions** (``/v1/checkout/sessions``: create, retrieve, list,
   ``/{id}/expire``), ``mode=payment`` only. ``url`` points at a small page served by the
   emulator on the Host the client used (``/checkout/<id>``, exempt from localstripe's API-key
   check like checkout.stripe.com) with "Pay" / "Pay with a declined card" buttons, so a browser
   test can walk through checkout and land on ``success_url``. The test helper
   ``POST /_test/checkout/sessions/{id}/complete`` (optional ``payment_method``, default
   ``pm_card_visa``; needs the API key) plays the customer paying: it creates and confirms a
   PaymentIntent with localstripe's own machinery (so ``payment_intent.succeeded`` /
   ``payment_failed`` are emitted as usual), then marks the session paid and emits
   ``checkout.session.completed``. A decline leaves the session open and answers the 402 card
   error. Sessions never expire by themselves: use ``/expire`` (``checkout.session.expired``).
3. **Parameters localstripe rejects but Stripe accepts and we use** (all in
   :data:`EXTRA_PARAMS`): PaymentIntent ``description``, ``receipt_email``,
   ``statement_descriptor_suffix`` (stored and echoed), ``automatic_payment_methods`` (stored);
   Refund ``reason`` (stored). Refund ``metadata`` is already supported by localstripe.
4. **Idempotency keys.** A POST repeating an ``Idempotency-Key`` on the same path replays the
   saved response (header ``Idempotent-Replayed: true``); with a different body it is a 400
   ``idempotency_error``, as on Stripe. Only responses of requests that ran are saved (2xx and
   402 card errors). ``DELETE /_config/data`` also clears the saved responses. stripe-python
   sends a key with every POST, so every POST response is kept for the emulator's lifetime.
5. **Events** for the new objects go through localstripe's ``Event`` and ``schedule_webhook``,
   so they are listed by ``/v1/events`` and delivered to registered webhooks with the same
   signature (``stripe.Webhook.construct_event`` accepts them).
6. **Retrying a declined PaymentIntent.** As on Stripe, giving a declined PaymentIntent a new
   ``payment_method`` makes it ``requires_confirmation`` again, and ``confirm(id,
   payment_method=...)`` attaches and confirms in one call (localstripe answers 500 to both).
   ``confirm`` also takes the ``client_secret`` Stripe.js sends (checked against the intent) and
   ``use_stripe_sdk``; a decline answers Stripe's card error (``type: card_error``, ``code:
   card_declined``, ``decline_code``, the ``payment_intent``). A failed 3-D Secure challenge
   (``_authenticate`` with ``success=false``) sends ``payment_intent.payment_failed``, as Stripe does.
7. **Refund events.** localstripe sends none; a refund here (by the API or "in the Dashboard", which is
   the same call without our metadata) sends ``refund.created`` and ``charge.refunded`` (the charge with
   its refunds listed), as Stripe does, and carries the ``payment_intent`` of its charge.
8. **Subscriptions and invoices** in the current API's shapes (prices on items, ``default_incomplete``
   with the first invoice's ``confirmation_secret``, renewals and failed renewals on demand): see
   ``devstack/stripe_emulator_billing.py``.
9. **State file.** localstripe pickles its whole store to the hard-coded
   ``/tmp/localstripe.pickle`` after every write, shared by every instance on the machine. Here
   it goes to a private temporary directory (removed at exit) and is never loaded back: every
   emulator starts empty.
10. **Stripe.js stand-in, extended.** ``GET /js.stripe.com/v3/`` serves localstripe's stand-in followed
   by ``devstack/stripe_js/stripe-v3-extension.js`` (read on every request), which adds what a real
   card integration calls: ``createPaymentMethod``, ``confirmCardPayment(secret, {payment_method:
   {card: element}})`` (decline and 3-D Secure included) and ``retrievePaymentIntent``, with Stripe.js's
   signatures and results. A page written for https://js.stripe.com/v3/ runs unchanged against it.
11. **Publishable-key calls, as Stripe.js makes them.** Besides localstripe's own (tokens, sources,
   ``_authenticate``), these accept the publishable key (``key=pk_...`` in the form or query) instead
   of a secret key: ``POST /v1/payment_methods``, and, with the intent's ``client_secret``, ``POST
   /v1/payment_intents/{id}/confirm`` and ``GET /v1/payment_intents/{id}``. A wrong client secret is a 401.
12. **No orphans.** ``--parent-pid PID`` (passed by :class:`StripeEmulator`) makes the emulator exit by
   itself once that process is gone, even if it was killed without a chance to stop its children.

Known limits: events say ``api_version: 2017-08-15``; webhook registrations survive a data wipe, and events are
delivered about 1 s late to whichever endpoints are registered *then* (so after a reset a test
may still receive an earlier test's events: match on object ids); Checkout has no
``line_items`` endpoint, no automatic expiry and no 3-D Secure; ``price_data`` creates no Price
or Product object.

Run it: ``python -m devstack.stripe_emulator --port 8420 [--host 127.0.0.1] [--parent-pid PID]``
(``--port 0``: any free port, reported in the ready line). In tests and scripts use
:class:`StripeEmulator`, which runs that command as a child process.
"""

from __future__ import annotations

import argparse
import atexit
import functools
import html
import logging
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Self

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import (
    Customer,
    Event,
    PaymentIntent,
    Plan,
    Product,
    StripeObject,
    store,
    try_convert_to_bool,
    try_convert_to_int,
)
from localstripe.webhooks import schedule_webhook

REPO_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Errors shaped like Stripe's
# --------------------------------------------------------------------------------------------


def stripe_error(status: int, message: str, type: str = "invalid_request_error", **fields) -> UserError:
    """A localstripe ``UserError`` whose JSON body is ``{"error": {type, message, **fields}}``."""
    error = UserError(status, message, fields)
    error.body["error"]["type"] = type  # UserError always says invalid_request_error
    return error


def _invalid(param: str, message: str) -> UserError:
    return stripe_error(400, message, param=param)


def _missing(param: str) -> UserError:
    return stripe_error(400, f"Missing required param: {param}.", code="parameter_missing", param=param)


def _reject_unknown(params: dict, prefix: str = "") -> None:
    if params:
        names = ", ".join(f"{prefix}[{k}]" if prefix else k for k in params)
        raise stripe_error(400, f"Received unknown parameter: {names}", code="parameter_unknown")


def _get_or_404(cls: type[StripeObject], id: Any, param: str) -> Any:
    obj = store.get(f"{cls.object}:{id}") if isinstance(id, str) else None
    if obj is None:
        raise stripe_error(404, f"No such {cls.object}: '{id}'", code="resource_missing", param=param)
    return obj


def _int(value: Any, param: str, minimum: int = 0) -> int:
    value = try_convert_to_int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _invalid(param, f"Invalid integer for {param}: {value!r} (minimum {minimum}).")
    return value


def _str(value: Any, param: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise _invalid(param, f"Invalid string for {param}.")
    return value


def _bool(value: Any, param: str) -> bool:
    value = try_convert_to_bool(value)
    if not isinstance(value, bool):
        raise _invalid(param, f"Invalid boolean for {param}: {value!r}.")
    return value


def _metadata(value: Any, param: str = "metadata") -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _invalid(param, "Invalid object: metadata must be a hash of strings.")
    return dict(value)


def _currency(value: Any, param: str) -> str:
    if value is None:
        raise _missing(param)
    if not isinstance(value, str) or len(value) != 3:
        raise _invalid(param, f"Invalid currency: {value!r}.")
    return value.lower()


def _matching(objects: list, filters: dict) -> list:
    """Newest first, as Stripe lists, keeping the objects whose attributes equal every set filter."""
    return [o for o in reversed(objects) if all(v is None or getattr(o, k) == v for k, v in filters.items())]


def _product_id(product: Any, product_data: Any) -> str:
    """Check ``product`` exists, or create one from ``product_data`` (emits product.created)."""
    if (product is None) == (product_data is None):
        raise _invalid("product", "Pass exactly one of product or product_data.")
    if product is not None:
        return _get_or_404(Product, product, "product").id
    if not isinstance(product_data, dict) or not product_data.get("name"):
        raise _missing("product_data[name]")
    return Product(**product_data).id


# --------------------------------------------------------------------------------------------
# 1. Prices
# --------------------------------------------------------------------------------------------


class Price(StripeObject):
    """``/v1/prices``. Recurring prices are mirrored as a localstripe Plan with the same id."""

    object = "price"
    _id_prefix = "price_"
    _updatable = ("active", "metadata", "nickname", "lookup_key")

    def __init__(
        self,
        currency=None,
        unit_amount=None,
        product=None,
        product_data=None,
        recurring=None,
        active=True,
        metadata=None,
        nickname=None,
        lookup_key=None,
        **kwargs,
    ):
        _reject_unknown(kwargs)
        currency = _currency(currency, "currency")
        if unit_amount is None:
            raise _missing("unit_amount")
        unit_amount = _int(unit_amount, "unit_amount")
        active = _bool(active, "active")
        metadata = _metadata(metadata)
        nickname = _str(nickname, "nickname")
        lookup_key = _str(lookup_key, "lookup_key")
        if recurring is not None:
            if not isinstance(recurring, dict):
                raise _invalid("recurring", "Invalid object: recurring.")
            recurring = dict(recurring)
            interval = recurring.pop("interval", None)
            if interval not in ("day", "week", "month", "year"):
                raise _invalid("recurring[interval]", "recurring[interval] must be day, week, month or year.")
            interval_count = _int(recurring.pop("interval_count", 1), "recurring[interval_count]", 1)
            if recurring.pop("usage_type", "licensed") != "licensed":
                raise _invalid("recurring[usage_type]", "The emulator supports only licensed prices.")
            _reject_unknown(recurring, "recurring")
            recurring = {
                "interval": interval,
                "interval_count": interval_count,
                "usage_type": "licensed",
                "trial_period_days": None,
                "meter": None,
            }
        product = _product_id(product, product_data)  # last check: it may create a product

        super().__init__()
        self.active = active
        self.billing_scheme = "per_unit"
        self.custom_unit_amount = None
        self.currency = currency
        self.lookup_key = lookup_key
        self.metadata = metadata
        self.nickname = nickname
        self.product = product
        self.recurring = recurring
        self.tax_behavior = "unspecified"
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if recurring else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)

        if recurring:  # what localstripe's subscriptions understand
            Plan(
                id=self.id,
                amount=unit_amount,
                currency=currency,
                product=product,
                active=active,
                interval=recurring["interval"],
                interval_count=recurring["interval_count"],
                nickname=nickname,
                metadata=dict(metadata),
            )
        schedule_webhook(Event("price.created", self))

    @classmethod
    def _api_retrieve(cls, id):
        return _get_or_404(cls, id, "price")

    @classmethod
    def _api_update(cls, id, **data):
        _reject_unknown({k: v for k, v in data.items() if k not in cls._updatable})
        price = cls._api_retrieve(id)
        if "active" in data:
            data["active"] = _bool(data["active"], "active")
            plan = store.get(f"plan:{id}")
            if plan is not None:
                plan.active = data["active"]
        price._update(**data)
        schedule_webhook(Event("price.updated", price))
        return price

    @classmethod
    def _api_list_all(
        cls,
        url="/v1/prices",
        active=None,
        product=None,
        type=None,
        currency=None,
        lookup_keys=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        _reject_unknown(kwargs)
        if isinstance(lookup_keys, str):
            lookup_keys = [lookup_keys]
        filters = {
            "active": None if active is None else _bool(active, "active"),
            "product": product,
            "type": type,
            "currency": currency and currency.lower(),
        }
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = _matching(li._list, filters)
        if lookup_keys is not None:
            li._list = [p for p in li._list if p.lookup_key in lookup_keys]
        return li


# --------------------------------------------------------------------------------------------
# 2. Checkout Sessions
# --------------------------------------------------------------------------------------------


class CheckoutSession(StripeObject):
    """``/v1/checkout/sessions`` in ``mode=payment``. Paid through ``_api_complete``."""

    object = "checkout.session"
    _id_prefix = "cs_test_"
    _payment_intent_params = ("metadata", "description")

    def __init__(
        self,
        mode=None,
        line_items=None,
        success_url=None,
        cancel_url=None,
        metadata=None,
        client_reference_id=None,
        customer=None,
        customer_email=None,
        payment_intent_data=None,
        expires_at=None,
        payment_method_types=None,
        locale=None,
        **kwargs,
    ):
        _reject_unknown(kwargs)
        if mode is None:
            raise _missing("mode")
        if mode != "payment":
            raise _invalid("mode", f"The emulator supports only mode=payment, not {mode!r}.")
        if not isinstance(line_items, list) or not line_items:
            raise _missing("line_items")
        items = [self._line_item(f"line_items[{i}]", item) for i, item in enumerate(line_items)]
        currencies = {item["currency"] for item in items}
        if len(currencies) > 1:
            raise _invalid("line_items", "All line items must use the same currency.")
        for param, value in (
            ("success_url", success_url),
            ("cancel_url", cancel_url),
            ("client_reference_id", client_reference_id),
            ("customer_email", customer_email),
            ("locale", locale),
        ):
            _str(value, param)
        if customer is not None:
            if customer_email is not None:
                raise _invalid(
                    "customer_email",
                    "You may only specify one of these parameters: customer, customer_email.",
                )
            _get_or_404(Customer, customer, "customer")
        if not isinstance(payment_intent_data or {}, dict):
            raise _invalid("payment_intent_data", "Invalid object: payment_intent_data.")
        pi_data = dict(payment_intent_data or {})
        _reject_unknown(
            {k: v for k, v in pi_data.items() if k not in self._payment_intent_params}, "payment_intent_data"
        )
        pi_data["metadata"] = _metadata(pi_data.get("metadata"), "payment_intent_data[metadata]")
        _str(pi_data.get("description"), "payment_intent_data[description]")
        now = int(time.time())
        expires_at = now + 24 * 3600 if expires_at is None else _int(expires_at, "expires_at")
        # Stripe: 30 minutes to 24 hours after creation; one minute of slack for clock skew.
        if not now + 30 * 60 - 60 <= expires_at <= now + 24 * 3600 + 60:
            raise _invalid("expires_at", "expires_at must be 30 minutes to 24 hours from now.")
        metadata = _metadata(metadata)

        super().__init__()
        self._line_items = items
        self._payment_intent_data = pi_data
        amount = sum(item["amount_total"] for item in items)
        self.amount_subtotal = amount
        self.amount_total = amount
        self.cancel_url = cancel_url
        self.client_reference_id = client_reference_id
        self.currency = currencies.pop()
        self.customer = customer
        self.customer_details = None
        self.customer_email = customer_email
        self.expires_at = expires_at
        self.invoice = None
        self.locale = locale
        self.metadata = metadata
        self.mode = mode
        self.payment_intent = None
        self.payment_method_types = payment_method_types or ["card"]
        self.payment_status = "unpaid"
        self.status = "open"
        self.setup_intent = None
        self.subscription = None
        self.success_url = success_url
        self.total_details = {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0}
        self.url = None  # set by the create route, which knows the Host the client used

    @staticmethod
    def _line_item(param: str, item: Any) -> dict:
        """Validate one ``line_items[i]`` and flatten it to amount, currency and a description."""
        if not isinstance(item, dict):
            raise _invalid(param, f"Invalid object: {param}.")
        item = dict(item)
        price, price_data = item.pop("price", None), item.pop("price_data", None)
        quantity = _int(item.pop("quantity", None), f"{param}[quantity]", 1)
        _reject_unknown(item, param)
        if (price is None) == (price_data is None):
            raise _invalid(param, f"Pass exactly one of {param}[price] or {param}[price_data].")
        if price is not None:
            price_param = f"{param}[price]"
            price_obj = _get_or_404(Price, price, price_param)
            if price_obj.type != "one_time":
                raise _invalid(price_param, "You specified `payment` mode but passed a recurring price.")
            if not price_obj.active:
                raise _invalid(price_param, f"The price {price} is not active.")
            unit_amount, currency = price_obj.unit_amount, price_obj.currency
            name = Product._api_retrieve(price_obj.product).name
        else:
            if not isinstance(price_data, dict):
                raise _invalid(f"{param}[price_data]", "Invalid object: price_data.")
            price_data = dict(price_data)
            prefix = f"{param}[price_data]"
            currency = _currency(price_data.pop("currency", None), f"{prefix}[currency]")
            if "unit_amount" not in price_data:
                raise _missing(f"{prefix}[unit_amount]")
            unit_amount = _int(price_data.pop("unit_amount"), f"{prefix}[unit_amount]")
            product, product_data = price_data.pop("product", None), price_data.pop("product_data", None)
            _reject_unknown(price_data, prefix)
            if (product is None) == (product_data is None):
                raise _invalid(f"{prefix}[product]", "Pass exactly one of product or product_data.")
            if product is not None:
                name = _get_or_404(Product, product, f"{prefix}[product]").name
            elif not isinstance(product_data, dict) or not product_data.get("name"):
                raise _missing(f"{prefix}[product_data][name]")
            else:
                # Unlike Stripe, price_data creates no Price or Product object: nothing to roll
                # back if a later line item is invalid.
                name = product_data["name"]
        return {
            "price": price,
            "description": name,
            "quantity": quantity,
            "unit_amount": unit_amount,
            "currency": currency,
            "amount_total": unit_amount * quantity,
        }

    @classmethod
    def _api_retrieve(cls, id):
        return _get_or_404(cls, id, "session")

    @classmethod
    def _api_update(cls, id, **data):
        raise stripe_error(405, "The emulator does not update Checkout Sessions.")

    @classmethod
    def _api_list_all(
        cls,
        url="/v1/checkout/sessions",
        payment_intent=None,
        customer=None,
        status=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        _reject_unknown(kwargs)
        filters = {"payment_intent": payment_intent, "customer": customer, "status": status}
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = _matching(li._list, filters)
        return li

    def _require_open(self, action: str) -> None:
        if self.status != "open":
            raise stripe_error(
                400,
                f"Cannot {action} Checkout Session {self.id}: its status is {self.status!r}, not 'open'.",
                code="checkout_session_not_open",
            )

    @classmethod
    def _api_expire(cls, id, **kwargs):
        _reject_unknown(kwargs)
        session = cls._api_retrieve(id)
        session._require_open("expire")
        session.status = "expired"
        schedule_webhook(Event("checkout.session.expired", session))
        return session

    @classmethod
    def _api_complete(cls, id, payment_method="pm_card_visa", **kwargs):
        """Test helper: the customer pays with ``payment_method`` (a ``pm_...`` id or test alias)."""
        _reject_unknown(kwargs)
        session = cls._api_retrieve(id)
        session._require_open("complete")
        params = {
            "amount": session.amount_total,
            "currency": session.currency,
            "customer": session.customer,
            "payment_method": payment_method,
            **session._payment_intent_data,
        }
        try:
            intent = PaymentIntent._api_create(confirm=True, **params)
        except UserError as error:
            if error.code != 402:
                raise
            # localstripe calls a decline an invalid_request_error; Stripe says card_error.
            error.body["error"].update(type="card_error", decline_code="generic_decline")
            raise
        if intent.status != "succeeded":  # e.g. a 3-D Secure card: not modelled here
            raise stripe_error(
                400,
                f"PaymentIntent {intent.id} is {intent.status!r}; the emulator's "
                "checkout only handles cards that succeed or decline at once.",
            )
        session.status = "complete"
        session.payment_status = "paid"
        session.payment_intent = intent.id
        customer = session.customer and Customer._api_retrieve(session.customer)
        session.customer_details = {
            "address": None,
            "email": session.customer_email or (customer and customer.email),
            "name": None,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }
        schedule_webhook(Event("checkout.session.completed", session))
        return session


# --------------------------------------------------------------------------------------------
# 3. Parameters localstripe rejects but Stripe accepts
# --------------------------------------------------------------------------------------------


def _automatic_payment_methods(value: Any, param: str) -> dict:
    if not isinstance(value, dict) or "enabled" not in value:
        raise _missing(f"{param}[enabled]")
    return {
        "enabled": _bool(value["enabled"], f"{param}[enabled]"),
        "allow_redirects": value.get("allow_redirects", "always"),
    }


def _refund_reason(value: Any, param: str) -> str:
    if value not in ("duplicate", "fraudulent", "requested_by_customer"):
        raise _invalid(param, f"Invalid {param}: must be duplicate, fraudulent or requested_by_customer.")
    return value


#: class -> {parameter: check(value, param) -> stored value}. Every object gets the attribute
#: (None when not given), so it shows in the JSON as on Stripe.
EXTRA_PARAMS: dict[type, dict[str, Callable[[Any, str], Any]]] = {
    PaymentIntent: {
        "description": _str,
        "receipt_email": _str,
        "statement_descriptor_suffix": _str,
        "automatic_payment_methods": _automatic_payment_methods,
    },
    resources.Refund: {"reason": _refund_reason},
}


def _accept_extra_params(cls: type, checks: dict[str, Callable[[Any, str], Any]]) -> None:
    """Wrap ``cls.__init__`` (which rejects unknown kwargs) to take, check and store ``checks``."""
    original = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def init(self, *args, **kwargs):
        extra = {name: check(kwargs.pop(name), name) for name, check in checks.items() if name in kwargs}
        original(self, *args, **kwargs)
        for name in checks:
            setattr(self, name, extra.get(name))

    cls.__init__ = init  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# 4. Idempotency keys (and the public checkout page) as aiohttp middlewares
# --------------------------------------------------------------------------------------------

#: (Idempotency-Key, path) -> (request body, status, response body)
_saved_responses: dict[tuple[str, str], tuple[bytes, int, Any]] = {}


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    """Replay the saved response of a POST that repeats an ``Idempotency-Key`` on the same path.

    Runs inside localstripe's auth middleware, so unauthenticated requests are never replayed.
    No lock is needed: localstripe's handlers do not yield to the event loop once the body is
    read (done here first), so two requests with one key cannot interleave.
    """
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        response = await handler(request)
        if request.method == "DELETE" and request.path == "/_config/data":
            _saved_responses.clear()
        return response

    body = await request.read()  # aiohttp caches it for the handler
    saved = _saved_responses.get((key, request.path))
    if saved is not None:
        saved_body, status, response_body = saved
        if saved_body != body:
            raise stripe_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                "meant to execute a different request.",
                type="idempotency_error",
            )
        return web.Response(
            body=response_body,
            status=status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
        )
    try:
        response = await handler(request)
    except UserError as error:
        response = error.to_response()
    if isinstance(response, web.Response) and (response.status < 300 or response.status == 402):
        _saved_responses[(key, request.path)] = (body, response.status, response.body)
    return response


#: Paths anyone may open without an API key: the hosted checkout page (as on checkout.stripe.com).
PUBLIC_PREFIXES = ("/checkout/",)

#: Calls Stripe.js makes with the publishable key (extension 11): (method, path, needs the intent's
#: client secret). The path's group is the PaymentIntent id.
PUBLISHABLE_KEY_CALLS = (
    ("POST", re.compile(r"^/v1/payment_methods$"), False),
    ("POST", re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$"), True),
    ("GET", re.compile(r"^/v1/payment_intents/(pi_\w+)$"), True),
)


async def _publishable_key_call(request: web.Request) -> bool:
    """True for one of :data:`PUBLISHABLE_KEY_CALLS` made with a ``pk_`` key (and the right client secret)."""
    from localstripe import server

    for method, pattern, needs_client_secret in PUBLISHABLE_KEY_CALLS:
        match = pattern.match(request.path)
        if request.method != method or match is None:
            continue
        if method == "POST":
            data = await server.get_post_data(request, remove_auth=False) or {}
        else:
            data = server.unflatten_data(request.query)
        key = data.get("key")
        if not isinstance(key, str) or not key.startswith("pk_"):
            return False
        if not needs_client_secret:
            return True
        _check_client_secret(match.group(1), data.get("client_secret"))  # 404 / 401 otherwise
        return True
    return False


def _public_paths_auth_middleware(auth_middleware):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.path.startswith(PUBLIC_PREFIXES) or await _publishable_key_call(request):
            return await handler(request)
        return await auth_middleware(request, handler)

    return middleware


STRIPE_JS_PATH = "/js.stripe.com/v3/"
STRIPE_JS_EXTENSION = Path(__file__).resolve().parent / "stripe_js" / "stripe-v3-extension.js"


@web.middleware
async def stripe_js_middleware(request: web.Request, handler):
    """Extension 10: localstripe's Stripe.js stand-in followed by ours, read on every request."""
    if request.method != "GET" or request.path != STRIPE_JS_PATH:
        return await handler(request)
    from localstripe import server

    original = Path(server.__file__).resolve().parent / "localstripe-v3.js"
    script = original.read_text(encoding="utf-8") + "\n" + STRIPE_JS_EXTENSION.read_text(encoding="utf-8")
    return web.Response(text=script, content_type="application/javascript", headers={"Cache-Control": "no-store"})


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Checkout (Stripe emulator)</title></head>
<body><h1>Checkout</h1><p id="status">Session {id}: {status}, {payment_status}</p>
<ul>{items}</ul><p>Total: <span id="total">{amount} {currency}</span></p>{error}
<form method="post">
  <button id="pay" name="payment_method" value="pm_card_visa">Pay</button>
  <button id="pay-declined" name="payment_method" value="pm_card_chargeCustomerFail">
    Pay with a declined card</button>
</form>{cancel}</body></html>
"""


def _render_page(session: CheckoutSession, error: str = "", status: int = 200) -> web.Response:
    def esc(value: Any) -> str:
        return html.escape(str(value))

    items = "".join(
        f"<li>{esc(i['quantity'])} x {esc(i['description'])}: {esc(i['amount_total'])}</li>"
        for i in session._line_items
    )
    cancel = ""
    if session.cancel_url:
        cancel = f'<p><a id="cancel" href="{esc(session.cancel_url)}">Cancel</a></p>'
    page = _PAGE.format(
        id=esc(session.id),
        status=esc(session.status),
        items=items,
        payment_status=esc(session.payment_status),
        amount=esc(session.amount_total),
        currency=esc(session.currency.upper()),
        cancel=cancel,
        error=f'<p id="error" role="alert">{esc(error)}</p>' if error else "",
    )
    return web.Response(text=page, content_type="text/html", status=status)


async def checkout_page(request: web.Request) -> web.Response:
    """``GET /checkout/{id}``: the page a session's ``url`` points at."""
    try:
        session = CheckoutSession._api_retrieve(request.match_info["id"])
    except UserError:
        return web.Response(text="No such checkout session.", status=404)
    return _render_page(session)


async def checkout_page_pay(request: web.Request) -> web.Response:
    """``POST /checkout/{id}``: pay; redirect to ``success_url`` or show the error on the page."""
    try:
        session = CheckoutSession._api_retrieve(request.match_info["id"])
    except UserError:
        return web.Response(text="No such checkout session.", status=404)
    form = await request.post()
    try:
        CheckoutSession._api_complete(session.id, payment_method=form.get("payment_method", "pm_card_visa"))
    except UserError as error:
        return _render_page(session, error.body["error"].get("message", "Payment failed."), error.code)
    if session.success_url:
        raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
    return _render_page(session)


# --------------------------------------------------------------------------------------------
# install()
# --------------------------------------------------------------------------------------------

_installed = False


def _payment_intent_retries() -> None:
    """Extension 6. Must run before ``localstripe.server`` is imported (it binds the confirm route then)."""
    from localstripe import resources

    intent_cls = resources.PaymentIntent
    original_update = intent_cls._api_update.__func__
    original_confirm = intent_cls._api_confirm

    def update(cls, id, **data):
        obj = original_update(cls, id, **data)
        charge = obj.latest_charge
        if "payment_method" in data and charge is not None and charge.status == "failed":
            obj.latest_charge = None  # the failed attempt stays a Charge; the intent awaits confirmation
        return obj

    original_authenticate = intent_cls._api_authenticate

    def confirm(id, payment_method=None, client_secret=None, use_stripe_sdk=None, **kwargs):
        if client_secret is not None:
            _check_client_secret(id, client_secret)
        if payment_method is not None:
            intent_cls._api_update(id, payment_method=payment_method)
        try:
            return original_confirm(id, **kwargs)
        except UserError as error:
            if error.code == 402:  # localstripe calls a decline an invalid_request_error; Stripe says:
                intent = intent_cls._api_retrieve(id)
                error.body["error"].update(type="card_error", decline_code="generic_decline",
                                           payment_intent=intent._export())
            raise

    def authenticate(id, client_secret=None, success=False, **kwargs):
        intent = original_authenticate(id, client_secret=client_secret, success=success, **kwargs)
        if try_convert_to_bool(success) is False:  # the customer failed the 3-D Secure challenge
            schedule_webhook(Event("payment_intent.payment_failed", intent))
        return intent

    intent_cls._api_update = classmethod(update)
    replaced = {"/v1/payment_intents/{id}/confirm": confirm, "/v1/payment_intents/{id}/_authenticate": authenticate}
    resources.extra_apis[:] = [(method, url, replaced.get(url, func)) for method, url, func in resources.extra_apis]


def _check_client_secret(intent_id: Any, client_secret: Any) -> None:
    intent = _get_or_404(PaymentIntent, intent_id, "intent")
    if client_secret != intent.client_secret:
        raise stripe_error(401, "The client_secret provided does not match this PaymentIntent.",
                           code="payment_intent_invalid_parameter", param="client_secret")
READY_MESSAGE = "stripe emulator ready on"


def _redirect_state_file() -> None:
    """Point localstripe's pickle at a private temporary directory and never load it back."""
    path = os.path.join(tempfile.mkdtemp(prefix="stripe-emulator-"), "localstripe.pickle")
    atexit.register(shutil.rmtree, os.path.dirname(path), True)

    def dump_to_disk(self):
        with open(path, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda self: None


def _refund_events() -> None:
    """Extension 7."""
    from localstripe import resources

    original_init = resources.Refund.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        charge = resources.Charge._api_retrieve(self.charge)
        if self.payment_intent is None:
            self.payment_intent = getattr(charge, "payment_intent", None)
        schedule_webhook(Event("refund.created", self))
        schedule_webhook(Event("charge.refunded", charge))

    resources.Refund.__init__ = init


def install() -> None:
    """Apply every extension to localstripe in this process. Idempotent; call before serving."""
    global _installed
    if _installed:
        return
    # Importing the server builds its app and routes from `resources.extra_apis`, once. So new
    # routes are added to the app directly, wrapped by the server's own `api_extra` exactly as
    # that import-time loop does (it parses form data, passes {id} and handles `expand`).
    _payment_intent_retries()
    _refund_events()
    from devstack import stripe_emulator_billing  # subscriptions and invoices (extension 8)

    stripe_emulator_billing.install()
    from localstripe import server

    _redirect_state_file()
    for cls, checks in EXTRA_PARAMS.items():
        _accept_extra_params(cls, checks)

    async def create_checkout_session(request: web.Request) -> web.Response:
        data = await server.get_post_data(request) or {}
        expand = data.pop("expand", None)
        session = CheckoutSession(**data)
        session.url = f"{request.scheme}://{request.host}/checkout/{session.id}"
        return server.json_response(session._export(expand=expand))

    router = server.app.router
    for method, path, func in (
        ("POST", "/v1/prices", Price._api_create),
        ("GET", "/v1/prices", Price._api_list_all),
        ("GET", "/v1/prices/{id}", Price._api_retrieve),
        ("POST", "/v1/prices/{id}", Price._api_update),
        ("GET", "/v1/checkout/sessions", CheckoutSession._api_list_all),
        ("GET", "/v1/checkout/sessions/{id}", CheckoutSession._api_retrieve),
        ("POST", "/v1/checkout/sessions/{id}", CheckoutSession._api_update),
        ("POST", "/v1/checkout/sessions/{id}/expire", CheckoutSession._api_expire),
        ("POST", "/_test/checkout/sessions/{id}/complete", CheckoutSession._api_complete),
    ):
        router.add_route(method, path, server.api_extra(func, path))
    router.add_post("/v1/checkout/sessions", create_checkout_session)
    router.add_get("/checkout/{id}", checkout_page)
    router.add_post("/checkout/{id}", checkout_page_pay)

    middlewares = server.app.middlewares
    auth = middlewares.index(server.auth_middleware)
    middlewares.insert(auth + 1, idempotency_middleware)
    middlewares[auth] = _public_paths_auth_middleware(server.auth_middleware)
    middlewares.insert(auth, stripe_js_middleware)
    _installed = True


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.stripe_emulator --port N [--host H]``: serve from an empty state.

    Prints ``stripe emulator ready on http://HOST:PORT`` once listening (``--port 0``: any free port).
    """
    parser = argparse.ArgumentParser(description="localstripe with this project's extensions")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--parent-pid", type=int, help="exit once this process is gone")
    args = parser.parse_args(argv)

    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    install()
    from localstripe import server

    access_log = logging.getLogger("aiohttp.access")  # localstripe also logs webhook deliveries here
    access_log.setLevel(logging.DEBUG)
    access_log.addHandler(logging.StreamHandler())
    # Bind here rather than in run_app so that --port 0 can report the port the system chose.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.create_server((args.host, args.port), family=family)
    ready = f"{READY_MESSAGE} http://{args.host}:{sock.getsockname()[1]}"
    web.run_app(
        server.app,
        sock=sock,
        access_log=access_log,
        shutdown_timeout=1,
        print=lambda _: print(ready, flush=True),
    )


def _exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Extension 12: stop this process (as Ctrl-C would) once ``parent_pid`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# --------------------------------------------------------------------------------------------
# StripeEmulator: the emulator as a child process, for tests and scripts
# --------------------------------------------------------------------------------------------


class StripeEmulator:
    """Run ``python -m devstack.stripe_emulator`` on a free loopback port (or ``port``).

    With ``port=0`` the child binds port 0 itself and the port is read from its ready line, so
    parallel runs cannot race for a port.

    >>> with StripeEmulator() as emulator:
    ...     client = emulator.client()
    ...     price = client.v1.prices.create({"currency": "eur", "unit_amount": 500,
    ...                                      "product_data": {"name": "T-shirt"}})
    """

    api_key = "sk_test_stripe_emulator"

    def __init__(self, port: int = 0, host: str = "127.0.0.1", startup_timeout: float = 20.0):
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the started process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the process and wait until it answers; raise RuntimeError with its log otherwise."""
        if self._process is not None:
            return self
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
        # A file, not a pipe: nobody reads a pipe while the server runs, and a full pipe blocks it.
        # Append mode: the child shares this file's offset, and logs() seeks to read it.
        self._log = tempfile.TemporaryFile("a+b")  # closed by stop()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "devstack.stripe_emulator", "--port", str(self.port), "--host", self.host,
             "--parent-pid", str(os.getpid())],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:  # including Ctrl-C: never leave the process behind
            self.stop()
            raise
        return self

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise RuntimeError(f"stripe emulator exited with code {code} during startup:\n{self.logs()}")
            if not self.port:  # the child chose it: read its ready line
                ready = re.search(rf"{READY_MESSAGE} http://\S+:(\d+)", self.logs())
                self.port = int(ready.group(1)) if ready else 0
            try:
                if self.port:
                    self._request("GET", "/v1/prices?limit=1", timeout=1)
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                late = f"did not answer on {self.url} within {self.startup_timeout} s"
                raise RuntimeError(f"stripe emulator {late}:\n{self.logs()}")
            time.sleep(0.05)

    def client(self, **kwargs):
        """A ``stripe.StripeClient`` talking to this emulator (``kwargs`` go to its constructor)."""
        import stripe

        return stripe.StripeClient(self.api_key, base_addresses={"api": self.url}, **kwargs)

    def reset(self) -> None:
        """Wipe every object and saved idempotent response (webhook registrations stay)."""
        self._request("DELETE", "/_config/data")

    def register_webhook(
        self,
        endpoint_id: str,
        url: str,
        secret: str,
        events: list[str] | None = None,
    ) -> None:
        """Deliver events (all, or only ``events``) to ``url``, signed with ``secret``."""
        form = [("url", url), ("secret", secret)] + [("events[]", e) for e in events or []]
        self._request("POST", f"/_config/webhooks/{endpoint_id}", form)

    def complete_checkout_session(self, session_id: str, payment_method: str = "pm_card_visa"):
        """Play the customer paying a Checkout Session; returns the session (a stripe object).

        A declined card raises ``stripe.CardError`` and leaves the session open.
        """
        client = self.client()
        response = client.raw_request(
            "post", f"/_test/checkout/sessions/{session_id}/complete", payment_method=payment_method
        )
        return client.deserialize(response, api_mode="V1")

    def logs(self) -> str:
        """What the process wrote so far (access log, webhook deliveries, tracebacks)."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """Terminate the process (kill it if it does not exit within 5 s). Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _request(self, method: str, path: str, form: list | None = None, timeout: float = 10) -> bytes:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()


if __name__ == "__main__":
    main()

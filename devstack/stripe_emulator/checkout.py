"""Extension 2: Checkout Sessions (``/v1/checkout/sessions``: create, retrieve, list, ``/{id}/expire``), in
``mode=payment`` (and ``mode=subscription``: :mod:`devstack.stripe_emulator.checkout_subscriptions`), and the hosted
page a session's ``url`` points at. ``discounts: [{promotion_code|coupon}]`` (:mod:`promotions`) takes its amount off
``amount_total`` (``total_details.amount_discount``).

The page (``/checkout/<id>``, on the Host the client used, open without an API key like
checkout.stripe.com) has "Pay" / "Pay with a declined card" buttons, so a browser test can walk through
checkout and land on ``success_url``. The test helper ``POST /_test/checkout/sessions/{id}/complete``
(optional ``payment_method``, default ``pm_card_visa``; needs the API key) plays the customer paying: it
creates and confirms a PaymentIntent with localstripe's own machinery (so ``payment_intent.succeeded`` /
``payment_failed`` are emitted as usual), then marks the session paid and emits
``checkout.session.completed``. A decline leaves the session open and answers the 402 card error.
Sessions never expire by themselves: use ``/expire`` (``checkout.session.expired``).
"""

from __future__ import annotations

import html
import time
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import Customer, PaymentIntent, Product, StripeObject

from devstack.stripe_emulator.catalog import Price
from devstack.stripe_emulator.common import (
    as_currency,
    as_int,
    as_metadata,
    as_str,
    emit,
    get_or_404,
    invalid,
    missing,
    newest_first,
    reject_unknown,
    stripe_error,
)


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
        subscription_data=None,
        discounts=None,
        **kwargs,
    ):
        from devstack.stripe_emulator import checkout_subscriptions, promotions

        reject_unknown(kwargs)
        if mode is None:
            raise missing("mode")
        if mode not in ("payment", "subscription"):
            raise invalid("mode", f"The emulator supports mode=payment and mode=subscription, not {mode!r}.")
        if not isinstance(line_items, list) or not line_items:
            raise missing("line_items")
        items = [self._line_item(f"line_items[{i}]", item, mode) for i, item in enumerate(line_items)]
        subscription_terms = checkout_subscriptions.check(mode, customer, items, subscription_data, payment_intent_data)
        currencies = {item["currency"] for item in items}
        if len(currencies) > 1:
            raise invalid("line_items", "All line items must use the same currency.")
        for param, value in (
            ("success_url", success_url),
            ("cancel_url", cancel_url),
            ("client_reference_id", client_reference_id),
            ("customer_email", customer_email),
            ("locale", locale),
        ):
            as_str(value, param)
        if customer is not None:
            if customer_email is not None:
                raise invalid(
                    "customer_email",
                    "You may only specify one of these parameters: customer, customer_email.",
                )
            get_or_404(Customer.object, customer, "customer")
        if not isinstance(payment_intent_data or {}, dict):
            raise invalid("payment_intent_data", "Invalid object: payment_intent_data.")
        pi_data = dict(payment_intent_data or {})
        reject_unknown(
            {k: v for k, v in pi_data.items() if k not in self._payment_intent_params}, "payment_intent_data"
        )
        pi_data["metadata"] = as_metadata(pi_data.get("metadata"), "payment_intent_data[metadata]")
        as_str(pi_data.get("description"), "payment_intent_data[description]")
        now = int(time.time())
        expires_at = now + 24 * 3600 if expires_at is None else as_int(expires_at, "expires_at")
        # Stripe: 30 minutes to 24 hours after creation; one minute of slack for clock skew.
        if not now + 30 * 60 - 60 <= expires_at <= now + 24 * 3600 + 60:
            raise invalid("expires_at", "expires_at must be 30 minutes to 24 hours from now.")
        metadata = as_metadata(metadata)
        amount = sum(item["amount_total"] for item in items)
        redemption = promotions.redemption(discounts, customer=customer, currency=items[0]["currency"], amount=amount)
        discount = redemption.amount_off(amount) if redemption else 0

        super().__init__()
        self._line_items = items
        self._payment_intent_data = pi_data
        self._subscription_terms = subscription_terms
        self._discounts = discounts if redemption else None
        self.amount_subtotal = amount
        self.amount_total = amount - discount
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
        self.total_details = {"amount_discount": discount, "amount_shipping": 0, "amount_tax": 0}
        if redemption is not None and mode == "payment":
            redemption.redeem()  # a subscription's is redeemed by the subscription the session creates
        if mode == "subscription":
            self.amount_total = checkout_subscriptions.first_amount(self)
        self.url = None  # set by the create route, which knows the Host the client used

    @staticmethod
    def _line_item(param: str, item: Any, mode: str = "payment") -> dict:
        """Validate one ``line_items[i]`` and flatten it to amount, currency and a description."""
        if not isinstance(item, dict):
            raise invalid(param, f"Invalid object: {param}.")
        item = dict(item)
        price, price_data = item.pop("price", None), item.pop("price_data", None)
        quantity = as_int(item.pop("quantity", None), f"{param}[quantity]", 1)
        reject_unknown(item, param)
        if (price is None) == (price_data is None):
            raise invalid(param, f"Pass exactly one of {param}[price] or {param}[price_data].")
        if price is not None:
            price_param = f"{param}[price]"
            price_obj = get_or_404(Price.object, price, price_param)
            if mode == "payment" and price_obj.type != "one_time":
                raise invalid(price_param, "You specified `payment` mode but passed a recurring price.")
            if mode == "subscription" and price_obj.type != "recurring":
                raise invalid(price_param, "You specified `subscription` mode but passed a one-time price.")
            if not price_obj.active:
                raise invalid(price_param, f"The price {price} is not active.")
            unit_amount, currency = price_obj.unit_amount, price_obj.currency
            name = Product._api_retrieve(price_obj.product).name
        else:
            if not isinstance(price_data, dict):
                raise invalid(f"{param}[price_data]", "Invalid object: price_data.")
            price_data = dict(price_data)
            prefix = f"{param}[price_data]"
            currency = as_currency(price_data.pop("currency", None), f"{prefix}[currency]")
            if "unit_amount" not in price_data:
                raise missing(f"{prefix}[unit_amount]")
            unit_amount = as_int(price_data.pop("unit_amount"), f"{prefix}[unit_amount]")
            product, product_data = price_data.pop("product", None), price_data.pop("product_data", None)
            reject_unknown(price_data, prefix)
            if (product is None) == (product_data is None):
                raise invalid(f"{prefix}[product]", "Pass exactly one of product or product_data.")
            if product is not None:
                name = get_or_404(Product.object, product, f"{prefix}[product]").name
            elif not isinstance(product_data, dict) or not product_data.get("name"):
                raise missing(f"{prefix}[product_data][name]")
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
        return get_or_404(cls.object, id, "session")

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
        reject_unknown(kwargs)
        filters = {"payment_intent": payment_intent, "customer": customer, "status": status}
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = newest_first(li._list, filters)
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
        reject_unknown(kwargs)
        session = cls._api_retrieve(id)
        session._require_open("expire")
        session.status = "expired"
        emit("checkout.session.expired", session)
        return session

    @classmethod
    def _api_complete(cls, id, payment_method="pm_card_visa", **kwargs):
        """Test helper: the customer pays with ``payment_method`` (a ``pm_...`` id or test alias)."""
        reject_unknown(kwargs)
        session = cls._api_retrieve(id)
        session._require_open("complete")
        if session.mode == "subscription":
            from devstack.stripe_emulator import checkout_subscriptions

            return checkout_subscriptions.complete(session, payment_method)
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
        emit("checkout.session.completed", session)
        return session


async def create_session(request: web.Request) -> web.Response:
    """``POST /v1/checkout/sessions``: as localstripe's create routes, and the ``url`` on the Host the client
    used."""
    from localstripe import server  # imported once every extension is installed (see server.install)

    data = await server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    session = CheckoutSession(**data)
    session.url = f"{request.scheme}://{request.host}/checkout/{session.id}"
    return server.json_response(session._export(expand=expand))


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


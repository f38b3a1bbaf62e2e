"""Extension 16: SetupIntents and saved payment methods, as Stripe answers them.

localstripe has SetupIntents (create, confirm, cancel) and PaymentMethods (attach, detach, list) but keeps a
confirmed card to itself. Here, as on Stripe:

- ``POST /v1/setup_intents`` takes ``customer``, ``usage``, ``metadata``, ``description`` and
  ``automatic_payment_methods`` (stored and answered); ``payment_method_types`` is refused, as the newest API versions
  do (dynamic payment methods instead). Retrieve is localstripe's.
- Confirming (``POST /v1/setup_intents/{id}/confirm``, with the secret key or, as Stripe.js's ``confirmCardSetup``
  does, the publishable key and the client secret) that succeeds attaches the card to the SetupIntent's customer
  and sends ``payment_method.attached`` and ``setup_intent.succeeded``. A 3-D Secure card answers
  ``requires_action`` first (localstripe's), a declined one 402. A subscription's ``pending_setup_intent`` (a trial
  without a card, ``billing_terms``) makes the card that subscription's ``default_payment_method``
  (``customer.subscription.updated``).
- ``POST /v1/payment_methods/{id}/attach`` sends ``payment_method.attached``; ``/detach`` refuses a card that is
  not attached (400), sends ``payment_method.detached``, and unsets the customer's
  ``invoice_settings.default_payment_method`` when it was that card.
- An unknown payment method is Stripe's 404 ``resource_missing`` (localstripe's 404 has no code).
- ``POST /v1/customers/{id}`` with ``invoice_settings[default_payment_method]`` refuses a card that is not the
  customer's (400 ``resource_missing`` on that parameter), as Stripe does.

Left out: ``setup_intent.setup_failed`` and ``requires_action`` events, mandates, ``single_use``, ``flow_directions``,
``payment_method_options``, ``attach_to_self``, and listing payment methods newest first (localstripe's order).
"""

from __future__ import annotations

import functools
from typing import Any

from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import Customer, PaymentMethod, SetupIntent, store

from devstack.stripe_emulator.common import as_str, emit, invalid, stripe_error


def _setup_intent_params() -> None:
    original = SetupIntent.__init__

    @functools.wraps(original)
    def init(self, *args, automatic_payment_methods=None, description=None, **kwargs):
        if "payment_method_types" in kwargs:
            raise stripe_error(400, "Received unknown parameter: payment_method_types (the API version in use "
                               "takes dynamic payment methods: pass automatic_payment_methods[enabled]=true)",
                               code="parameter_unknown", param="payment_method_types")
        if automatic_payment_methods is not None and not isinstance(automatic_payment_methods, dict):
            raise invalid("automatic_payment_methods", "Invalid object: automatic_payment_methods.")
        description = as_str(description, "description")
        original(self, *args, **kwargs)
        self.automatic_payment_methods = {"allow_redirects": "always", "enabled": True} if (
            automatic_payment_methods is None or str(automatic_payment_methods.get("enabled")).lower() == "true"
        ) else {"allow_redirects": None, "enabled": False}
        self.description = description
        self._subscription = None  # the subscription whose pending_setup_intent it is
        self._reported = False

    SetupIntent.__init__ = init


def _on_confirmed(intent: SetupIntent) -> None:
    """A SetupIntent that succeeded: the card is the customer's (and a trialing subscription's default)."""
    if intent.status != "succeeded" or intent._reported:
        return
    intent._reported = True
    method = store.get(f"payment_method:{intent.payment_method}")
    if method is not None and intent.customer and method.customer is None:
        method.customer = intent.customer
        emit("payment_method.attached", method)
    emit("setup_intent.succeeded", intent)
    subscription = store.get(f"subscription:{intent._subscription}") if intent._subscription else None
    if subscription is not None and subscription.pending_setup_intent == intent.id:
        before = subscription._snapshot()
        subscription.default_payment_method = intent.payment_method
        subscription.pending_setup_intent = None
        subscription._emit_updated(before)


def _confirm(original):
    def confirm(id, **kwargs):
        intent = original(id, **kwargs)
        _on_confirmed(intent)
        return intent

    return confirm


def _attach(original):
    def attach(cls, id, customer=None, **kwargs):
        method = original.__func__(cls, id, customer=customer, **kwargs)
        emit("payment_method.attached", method)
        return method

    return classmethod(attach)


def _detach(cls, id, **kwargs):
    method = PaymentMethod._api_retrieve(id) if isinstance(id, str) else None
    if method is None or method.customer is None:
        raise stripe_error(400, "The payment method you provided is not attached to a customer so detachment is "
                           "impossible.", code="payment_method_unattached", param="payment_method")
    customer = store.get(f"customer:{method.customer}")
    method = _ORIGINAL_DETACH(id, **kwargs)
    if customer is not None and customer.invoice_settings.get("default_payment_method") == method.id:
        customer.invoice_settings = {**customer.invoice_settings, "default_payment_method": None}
    emit("payment_method.detached", method)
    return method


_ORIGINAL_DETACH: Any = None


def _retrieve(original):
    def retrieve(cls, id):
        try:
            return original.__func__(cls, id)
        except UserError as error:
            if error.code != 404:
                raise
            raise stripe_error(404, f"No such PaymentMethod: '{id}'", code="resource_missing",
                               param="payment_method") from None

    return classmethod(retrieve)


def _customer_default(original):
    def update(cls, id, **data):
        settings = data.get("invoice_settings")
        chosen = settings.get("default_payment_method") if isinstance(settings, dict) else None
        if chosen:
            method = store.get(f"payment_method:{chosen}")
            if method is None or method.customer != id:
                raise stripe_error(400, f"The customer does not have a payment method with the ID {chosen}.",
                                   code="resource_missing", param="invoice_settings[default_payment_method]")
        return original.__func__(cls, id, **data)

    return classmethod(update)


def install() -> None:
    """Extension 16. Before ``localstripe.server`` is imported: it binds ``resources.extra_apis`` to routes then."""
    global _ORIGINAL_DETACH
    _setup_intent_params()
    PaymentMethod._api_retrieve = _retrieve(PaymentMethod._api_retrieve)
    _ORIGINAL_DETACH = PaymentMethod._api_detach
    PaymentMethod._api_attach = _attach(PaymentMethod._api_attach)
    PaymentMethod._api_detach = classmethod(_detach)
    Customer._api_update = _customer_default(Customer._api_update)
    replaced = {"/v1/setup_intents/{id}/confirm": _confirm(SetupIntent._api_confirm),
                "/v1/payment_methods/{id}/attach": PaymentMethod._api_attach,
                "/v1/payment_methods/{id}/detach": PaymentMethod._api_detach}
    resources.extra_apis[:] = [(method, url, replaced.get(url, func)) for method, url, func in resources.extra_apis]

"""PaymentIntents and refunds as Stripe answers them: extensions 3 (the parameters we send), 6 (retrying a
declined PaymentIntent, Stripe.js's confirm) and 7 (refund events), applied by :func:`install`. The
package's docstring describes each.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import PaymentIntent, try_convert_to_bool

from devstack.stripe_emulator.common import as_bool, as_str, emit, get_or_404, invalid, missing, stripe_error


def _automatic_payment_methods(value: Any, param: str) -> dict:
    if not isinstance(value, dict) or "enabled" not in value:
        raise missing(f"{param}[enabled]")
    return {
        "enabled": as_bool(value["enabled"], f"{param}[enabled]"),
        "allow_redirects": value.get("allow_redirects", "always"),
    }


def _refund_reason(value: Any, param: str) -> str:
    if value not in ("duplicate", "fraudulent", "requested_by_customer"):
        raise invalid(param, f"Invalid {param}: must be duplicate, fraudulent or requested_by_customer.")
    return value


#: class -> {parameter: check(value, param) -> stored value}. Every object gets the attribute
#: (None when not given), so it shows in the JSON as on Stripe.
EXTRA_PARAMS: dict[type, dict[str, Callable[[Any, str], Any]]] = {
    PaymentIntent: {
        "description": as_str,
        "receipt_email": as_str,
        "statement_descriptor_suffix": as_str,
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


def install() -> None:
    """Apply extensions 3, 6 and 7. Before ``localstripe.server`` is imported: it binds the confirm route then."""
    for cls, checks in EXTRA_PARAMS.items():
        _accept_extra_params(cls, checks)
    _payment_intent_retries()
    _refund_events()
    _refunds_of_unpaid_intents()


def _payment_intent_retries() -> None:
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
            check_client_secret(id, client_secret)
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
            emit("payment_intent.payment_failed", intent)
        return intent

    intent_cls._api_update = classmethod(update)
    replaced = {"/v1/payment_intents/{id}/confirm": confirm, "/v1/payment_intents/{id}/_authenticate": authenticate}
    resources.extra_apis[:] = [(method, url, replaced.get(url, func)) for method, url, func in resources.extra_apis]


def check_client_secret(intent_id: Any, client_secret: Any) -> None:
    """Stripe.js's calls carry the intent's client secret: 404 for an unknown intent, 401 for a wrong secret."""
    intent = get_or_404(PaymentIntent.object, intent_id, "intent")
    if client_secret != intent.client_secret:
        raise stripe_error(401, "The client_secret provided does not match this PaymentIntent.",
                           code="payment_intent_invalid_parameter", param="client_secret")


def _refund_events() -> None:
    original_init = resources.Refund.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        charge = resources.Charge._api_retrieve(self.charge)
        if self.payment_intent is None:
            self.payment_intent = getattr(charge, "payment_intent", None)
        emit("refund.created", self)
        emit("charge.refunded", charge)

    resources.Refund.__init__ = init


def _refunds_of_unpaid_intents() -> None:
    """``GET /v1/refunds?payment_intent=`` of a PaymentIntent with no charge yet: Stripe answers an empty list
    (localstripe fails with a 500)."""
    original = resources.Refund._api_list_all.__func__

    def list_all(cls, url, charge=None, payment_intent=None, limit=None, starting_after=None):
        if charge is None and isinstance(payment_intent, str):
            intent = get_or_404(PaymentIntent.object, payment_intent, "payment_intent")
            if intent.latest_charge is None:
                empty = resources.List(url, limit=limit, starting_after=starting_after)
                empty._list = []
                return empty
        return original(cls, url, charge=charge, payment_intent=payment_intent, limit=limit,
                        starting_after=starting_after)

    resources.Refund._api_list_all = classmethod(list_all)

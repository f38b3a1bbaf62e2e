"""Extension 19: Checkout Sessions in ``mode=subscription`` (extension 2's sessions, billed by extension 8).

Created with ``customer`` (required here: the emulator does not make customers for Checkout), ``line_items`` of
recurring prices (``price``, ``quantity``; one currency and interval), ``subscription_data`` (``metadata``,
``trial_period_days``, ``trial_settings``, ``description``) and ``discounts``. ``payment_intent_data`` is refused,
as on Stripe. ``amount_total`` is what the first invoice will bill (0 with a trial).

Completing it (the hosted page's buttons, or ``POST /_test/checkout/sessions/{id}/complete`` with an optional
``payment_method``) does what Stripe does when the customer pays: the card is attached to the customer, a
subscription is created for the session's customer with that card as its default payment method (its events:
``customer.subscription.created``, the first invoice's ``invoice.created`` ... ``invoice.paid``,
``payment_intent.succeeded``, ``customer.subscription.updated`` as it turns ``active``; a trial's first invoice of 0
is paid at once), and the session becomes ``complete`` with ``subscription``, ``invoice`` and ``payment_status``
(``paid``, or ``no_payment_required`` for a trial) and sends ``checkout.session.completed``. A declined card answers
the 402 card error and leaves the session open with no subscription made; a 3-D Secure card is refused like in
payment mode.

Left out: Checkout creating the customer, ``customer_email``, ``price_data`` and one-time items in subscription mode,
``subscription_data.billing_cycle_anchor``, adjustable quantities, ``allow_promotion_codes`` (the customer typing a
code), and ``setup`` mode.
"""

from __future__ import annotations

from typing import Any

from localstripe.resources import Customer, PaymentMethod

from devstack.stripe_emulator.common import as_int, as_metadata, as_str, emit, invalid, reject_unknown, stripe_error


def check(mode: str, customer: Any, items: list[dict], subscription_data: Any, payment_intent_data: Any
          ) -> dict | None:
    """The subscription a ``mode=subscription`` session will make, checked now (None in payment mode)."""
    if mode != "subscription":
        if subscription_data is not None:
            raise invalid("subscription_data", "subscription_data can only be used in subscription mode.")
        return None
    if customer is None:
        raise invalid("customer", "The Stripe emulator needs a customer for a subscription-mode Checkout Session.")
    if payment_intent_data is not None:
        raise invalid("payment_intent_data", "payment_intent_data cannot be used in subscription mode.")
    if any(item["price"] is None for item in items):
        raise invalid("line_items", "The Stripe emulator takes prices by id (price) in subscription mode.")
    data = dict(subscription_data or {})
    terms = {
        "metadata": as_metadata(data.pop("metadata", None), "subscription_data[metadata]"),
        "description": as_str(data.pop("description", None), "subscription_data[description]"),
        "trial_period_days": data.pop("trial_period_days", None),
        "trial_settings": data.pop("trial_settings", None),
    }
    reject_unknown(data, "subscription_data", what="subscription-mode Checkout")
    if terms["trial_period_days"] is not None:
        as_int(terms["trial_period_days"], "subscription_data[trial_period_days]", 1)
    return terms


def first_amount(session: Any) -> int:
    """What the subscription's first invoice bills: the items (less the discount), 0 with a trial."""
    return 0 if session._subscription_terms.get("trial_period_days") else session.amount_total


def complete(session: Any, payment_method: str) -> Any:
    """The customer pays (or starts the trial): the subscription is made and the session completes."""
    from devstack.stripe_emulator.billing import BillingSubscription, _payment_method_id

    method_id = _payment_method_id(payment_method, "payment_method")
    method = PaymentMethod._api_retrieve(method_id)
    if method._attaching_is_declined() or method._charging_is_declined():
        raise stripe_error(402, "Your card was declined.", type="card_error", code="card_declined",
                           decline_code="generic_decline")
    if method._requires_authentication():
        raise stripe_error(400, "The emulator's subscription checkout only handles cards that succeed or decline "
                           "at once.")
    terms = dict(session._subscription_terms)
    subscription = BillingSubscription._create(
        customer=session.customer,
        items=[{"price": item["price"], "quantity": item["quantity"]} for item in session._line_items],
        payment_behavior="allow_incomplete",
        payment_settings={"save_default_payment_method": "on_subscription"},
        default_payment_method=method_id,
        discounts=session._discounts,
        **{k: v for k, v in terms.items() if v is not None},
    )
    invoice = subscription.latest_invoice
    session.status = "complete"
    session.subscription = subscription.id
    session.invoice = invoice
    session.payment_status = "no_payment_required" if session.amount_total == 0 else "paid"
    customer = Customer._api_retrieve(session.customer)
    session.customer_details = {"address": None, "email": customer.email, "name": customer.name, "phone": None,
                                "tax_exempt": "none", "tax_ids": []}
    emit("checkout.session.completed", session)
    return session

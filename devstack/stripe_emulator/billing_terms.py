"""Extension 15: a subscription's terms and changes, as Stripe bills them: trials and trial end, discounts,
plan changes with proration, and the invoice preview. Builds on :mod:`devstack.stripe_emulator.billing` (extension
8), which calls in here from the subscription's create, update and advance.

- **Trials**: ``trial_period_days`` (1..730) on create: the subscription is ``trialing`` at once, its period is the
  trial (``trial_start`` .. ``trial_end``), its first invoice (``subscription_create``) bills 0 ("Trial period for
  ...") and is paid at once (``invoice.paid``), and, without a payment method, it carries a ``pending_setup_intent``
  (expandable) whose confirmation saves the card as the subscription's default (see ``setup_intents``).
  ``trial_settings.end_behavior.missing_payment_method``: ``cancel``, ``pause`` or ``create_invoice`` (Stripe's
  default). The trial ends on ``POST /_test/subscriptions/{id}/advance`` (there is no clock): with a payment method,
  ``active``, the billing period anchored at the trial's end, and the first ``subscription_cycle`` invoice charged
  off-session (a decline makes it ``past_due``); without one, ``canceled`` (``customer.subscription.deleted``),
  ``paused`` (``customer.subscription.paused``), or ``past_due`` with an open invoice. A trial set to cancel at
  period end ends ``canceled``.
- **Discounts**: ``discounts: [{promotion_code}]`` or ``[{coupon}]`` on create (checked by ``promotions``): each
  invoice the coupon covers (``once``: the first; ``repeating``: for its months; ``forever``) is discounted on its
  subtotal (``total_discount_amounts``, ``discounts``, ``total`` = subtotal less the discount). A trial's 0 first
  invoice uses up a ``once`` coupon, as on Stripe.
- **Plan changes**: ``POST /v1/subscriptions/{id}`` with ``items: [{id, price}]`` (the item re-priced; the same
  currency and interval), ``proration_behavior`` (``create_prorations``, Stripe's default; ``none``;
  ``always_invoice``) and ``proration_date`` (default now; the emulator has no clock, so a date outside the
  current period, as after ``advance``, is taken as its start or end). The proration is Stripe's,
  to the second: a credit of the old price and a charge of the new one for the part of the period after
  ``proration_date``, each rounded half up ("Unused time on ...", "Remaining time on ...", ``proration: true``).
  ``create_prorations`` keeps them for the next ``subscription_cycle`` invoice; ``always_invoice`` makes a
  ``subscription_update`` invoice of them at once (after ``customer.subscription.updated``) and charges it off-session;
  ``none`` bills the new price from the next period. A trialing subscription changes price without proration.
- **Preview**: ``POST /v1/invoices/create_preview`` with ``customer``, ``subscription`` and ``subscription_details``
  (``items``, ``proration_behavior``, ``proration_date``): the invoice the change would make (``always_invoice``),
  else the next ``subscription_cycle`` invoice with the change, computed as above and stored nowhere (its ``id`` is
  ``upcoming_in_...``). Without ``subscription_details`` it previews the next invoice as it stands.

Left out: changing the interval or quantity, adding or removing items, ``billing_cycle_anchor`` and
``billing_mode`` on update (flexible billing is what these prorations follow), ``payment_behavior`` other than
``allow_incomplete`` on update, crediting a negative invoice to the customer's balance (a downgrade invoiced at once
is a paid 0 invoice), ``customer.subscription.trial_will_end``, resuming a paused subscription, and taxes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from localstripe import resources
from localstripe.resources import SetupIntent, random_id, store

from devstack.stripe_emulator import promotions
from devstack.stripe_emulator.billing import (
    BillingSubscription,
    BillingSubscriptionItem,
    LineSpec,
    SubscriptionInvoice,
    _billing_subscription,
    _period_boundary,
    _product_name,
    line_fields,
)
from devstack.stripe_emulator.common import as_int, emit, get_or_404, invalid, reject_unknown, stripe_error

MAX_TRIAL_DAYS = 730
END_BEHAVIORS = ("cancel", "pause", "create_invoice")
PRORATIONS = ("create_prorations", "none", "always_invoice")


# --------------------------------------------------------------------------------------------
# Terms on create: a trial, a discount
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    trial_days: int
    end_behavior: str
    redemption: promotions.Redemption | None

    def apply(self, sub: BillingSubscription) -> None:
        """Set on a subscription just made, before its first invoice."""
        sub.trial_settings = {"end_behavior": {"missing_payment_method": self.end_behavior}}
        if self.trial_days:
            sub.trial_start = sub.created
            sub.trial_end = sub.created + self.trial_days * 86400
            sub.billing_cycle_anchor = sub.trial_end
            sub.status = "trialing"
            if sub._default_payment_method() is None:  # the card the trial's end will charge, saved by the client
                sub.pending_setup_intent = SetupIntent(customer=sub.customer, usage="off_session").id
                store[f"setup_intent:{sub.pending_setup_intent}"]._subscription = sub.id
        if self.redemption is not None:
            self.redemption.redeem()
            sub._redemption = self.redemption
            sub.discounts = [self.redemption.id]


def check_terms(customer: str, items: list, trial_period_days: Any, trial_settings: Any, discounts: Any) -> Terms:
    days = as_int(trial_period_days, "trial_period_days") if trial_period_days not in (None, "") else 0
    if days > MAX_TRIAL_DAYS:
        raise invalid("trial_period_days", f"trial_period_days must be at most {MAX_TRIAL_DAYS}.")
    behavior = "create_invoice"
    if trial_settings not in (None, ""):
        end = trial_settings.get("end_behavior") if isinstance(trial_settings, dict) else None
        behavior = end.get("missing_payment_method") if isinstance(end, dict) else None
        if behavior not in END_BEHAVIORS or set(trial_settings) != {"end_behavior"} or set(end) != {
                "missing_payment_method"}:
            raise invalid("trial_settings[end_behavior][missing_payment_method]",
                          "missing_payment_method must be cancel, pause or create_invoice.")
    price = items[0][0]
    amount = sum(p.unit_amount * quantity for p, quantity, _ in items)
    return Terms(days, behavior,
                 promotions.redemption(discounts, customer=customer, currency=price.currency, amount=amount))


# --------------------------------------------------------------------------------------------
# The end of a trial
# --------------------------------------------------------------------------------------------


def end_trial(sub: BillingSubscription, fail: bool) -> Any:
    """What Stripe does at ``trial_end`` (see the module)."""
    behavior = sub.trial_settings["end_behavior"]["missing_payment_method"]
    has_card = sub._default_payment_method() is not None
    if sub.cancel_at_period_end or (not has_card and behavior == "cancel"):
        sub._end(canceled_at=sub.canceled_at or int(time.time()), ended_at=sub.trial_end)
        return sub
    before = sub._snapshot()
    if not has_card and behavior == "pause":
        sub.status = "paused"
        sub._emit_updated(before)
        emit("customer.subscription.paused", sub)
        return sub
    start, end = sub.trial_start, sub.trial_end
    sub.status = "active"  # the period is now the first one after the trial (anchored at its end)
    return sub._bill_cycle(before, start, end, fail)


# --------------------------------------------------------------------------------------------
# Plan changes and their prorations
# --------------------------------------------------------------------------------------------


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _day(moment: int) -> str:
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%d %b %Y")


def proration_lines(sub: BillingSubscription, item: BillingSubscriptionItem, price: Any, at: int
                    ) -> tuple[LineSpec, ...]:
    """Stripe's two proration lines for moving ``item`` to ``price`` at ``at``: the unused time credited, the
    remaining time charged, each for the part of the current period after ``at``."""
    start, end = sub.current_period_start, sub.current_period_end
    if end <= start or sub.status == "trialing":
        return ()
    left = Decimal(max(0, end - at)) / Decimal(end - start)
    quantity = item.quantity
    old, when = item.price, _day(at)
    return (
        LineSpec(item, old, -_round(old.unit_amount * quantity * left),
                 f"Unused time on {quantity} \u00d7 {_product_name(old)} after {when}", at, end, proration=True),
        LineSpec(item, price, _round(price.unit_amount * quantity * left),
                 f"Remaining time on {quantity} \u00d7 {_product_name(price)} after {when}", at, end, proration=True),
    )


@dataclass(frozen=True)
class Change:
    item: BillingSubscriptionItem
    price: Any
    proration: str
    at: int

    def lines(self, sub: BillingSubscription) -> tuple[LineSpec, ...]:
        if self.proration == "none" or self.price.id == self.item.price.id:
            return ()
        return proration_lines(sub, self.item, self.price, self.at)

    def apply(self, sub: BillingSubscription) -> SubscriptionInvoice | None:
        """Re-price the item; the prorations go on the next invoice, or on one made now (returned, to charge)."""
        lines = self.lines(sub)
        self.item.price = self.price
        self.item.plan = store.get(f"plan:{self.price.id}") or self.item.plan
        if self.proration == "always_invoice" and (lines or sub._pending_lines):
            pending, sub._pending_lines = tuple(sub._pending_lines), []
            invoice = SubscriptionInvoice(sub, "subscription_update", self.at, self.at, items=False,
                                          extra_lines=(*pending, *lines))
            sub.latest_invoice = invoice.id
            return invoice
        sub._pending_lines.extend(lines)
        return None


def check_change(sub: BillingSubscription, items: Any, proration_behavior: Any, proration_date: Any,
                 payment_behavior: Any) -> Change | None:
    """A re-priced item (``items=[{id, price}]``), checked; None when the update changes no item."""
    if payment_behavior not in (None, "allow_incomplete"):
        raise invalid("payment_behavior", "The Stripe emulator updates subscriptions with allow_incomplete only.")
    proration = proration_behavior or "create_prorations"
    if proration not in PRORATIONS:
        raise invalid("proration_behavior", "proration_behavior must be create_prorations, none or always_invoice.")
    if items in (None, ""):
        return None
    # No clock: a period moved past now by advance() is prorated from its start (a date before it, as Stripe's
    # "within the current period" rule would refuse, is taken as that start; one after its end as its end).
    start, end = sub.current_period_start, sub.current_period_end
    at = as_int(proration_date, "proration_date") if proration_date not in (None, "") else int(time.time())
    at = min(max(at, start), end)
    if sub.status in ("canceled", "incomplete_expired", "paused"):
        raise stripe_error(400, f"A {sub.status} subscription's items cannot be changed.", param="items")
    if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
        raise invalid("items", "The Stripe emulator re-prices one item at a time: items[0][id] and items[0][price].")
    entry = dict(items[0])
    item_id, price_id = entry.pop("id", None), entry.pop("price", None)
    reject_unknown(entry, "items[0]", what="subscription item changes")
    item = next((i for i in sub.items._list if i.id == item_id), None)
    if item is None:
        raise invalid("items[0][id]", f"The subscription has no item {item_id!r}.")
    price = get_or_404("price", price_id, "items[0][price]")
    if price.type != "recurring" or not price.active:
        raise invalid("items[0][price]", "The price must be an active recurring price.")
    if price.currency != item.price.currency:
        raise invalid("items[0][price]", "The new price must be in the subscription's currency.")
    if price.recurring["interval"] != item.price.recurring["interval"] or (
            price.recurring["interval_count"] != item.price.recurring["interval_count"]):
        raise invalid("items[0][price]", "The Stripe emulator does not change a subscription's interval.")
    return Change(item, price, proration, at)


# --------------------------------------------------------------------------------------------
# The invoice preview
# --------------------------------------------------------------------------------------------


def _preview(customer=None, subscription=None, subscription_details=None, **kwargs) -> dict:
    reject_unknown(kwargs, what="invoice previews")
    if subscription is None:
        raise invalid("subscription", "The Stripe emulator previews a subscription's invoices only.")
    sub = _billing_subscription(subscription)
    if customer is not None and customer != sub.customer:
        raise invalid("customer", f"Subscription {sub.id} is not customer {customer}'s.")
    details = dict(subscription_details or {})
    change = check_change(sub, details.pop("items", None), details.pop("proration_behavior", None),
                          details.pop("proration_date", None), None)
    reject_unknown(details, "subscription_details", what="invoice previews")
    now = int(time.time())
    if change is not None and change.proration == "always_invoice":
        reason, start, end = "subscription_update", change.at, change.at
        lines = (*sub._pending_lines, *change.lines(sub))
    else:
        reason, start, end = "upcoming", sub.current_period_end, _next_period_end(sub)
        prices = {i.id: (change.price if change is not None and i is change.item else i.price) for i in sub.items._list}
        lines = tuple(LineSpec(i, prices[i.id], prices[i.id].unit_amount * i.quantity,
                               f"{i.quantity} \u00d7 {_product_name(prices[i.id])}", start, end)
                      for i in sub.items._list)
        lines = (*lines, *sub._pending_lines, *(change.lines(sub) if change is not None else ()))
    subtotal = sum(line.amount for line in lines)
    redemption = sub._redemption
    discount = redemption.amount_off(subtotal) if redemption and redemption.applies_to_invoice(
        sub._invoices_made, now) else 0
    total = max(0, subtotal - discount)
    invoice_id = "upcoming_in_" + random_id(14)
    return {
        "id": invoice_id, "object": "invoice", "amount_due": total, "amount_paid": 0, "amount_remaining": total,
        "billing_reason": reason, "created": now, "currency": sub.currency, "customer": sub.customer,
        "discounts": [redemption.id] if discount else [], "livemode": False,
        "lines": {"object": "list", "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines",
                  "data": [{"id": "il_tmp_" + random_id(14), "object": "line_item", "livemode": False,
                            **line_fields(line, None)} for line in lines]},
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"metadata": dict(sub.metadata), "subscription": sub.id,
                                            "subscription_proration_date": change.at if change else None}},
        "period_end": end, "period_start": start, "status": "draft", "subtotal": subtotal, "total": total,
        "total_discount_amounts": [{"amount": discount, "discount": redemption.id}] if discount and redemption
        else [],
    }


def _next_period_end(sub: BillingSubscription) -> int:
    if sub.status == "trialing":
        return _period_boundary(sub.trial_end, *sub._interval, 1)
    return _period_boundary(sub.billing_cycle_anchor, *sub._interval, sub._periods + 2)


class _Preview:
    """The preview as localstripe's route wrapper answers objects (``_export``)."""

    def __init__(self, invoice: dict):
        self.invoice = invoice

    def _export(self, expand=None) -> dict:
        return self.invoice


def install() -> None:
    """Extension 15's route; before ``localstripe.server`` is imported (its ``/v1/invoices/{id}`` would take it)."""
    resources.extra_apis.insert(0, ("POST", "/v1/invoices/create_preview", lambda **data: _Preview(_preview(**data))))

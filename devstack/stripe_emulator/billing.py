"""Subscriptions and their invoices for the Stripe emulator, answered in the current API's shape.

Extension 8 of :mod:`devstack.stripe_emulator` (localstripe plus our extensions). localstripe's own
subscriptions take only legacy ``items[].plan``, pay the first invoice at once from the customer's default
payment method, never renew and send no ``customer.subscription.updated`` / ``invoice.paid``. Here a
subscription created with ``items[].price`` (a recurring Price of the emulator) behaves like Stripe's
billing, as of API version 2026-10-28 (what stripe-python 16 pins):

- ``POST /v1/subscriptions`` with ``customer``, ``items[]`` (``price``, ``quantity``, ``metadata``; one
  or more, same currency and interval), ``payment_behavior`` (``default_incomplete`` or
  ``allow_incomplete``, Stripe's default), ``payment_settings`` (``save_default_payment_method``,
  ``payment_method_types``), ``default_payment_method``, ``metadata``, ``description``, ``off_session``.
  The first invoice (``billing_reason: subscription_create``) is finalized with a PaymentIntent for its
  total, which ``confirmation_secret`` exposes (``expand=["latest_invoice.confirmation_secret"]`` works).
  ``default_incomplete`` leaves the subscription ``incomplete`` until that PaymentIntent is confirmed
  (``payment_intents.update`` + ``confirm``, or ``confirm(id, payment_method=...)``); ``allow_incomplete``
  charges the default payment method (the subscription's, else the customer's) right away.
- Paying an invoice (however it is paid) does what Stripe does: invoice ``paid`` (``amount_paid``,
  ``status_transitions.paid_at``), ``invoice.paid`` and ``invoice.payment_succeeded``; the subscription
  becomes ``active`` and, with ``save_default_payment_method: on_subscription``, keeps the card as its
  ``default_payment_method`` (attached to the customer); ``customer.subscription.updated``. A decline
  sends ``invoice.payment_failed``: a first invoice leaves the subscription ``incomplete``; a renewal
  makes it ``past_due`` (``customer.subscription.updated``).
- ``POST /v1/subscriptions/{id}``: ``cancel_at_period_end`` (also sets ``cancel_at``, ``canceled_at``,
  ``cancellation_details.reason`` as Stripe does), ``metadata`` (merged; an empty value deletes a key),
  ``default_payment_method``, ``description``, ``cancellation_details``. ``DELETE /v1/subscriptions/{id}``
  cancels now (``canceled``, ``canceled_at``, ``ended_at``, ``customer.subscription.deleted``); a second
  cancel is Stripe's 404 ``No such subscription``. Retrieve and list are localstripe's.
- ``POST /v1/invoices/{id}/pay`` (optional ``payment_method``) on these invoices charges the invoice's own
  PaymentIntent again, as Stripe does (a decline is a 402 ``card_error``). Other invoices keep
  localstripe's behaviour.

Test helpers (API key required, like ``/_test/checkout/sessions/{id}/complete``):

- ``POST /_test/subscriptions/{id}/advance`` (optional ``fail=true``): what Stripe's billing does at the
  end of the current period of an ``active`` or ``past_due`` subscription. With ``cancel_at_period_end``
  the subscription ends (``canceled``, ``ended_at`` = the period end, ``customer.subscription.deleted``;
  the answer is the subscription). Otherwise the period moves one interval on
  (``customer.subscription.updated``), a ``subscription_cycle`` invoice is created and finalized and its
  PaymentIntent is confirmed off-session with the default payment method through localstripe's own
  machinery (so ``payment_intent.succeeded`` / ``payment_failed`` are sent too): paid as above, or, with
  ``fail=true`` (a forced ``card_declined`` on the same card), a declining card or no payment method at
  all, left ``open`` with ``attempt_count: 1``, ``invoice.payment_failed``, subscription ``past_due``. The
  answer is the new invoice.
- ``POST /_test/invoices/{id}/pay`` (optional ``payment_method``, default the subscription's, else the
  customer's default): Stripe retrying an open invoice. Paid: as above (``past_due`` -> ``active``). A
  decline answers the invoice, still ``open``, after ``invoice.payment_failed``.

Shapes: invoices carry ``parent: {type: subscription_details, subscription_details: {subscription,
metadata}}`` (the subscription's metadata when the invoice was created) and also the older top-level
``subscription``; ``confirmation_secret``; ``payments`` (one ``invoice_payment`` for the PaymentIntent);
lines with ``pricing.price_details`` and ``parent.subscription_item_details``. Subscriptions carry the
period on each item (``items.data[].current_period_start|end``, the current API) and also at the top
level (older readers), each item its ``price``. Fields the current API removed and localstripe's classes
would add (``plan`` / ``quantity`` on the subscription; ``charge``, ``payment_intent``, ``tax``, ``date``
on the invoice) are left out. ``customer.subscription.updated`` carries ``data.previous_attributes`` as
Stripe computes it (changed fields only, recursively; a changed list whole).

Events go through localstripe's ``Event`` and ``schedule_webhook`` (listed by ``/v1/events``, delivered
signed to the registered webhooks). They are emitted in Stripe's order, but localstripe delivers each about
1 s later on its own, so arrival order is not guaranteed (nor is it on Stripe): order by ``/v1/events``.

Limits: no clock (``advance`` moves the billing period, not time: invoice ``created`` stays the wall
clock), no automatic retries, dunning, ``unpaid`` or ``incomplete_expired`` by time
(``next_payment_attempt`` is null); no quantity changes, taxes, customer balance or invoice items on these
invoices; ``payment_behavior`` ``error_if_incomplete`` and ``pending_if_incomplete`` are refused, like every
parameter not listed above (400 naming it). Trials, discounts, plan changes with proration and the invoice
preview are extension 15 (:mod:`devstack.stripe_emulator.billing_terms`), which ``_create``, ``_api_update_billing``
and ``_advance`` call into (``trial_period_days``, ``trial_settings``, ``discounts``; ``items``,
``proration_behavior``, ``proration_date``).
3-D Secure cards at renewal leave the invoice open with ``invoice.payment_action_required`` (the
subscription goes ``past_due``). Subscriptions created with legacy ``items[].plan`` only are still
localstripe's own. Events say ``api_version: 2017-08-15`` (localstripe stamps it) though their objects
have the current shape.

Hook it up by calling :func:`install` before ``localstripe.server`` is imported (the server binds
``resources.extra_apis`` to routes at import); ``devstack.stripe_emulator.server.install()`` does. Tests
drive the two test helpers with ``advance_subscription`` and ``pay_invoice`` from
:mod:`devstack.stripe_emulator.process`.
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from localstripe import resources
from localstripe.errors import UserError
from localstripe.resources import (
    Charge,
    Customer,
    Invoice,
    List,
    PaymentIntent,
    PaymentMethod,
    StripeObject,
    Subscription,
    SubscriptionItem,
    store,
    try_convert_to_int,
)

from devstack.stripe_emulator.common import (
    as_bool,
    as_metadata,
    as_str,
    emit,
    get_or_404,
    invalid,
    missing,
    reject_unknown,
    stripe_error,
)


def _merge_metadata(current: dict, update: Any) -> dict:
    """Stripe's update semantics: keys are merged, an empty value deletes one, ``""`` clears all."""
    if update == "":
        return {}
    update = as_metadata(update)
    merged = {**current, **update}
    return {k: v for k, v in merged.items() if v != ""}


def _payment_method_id(value: Any, param: str) -> str:
    """The id of a payment method, creating it for a test alias such as ``pm_card_visa``."""
    if not isinstance(value, str) or not value.startswith(("pm_", "card_", "src_")):
        raise invalid(param, f"Invalid payment method: {value!r}.")
    try:
        return PaymentMethod._api_retrieve(value).id
    except UserError:
        raise stripe_error(404, f"No such PaymentMethod: '{value}'", code="resource_missing", param=param) from None


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------


def _previous_attributes(before: dict, after: dict) -> dict:
    """Stripe's ``previous_attributes``: changed fields with their old values; objects recursively,
    a changed list (such as ``items.data``) whole."""
    previous = {}
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            previous[key] = _previous_attributes(old, new)
        else:
            previous[key] = copy.deepcopy(old)
    return previous


# --------------------------------------------------------------------------------------------
# Billing periods
# --------------------------------------------------------------------------------------------

_INTERVALS = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}


def _period_boundary(anchor: int, interval: str, interval_count: int, periods: int) -> int:
    """``anchor`` plus ``periods`` billing intervals, counted from the anchor as Stripe does (a subscription
    anchored on January 31 renews on February 28, then on March 31), in UTC."""
    start = datetime.fromtimestamp(anchor, tz=UTC)
    return int((start + _INTERVALS[interval] * (interval_count * periods)).timestamp())


# --------------------------------------------------------------------------------------------
# Subscription items, invoice lines, invoices, subscriptions
# --------------------------------------------------------------------------------------------


class BillingSubscriptionItem(SubscriptionItem):
    """A subscription item with its ``price`` and (current API) its own period. Stored like localstripe's
    (``/v1/subscription_items/{id}`` answers it); ``plan`` is the Price's same-id Plan."""

    def __init__(self, subscription: BillingSubscription, price: Any, quantity: int, metadata: dict):
        super().__init__(
            subscription=subscription.id, plan=price.id, quantity=quantity, tax_rates=[], metadata=metadata
        )
        self.billing_thresholds = None
        self.discounts = []
        self.price = price
        self.subscription = subscription.id

    def _owner(self) -> BillingSubscription:
        return store[f"subscription:{self._subscription}"]

    @property
    def current_period_start(self) -> int:
        return self._owner().current_period_start

    @property
    def current_period_end(self) -> int:
        return self._owner().current_period_end

    def _current_period(self) -> dict:  # what localstripe's own invoice code asks an item
        return {"start": self.current_period_start, "end": self.current_period_end}


@dataclass(frozen=True)
class LineSpec:
    """What one invoice line bills: an item's price for a period, a trial's zero, or a proration (computed by
    :mod:`devstack.stripe_emulator.billing_terms`). A preview exports these without storing anything."""

    item: BillingSubscriptionItem
    price: Any
    amount: int
    description: str
    start: int
    end: int
    proration: bool = False


def _product_name(price: Any) -> str:
    product = store.get(f"product:{price.product}")
    return product.name if product else price.product


def item_line(item: BillingSubscriptionItem, start: int, end: int, trial: bool = False) -> LineSpec:
    """The line an item bills for a period (0 during a trial, described as Stripe does)."""
    name = _product_name(item.price)
    if trial:
        return LineSpec(item, item.price, 0, f"Trial period for {name}", start, end)
    # Stripe's "1 <multiplication sign> Name"
    return LineSpec(item, item.price, item.price.unit_amount * item.quantity, f"{item.quantity} \u00d7 {name}",
                    start, end)


def line_fields(spec: LineSpec, invoice_id: str | None) -> dict:
    """A line's fields in the current API's shape (``parent.subscription_item_details``, ``pricing``)."""
    price = spec.price
    return {
        "amount": spec.amount,
        "currency": price.currency,
        "description": spec.description,
        "discount_amounts": [],
        "discountable": not spec.proration,
        "discounts": [],
        "invoice": invoice_id,
        "metadata": {},
        "parent": {
            "type": "subscription_item_details",
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": spec.proration,
                "proration_details": {"credited_items": None},
                "subscription": spec.item.subscription,
                "subscription_item": spec.item.id,
            },
        },
        "period": {"start": spec.start, "end": spec.end},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price.id, "product": price.product},
            "unit_amount_decimal": str(price.unit_amount),
        },
        "quantity": spec.item.quantity,
        "subscription": spec.item.subscription,
        "subtotal": spec.amount,
        "taxes": [],
    }


class SubscriptionInvoiceLine(StripeObject):
    """One line of a subscription invoice (see :class:`LineSpec`), in the current API's shape."""

    object = "line_item"
    _id_prefix = "il_"

    def __init__(self, invoice: SubscriptionInvoice, spec: LineSpec):
        super().__init__()
        vars(self).update(line_fields(spec, invoice.id))


def _report_decline(intent: PaymentIntent) -> None:
    """What localstripe's ``PaymentIntent._report_failure`` does, without answering the request with a 402:
    an off-session charge (renewal, retry) fails in the background."""
    emit("payment_intent.payment_failed", intent)
    Invoice._api_retrieve(intent.invoice)._on_payment_failure_now()


class SubscriptionInvoice(Invoice):
    """An invoice of a :class:`BillingSubscription`. Stored like localstripe's (``/v1/invoices`` retrieve,
    list and ``/lines`` answer it); its status still comes from its PaymentIntent, as in localstripe."""

    _removed_fields = ("charge", "date", "payment_intent", "tax", "tax_percent", "total_tax_amounts")

    def __init__(self, subscription: BillingSubscription, billing_reason: str, period_start: int, period_end: int,
                 *, trial: bool = False, items: bool = True, extra_lines: tuple[LineSpec, ...] = ()):
        customer = Customer._api_retrieve(subscription.customer)
        StripeObject.__init__(self)  # not Invoice.__init__: its lines, balance and events are not these
        self.amount_overpaid = 0
        self.amount_shipping = 0
        self.application = None
        self.attempt_count = 0
        self.attempted = False
        self.auto_advance = True
        self.automatic_tax = {"disabled_reason": None, "enabled": False, "liability": None, "status": None}
        self.billing_reason = billing_reason
        self.collection_method = "charge_automatically"
        self.currency = subscription.currency
        self.customer = subscription.customer
        self.customer_email = customer.email
        self.customer_name = customer.name
        self.default_payment_method = None
        self.default_tax_rates = []
        self.description = None
        self.discounts = []
        self.due_date = None
        self.effective_at = None
        self.ending_balance = None
        self.hosted_invoice_url = None
        self.invoice_pdf = None
        self.last_finalization_error = None
        self.metadata = {}
        self.number = None
        self.period_end = period_end
        self.period_start = period_start
        self.receipt_number = None
        self.starting_balance = 0
        self.status_transitions = {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        }
        self.subscription = subscription.id  # the pre-2025 field, next to parent.subscription_details
        self.total_taxes = []
        self.webhooks_delivered_at = None
        # What localstripe's Invoice properties and routes read (not exported, see _removed_fields):
        self.date = time.time()  # what localstripe lists invoices by, newest first: finer than `created`
        self.payment_intent = None
        self.tax_percent = None
        self._draft = True
        self._voided = False
        self._subscription_metadata = dict(subscription.metadata)
        self._billing_reason = billing_reason
        self.lines = List(f"/v1/invoices/{self.id}/lines", limit=100)
        start, end = subscription.current_period_start, subscription.current_period_end
        specs = [item_line(item, start, end, trial) for item in subscription.items._list] if items else []
        self.lines._list = [SubscriptionInvoiceLine(self, spec) for spec in (*specs, *extra_lines)]
        # A discount of the subscription (billing_terms): on the subtotal, for the invoices its coupon covers
        self._discount_amount, discount_id = subscription._discount_on(self.subtotal, int(self.date))
        self.discounts = [discount_id] if discount_id else []
        emit("invoice.created", self)

    # The current API's computed fields ----------------------------------------------------------

    @property
    def parent(self) -> dict:
        return {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": dict(self._subscription_metadata),
                "subscription": self.subscription,
                "subscription_proration_date": None,
            },
        }

    @property
    def confirmation_secret(self) -> dict | None:
        if self.payment_intent is None:
            return None
        intent = PaymentIntent._api_retrieve(self.payment_intent)
        return {"client_secret": intent.client_secret, "type": "payment_intent"}

    @property
    def payments(self) -> dict:
        data = []
        if self.payment_intent is not None:
            status = {"paid": "paid", "void": "canceled"}.get(self.status, "open")
            data.append(
                {
                    "id": "inpay_" + self.payment_intent.removeprefix("pi_"),
                    "object": "invoice_payment",
                    "amount_paid": self.amount_paid if status == "paid" else None,
                    "amount_requested": self.amount_due,
                    "created": self.status_transitions["finalized_at"],
                    "currency": self.currency,
                    "invoice": self.id,
                    "is_default": True,
                    "livemode": False,
                    "payment": {"type": "payment_intent", "payment_intent": self.payment_intent},
                    "status": status,
                    "status_transitions": {
                        "canceled_at": self.status_transitions["voided_at"],
                        "paid_at": self.status_transitions["paid_at"],
                    },
                }
            )
        return {"object": "list", "data": data, "has_more": False, "url": f"/v1/invoices/{self.id}/payments"}

    @property
    def amount_remaining(self) -> int:
        return 0 if self.status in ("paid", "void") else self.amount_due - self.amount_paid

    @property
    def total(self) -> int:  # localstripe's, less the discount (a negative total is not carried to a balance)
        return max(0, self.subtotal - self._discount_amount)

    @property
    def total_discount_amounts(self) -> list:
        return [{"amount": self._discount_amount, "discount": self.discounts[0]}] if self._discount_amount else []

    @property
    def subtotal_excluding_tax(self) -> int:
        return self.subtotal

    @property
    def total_excluding_tax(self) -> int:
        return self.total

    @property
    def tax(self) -> int:  # no tax on these invoices
        return 0

    @property
    def total_tax_amounts(self) -> list:
        return []

    @property
    def next_payment_attempt(self) -> None:  # the emulator never retries by itself
        return None

    def _export(self, expand=None):
        obj = super()._export(expand=expand)
        for key in self._removed_fields:
            obj.pop(key, None)
        return obj

    # Lifecycle ---------------------------------------------------------------------------------

    def _subscription(self) -> BillingSubscription:
        return store[f"subscription:{self.subscription}"]

    def _open(self) -> None:
        """Finalize: ``open`` with a PaymentIntent for the total (``paid`` at once when it is 0)."""
        subscription = self._subscription()
        self._finalize()
        self.effective_at = self.status_transitions["finalized_at"]
        self.ending_balance = 0
        count = sum(
            1
            for key, obj in store.items()
            if key.startswith("invoice:") and getattr(obj, "customer", None) == self.customer
        )
        self.number = f"{self.customer.removeprefix('cus_')[:8].upper()}-{count:04d}"
        if self.total > 0:
            save = subscription.payment_settings["save_default_payment_method"] == "on_subscription"
            intent = PaymentIntent(amount=self.total, currency=self.currency, customer=self.customer)
            intent.invoice = self.id
            intent.description = (
                "Subscription creation" if self._billing_reason == "subscription_create" else "Subscription update"
            )
            intent.setup_future_usage = "off_session" if save else None
            self.payment_intent = intent.id
        emit("invoice.finalized", self)
        if self.total <= 0:
            self._on_payment_success()

    def _charge_off_session(self, payment_method: str | None, force_decline: bool = False) -> None:
        """Stripe charging the invoice by itself (renewal, retry, ``allow_incomplete``): a decline is
        reported by events, never raised."""
        if payment_method is None:  # nothing to charge: the attempt fails without a charge
            self._on_payment_failure_now()
            return
        intent = self._prepare_intent(payment_method)
        if force_decline:
            # The same card, declined by the bank (as a card with insufficient funds would be): the charge
            # localstripe's PaymentIntent._create_charge makes, with its authorization refused.
            charge = Charge(
                amount=intent.amount, currency=intent.currency, customer=intent.customer, source=intent.payment_method
            )
            charge.payment_intent = intent.id
            charge._authorized = False
            intent.latest_charge = charge
            charge._initialize_charge(intent._on_success, lambda: _report_decline(intent), intent._report_async_failure)
        else:
            intent._confirm(on_failure_now=lambda: _report_decline(intent))
        if intent.status == "requires_action":
            self._on_payment_action_required()

    def _prepare_intent(self, payment_method: str) -> PaymentIntent:
        """The invoice's PaymentIntent, set to be confirmed (again) with ``payment_method``."""
        intent = PaymentIntent._api_retrieve(self.payment_intent)
        if intent.status not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise stripe_error(400, f"The PaymentIntent {intent.id} of invoice {self.id} is {intent.status!r}.")
        intent.payment_method = payment_method
        intent.next_action = None
        intent._authentication_failed = False
        if intent.latest_charge is not None and intent.latest_charge.status == "failed":
            intent.latest_charge = None  # the failed attempt stays a Charge; this is a new one
        return intent

    def _attempted(self) -> None:
        if self.payment_intent is not None:
            self.attempt_count += 1
            self.attempted = True

    # Called by localstripe's PaymentIntent when the invoice's payment succeeds or fails.

    def _on_payment_success(self):
        self._attempted()
        self.status_transitions = {**self.status_transitions, "paid_at": int(time.time())}
        emit("invoice.paid", self)
        emit("invoice.payment_succeeded", self)
        payment_method = None
        if self.payment_intent is not None:
            charge = PaymentIntent._api_retrieve(self.payment_intent).latest_charge
            payment_method = charge.payment_method if charge is not None else None
        self._subscription()._on_invoice_paid(self, payment_method)

    def _on_payment_failure_now(self):
        self._attempted()
        emit("invoice.payment_failed", self)
        self._subscription()._on_invoice_payment_failed(self)

    def _on_payment_failure_later(self):  # a failed 3-D Secure authentication, an asynchronous decline
        self._on_payment_failure_now()

    def _on_payment_action_required(self):
        self._attempted()
        emit("invoice.payment_action_required", self)
        self._subscription()._on_invoice_payment_failed(self)


class BillingSubscription(Subscription):
    """A subscription on Prices, in the current API's shape. Stored like localstripe's (retrieve and list
    are localstripe's routes); created, updated and canceled through :func:`install`'s hooks."""

    _removed_fields = ("plan", "quantity", "tax_percent")

    def __init__(
        self,
        customer: str,
        items: list[tuple[Any, int, dict]],
        metadata: dict,
        description: str | None,
        default_payment_method: str | None,
        payment_settings: dict,
    ):
        price = items[0][0]
        StripeObject.__init__(self)  # not Subscription.__init__: it pays at once and knows only plans
        now = self.created
        self.application = None
        self.application_fee_percent = None
        self.automatic_tax = {"disabled_reason": None, "enabled": False, "liability": None}
        self.billing_cycle_anchor = now
        self.billing_cycle_anchor_config = None
        self.cancel_at = None
        self.cancel_at_period_end = False
        self.canceled_at = None
        self.cancellation_details = {"comment": None, "feedback": None, "reason": None}
        self.collection_method = "charge_automatically"
        self.currency = price.currency
        self.customer = customer
        self.days_until_due = None
        self.default_payment_method = default_payment_method
        self.default_source = None
        self.default_tax_rates = []
        self.description = description
        self.discounts = []
        self.ended_at = None
        self.invoice_settings = {"account_tax_ids": None, "issuer": {"type": "self"}}
        self.latest_invoice = None
        self.metadata = metadata
        self.next_pending_invoice_item_invoice = None
        self.on_behalf_of = None
        self.pause_collection = None
        self.payment_settings = payment_settings
        self.pending_invoice_item_interval = None
        self.pending_setup_intent = None
        self.pending_update = None
        self.schedule = None
        self.start_date = now
        self.status = "incomplete"
        self.test_clock = None
        self.transfer_data = None
        self.trial_end = None
        self.trial_settings = {"end_behavior": {"missing_payment_method": "create_invoice"}}
        self.trial_start = None
        self.tax_percent = None  # read by localstripe's upcoming-invoice code; not exported
        self._interval = (price.recurring["interval"], price.recurring["interval_count"])
        self._periods = 0  # completed billing periods
        # billing_terms: a trial's period, the discount and the invoices it has covered, prorations for the next
        self._redemption = None
        self._invoices_made = 0
        self._pending_lines: list[LineSpec] = []
        self._creating = True  # no customer.subscription.updated before customer.subscription.created
        self.items = List(f"/v1/subscription_items?subscription={self.id}", limit=100)
        self.items._list = [
            BillingSubscriptionItem(self, p, quantity, item_metadata) for p, quantity, item_metadata in items
        ]

    @property
    def current_period_start(self) -> int:
        if self.status == "trialing":
            return self.trial_start
        return _period_boundary(self.billing_cycle_anchor, *self._interval, self._periods)

    @property
    def current_period_end(self) -> int:
        if self.status == "trialing":
            return self.trial_end
        return _period_boundary(self.billing_cycle_anchor, *self._interval, self._periods + 1)

    def _discount_on(self, subtotal: int, at: int) -> tuple[int, str | None]:
        """The discount the next invoice gets (and that it is made): ``(amount, discount id)``."""
        number, self._invoices_made = self._invoices_made, self._invoices_made + 1
        redemption = self._redemption
        if redemption is None or not redemption.applies_to_invoice(number, at):
            return 0, None
        return redemption.amount_off(subtotal), redemption.id

    def _export(self, expand=None):
        obj = super()._export(expand=expand)
        for key in self._removed_fields:
            obj.pop(key, None)
        return obj

    def _snapshot(self) -> dict:
        return copy.deepcopy(self._export())

    def _emit_updated(self, before: dict) -> None:
        previous = _previous_attributes(before, self._export())
        if previous and not self._creating:
            emit("customer.subscription.updated", self, previous)

    def _default_payment_method(self) -> str | None:
        if self.default_payment_method:
            return self.default_payment_method
        source = Customer._api_retrieve(self.customer)._get_default_payment_method_or_source()
        return source.id if source is not None else None

    # Creation ----------------------------------------------------------------------------------

    @classmethod
    def _create(
        cls,
        customer=None,
        items=None,
        payment_behavior="allow_incomplete",
        payment_settings=None,
        metadata=None,
        default_payment_method=None,
        description=None,
        off_session=None,
        trial_period_days=None,
        trial_settings=None,
        discounts=None,
        **kwargs,
    ):
        from devstack.stripe_emulator import billing_terms

        reject_unknown(kwargs, what="subscriptions")
        if customer is None:
            raise missing("customer")
        get_or_404("customer", customer, "customer")
        checked_items = _check_items(items)
        if payment_behavior not in ("default_incomplete", "allow_incomplete"):
            raise invalid(
                "payment_behavior",
                f"The Stripe emulator supports payment_behavior default_incomplete "
                f"and allow_incomplete, not {payment_behavior!r}.",
            )
        settings = _check_payment_settings(payment_settings)
        metadata = as_metadata(metadata)
        description = as_str(description, "description")
        if off_session is not None:
            as_bool(off_session, "off_session")
        if default_payment_method not in (None, ""):
            default_payment_method = _payment_method_id(default_payment_method, "default_payment_method")
        else:
            default_payment_method = None
        terms = billing_terms.check_terms(customer, checked_items, trial_period_days, trial_settings, discounts)
        charge_now = payment_behavior == "allow_incomplete" and not terms.trial_days
        if charge_now and default_payment_method is None:
            cus = Customer._api_retrieve(customer)
            if cus._get_default_payment_method_or_source() is None:
                raise stripe_error(
                    400,
                    "This customer has no attached payment source or default payment method. "
                    "Please consider adding a default payment method.",
                    code="resource_missing",
                )

        # All exceptions must be raised before this point.
        sub = cls(customer, checked_items, metadata, description, default_payment_method, settings)
        if default_payment_method is not None:
            _attach(default_payment_method, customer)
        terms.apply(sub)
        invoice = SubscriptionInvoice(sub, "subscription_create", sub.created, sub.created,
                                      trial=bool(terms.trial_days))
        sub.latest_invoice = invoice.id
        invoice._open()
        if charge_now and invoice.status == "open":
            invoice._charge_off_session(sub._default_payment_method())
        sub._creating = False
        emit("customer.subscription.created", sub)
        return sub

    # Hooks from the invoices -------------------------------------------------------------------

    def _on_invoice_paid(self, invoice: SubscriptionInvoice, payment_method: str | None) -> None:
        before = self._snapshot()
        if invoice.id == self.latest_invoice and self.status in ("incomplete", "past_due", "unpaid"):
            self.status = "active"
        save = self.payment_settings["save_default_payment_method"] == "on_subscription"
        if payment_method and save and self.status != "canceled":
            self.default_payment_method = payment_method
            _attach(payment_method, self.customer)
        self._emit_updated(before)

    def _on_invoice_payment_failed(self, invoice: SubscriptionInvoice) -> None:
        # A first invoice that fails leaves the subscription incomplete; a renewal makes it past_due.
        if invoice.id == self.latest_invoice and self.status == "active":
            before = self._snapshot()
            self.status = "past_due"
            self._emit_updated(before)

    def _on_initial_payment_voided(self, invoice) -> None:  # localstripe's /v1/invoices/{id}/void
        if invoice.id == self.latest_invoice and self.status == "incomplete":
            before = self._snapshot()
            self.status = "incomplete_expired"
            self._emit_updated(before)

    # Update, cancel, renewal --------------------------------------------------------------------

    def _api_update_billing(
        self,
        cancel_at_period_end=None,
        metadata=None,
        default_payment_method=None,
        description=None,
        cancellation_details=None,
        items=None,
        proration_behavior=None,
        proration_date=None,
        payment_behavior=None,
        **kwargs,
    ):
        from devstack.stripe_emulator import billing_terms

        reject_unknown(kwargs, what="subscription updates")
        if self.status == "canceled" and (cancel_at_period_end, default_payment_method, description) != (None,) * 3:
            raise stripe_error(400, "A canceled subscription can only update its cancellation_details and metadata.")
        if cancel_at_period_end is not None:
            cancel_at_period_end = as_bool(cancel_at_period_end, "cancel_at_period_end")
        details = None
        if cancellation_details is not None:
            if not isinstance(cancellation_details, dict):
                raise invalid("cancellation_details", "Invalid object: cancellation_details.")
            details = dict(cancellation_details)
            comment, feedback = details.pop("comment", None), details.pop("feedback", None)
            reject_unknown(details, "cancellation_details", what="subscription updates")
            details = {
                "comment": as_str(comment, "cancellation_details[comment]") or None,
                "feedback": as_str(feedback, "cancellation_details[feedback]") or None,
            }
        merged_metadata = None if metadata is None else _merge_metadata(self.metadata, metadata)
        description = as_str(description, "description")
        change = billing_terms.check_change(self, items, proration_behavior, proration_date, payment_behavior)
        if default_payment_method not in (None, ""):  # last: an alias such as pm_card_visa creates a card
            default_payment_method = _payment_method_id(default_payment_method, "default_payment_method")

        # All exceptions must be raised before this point.
        before = self._snapshot()
        invoice = change.apply(self) if change is not None else None
        if merged_metadata is not None:
            self.metadata = merged_metadata
        if description is not None:
            self.description = description or None
        if default_payment_method == "":
            self.default_payment_method = None
        elif default_payment_method is not None:
            self.default_payment_method = default_payment_method
            _attach(default_payment_method, self.customer)
        if cancel_at_period_end is not None and cancel_at_period_end != self.cancel_at_period_end:
            self.cancel_at_period_end = cancel_at_period_end
            self.cancel_at = self.current_period_end if cancel_at_period_end else None
            self.canceled_at = int(time.time()) if cancel_at_period_end else None
            reason = "cancellation_requested" if cancel_at_period_end else None
            self.cancellation_details = {**self.cancellation_details, "reason": reason}
        if details is not None:
            self.cancellation_details = {**self.cancellation_details, **details}
        self._emit_updated(before)
        if invoice is not None:  # always_invoice: the proration is invoiced and charged now
            invoice._open()
            if invoice.status == "open":
                invoice._charge_off_session(self._default_payment_method())
        return self

    def _api_cancel_billing(self):
        if self.status == "canceled":  # Stripe: a canceled subscription is gone for this route
            raise stripe_error(404, f"No such subscription: '{self.id}'", code="resource_missing", param="id")
        now = int(time.time())
        self._end(canceled_at=now, ended_at=now)
        return self

    def _end(self, canceled_at: int, ended_at: int) -> None:
        self.status = "canceled"
        self.canceled_at = canceled_at
        self.ended_at = ended_at
        self.cancellation_details = {**self.cancellation_details, "reason": "cancellation_requested"}
        emit("customer.subscription.deleted", self)

    def _advance(self, fail: bool) -> StripeObject:
        if self.status == "trialing":
            from devstack.stripe_emulator import billing_terms

            return billing_terms.end_trial(self, fail)
        if self.status not in ("active", "past_due"):
            raise stripe_error(
                400, f"Subscription {self.id} is {self.status!r}: only active or past_due subscriptions renew."
            )
        if self.cancel_at_period_end:
            self._end(canceled_at=self.canceled_at or int(time.time()), ended_at=self.current_period_end)
            return self
        before = self._snapshot()
        last_start, last_end = self.current_period_start, self.current_period_end
        self._periods += 1
        return self._bill_cycle(before, last_start, last_end, fail)

    def _bill_cycle(self, before: dict, start: int, end: int, fail: bool) -> SubscriptionInvoice:
        """The ``subscription_cycle`` invoice of the period that just began (with the prorations made since the
        last one), charged off-session."""
        pending, self._pending_lines = tuple(self._pending_lines), []
        invoice = SubscriptionInvoice(self, "subscription_cycle", start, end, extra_lines=pending)
        self.latest_invoice = invoice.id
        self._emit_updated(before)
        invoice._open()
        if invoice.status == "open":
            invoice._charge_off_session(self._default_payment_method(), force_decline=fail)
        return invoice


def _attach(payment_method: str, customer: str) -> None:
    """Attach a saved payment method to the customer, as saving it as a default does on Stripe."""
    obj = store.get(f"payment_method:{payment_method}")
    if obj is not None and obj.customer is None:
        obj.customer = customer


def _check_items(items: Any) -> list[tuple[Any, int, dict]]:
    if not isinstance(items, list) or not items:
        raise missing("items")
    checked = []
    for i, item in enumerate(items):
        param = f"items[{i}]"
        if not isinstance(item, dict):
            raise invalid(param, f"Invalid object: {param}.")
        item = dict(item)
        price_id = item.pop("price", None)
        quantity = try_convert_to_int(item.pop("quantity", 1))
        metadata = as_metadata(item.pop("metadata", None), f"{param}[metadata]")
        reject_unknown(item, param, what="subscription items")
        if price_id is None:
            raise missing(f"{param}[price]")
        price = get_or_404("price", price_id, f"{param}[price]")
        if price.type != "recurring":
            raise invalid(
                f"{param}[price]",
                "The price specified is set to `type=one_time` but this field only "
                "accepts prices with `type=recurring`.",
            )
        if not price.active:
            raise invalid(
                f"{param}[price]",
                f"The price specified ({price.id}) is inactive. This field only accepts active prices.",
            )
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise invalid(f"{param}[quantity]", f"Invalid positive integer: {quantity!r}.")
        checked.append((price, quantity, metadata))
    first = checked[0][0]
    for price, _, _ in checked[1:]:
        if price.currency != first.currency:
            raise invalid("items", "All prices of a subscription must have the same currency.")
        if price.recurring["interval"] != first.recurring["interval"] or (
            price.recurring["interval_count"] != first.recurring["interval_count"]
        ):
            raise invalid("items", "All prices of a subscription must have the same billing interval.")
    return checked


def _check_payment_settings(value: Any) -> dict:
    if value in (None, ""):
        value = {}
    if not isinstance(value, dict):
        raise invalid("payment_settings", "Invalid object: payment_settings.")
    value = dict(value)
    save = value.pop("save_default_payment_method", "off")
    if save not in ("on_subscription", "off"):
        raise invalid(
            "payment_settings[save_default_payment_method]",
            "save_default_payment_method must be on_subscription or off.",
        )
    types = value.pop("payment_method_types", None)
    if types == "":
        types = None
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise invalid("payment_settings[payment_method_types]", "Invalid array: payment_method_types.")
    reject_unknown(value, "payment_settings", what="subscriptions")
    return {"payment_method_options": None, "payment_method_types": types, "save_default_payment_method": save}


def _billing_subscription(id: Any) -> BillingSubscription:
    sub = get_or_404("subscription", id, "id")
    if not isinstance(sub, BillingSubscription):
        raise stripe_error(
            400,
            f"Subscription {id} was created with legacy plans: the Stripe emulator only bills "
            "subscriptions created with items[].price.",
        )
    return sub


def _subscription_invoice(id: Any) -> SubscriptionInvoice:
    invoice = get_or_404("invoice", id, "id")
    if not isinstance(invoice, SubscriptionInvoice):
        raise stripe_error(400, f"Invoice {id} is not an invoice of a subscription created with items[].price.")
    return invoice


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _api_advance(id, fail=None, **kwargs):
    """``POST /_test/subscriptions/{id}/advance``."""
    reject_unknown(kwargs, what="advance")
    fail = False if fail is None else as_bool(fail, "fail")
    return _billing_subscription(id)._advance(fail)


def _invoice_to_pay(id: Any, payment_method: Any) -> tuple[SubscriptionInvoice, str]:
    invoice = _subscription_invoice(id)
    if invoice.status != "open":
        raise stripe_error(400, f"Invoice {id} is {invoice.status!r}: only open invoices can be paid.")
    if payment_method is not None:
        payment_method = _payment_method_id(payment_method, "payment_method")
    else:
        payment_method = invoice._subscription()._default_payment_method()
        if payment_method is None:
            raise stripe_error(
                400, f"Invoice {id} has no payment method to charge: pass payment_method.", param="payment_method"
            )
    return invoice, payment_method


def _api_test_pay_invoice(id, payment_method=None, **kwargs):
    """``POST /_test/invoices/{id}/pay``: Stripe retrying the invoice; a decline is reported by events."""
    reject_unknown(kwargs, what="paying invoices")
    invoice, payment_method = _invoice_to_pay(id, payment_method)
    invoice._charge_off_session(payment_method)
    return invoice


def _v1_pay_invoice(original):
    def pay(id, payment_method=None, off_session=None, **kwargs):
        """``POST /v1/invoices/{id}/pay`` for subscription invoices (others: localstripe's)."""
        if not isinstance(store.get(f"invoice:{id}"), SubscriptionInvoice):  # localstripe's own invoice
            extra = {"payment_method": payment_method, "off_session": off_session, **kwargs}
            reject_unknown({k: v for k, v in extra.items() if v is not None}, what="localstripe's own invoices")
            return original(id)
        reject_unknown(kwargs, what="paying invoices")
        if off_session is not None:
            as_bool(off_session, "off_session")
        invoice, payment_method = _invoice_to_pay(id, payment_method)
        intent = invoice._prepare_intent(payment_method)
        try:
            intent._confirm(on_failure_now=intent._report_failure)
        except UserError as error:
            if error.code == 402:  # localstripe calls a decline an invalid_request_error; Stripe a card_error
                error.body["error"].update(type="card_error", decline_code="generic_decline")
            raise
        if intent.status == "requires_action":
            invoice._on_payment_action_required()
            raise stripe_error(
                402,
                "This payment requires additional user action before it can be completed.",
                type="card_error",
                code="invoice_payment_intent_requires_action",
            )
        return invoice

    return pay


# --------------------------------------------------------------------------------------------
# install()
# --------------------------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Bill subscriptions created with ``items[].price`` as described above. Idempotent.

    Call it before ``localstripe.server`` is imported: the server turns ``resources.extra_apis`` into
    routes then, and that is where the test helpers and the new ``/v1/invoices/{id}/pay`` are added.
    """
    global _installed
    if _installed:
        return
    if "localstripe.server" in sys.modules:
        raise RuntimeError("billing.install() must run before localstripe.server is imported")

    # The server's create/update/delete routes look these class methods up at request time.
    original_create = Subscription._api_create.__func__
    original_update = Subscription._api_update.__func__
    original_delete = Subscription._api_delete.__func__

    def create(cls, **data):
        items = data.get("items")
        legacy = (
            isinstance(items, list)
            and items
            and all(isinstance(i, dict) and "price" not in i and "plan" in i for i in items)
        )
        if legacy or (items is None and "plan" in data):  # localstripe's own plan-based subscriptions
            return original_create(cls, **data)
        return BillingSubscription._create(**data)

    def update(cls, id, **data):
        sub = store.get(f"subscription:{id}")
        if isinstance(sub, BillingSubscription):
            return sub._api_update_billing(**data)
        return original_update(cls, id, **data)

    def delete(cls, id):
        sub = store.get(f"subscription:{id}")
        if isinstance(sub, BillingSubscription):
            return sub._api_cancel_billing()
        return original_delete(cls, id)

    Subscription._api_create = classmethod(create)
    Subscription._api_update = classmethod(update)
    Subscription._api_delete = classmethod(delete)

    routes = resources.extra_apis
    routes[:] = [
        (method, url, _v1_pay_invoice(func) if url == "/v1/invoices/{id}/pay" else func) for method, url, func in routes
    ]
    routes.extend(
        (
            ("POST", "/_test/subscriptions/{id}/advance", _api_advance),
            ("POST", "/_test/invoices/{id}/pay", _api_test_pay_invoice),
        )
    )
    _installed = True

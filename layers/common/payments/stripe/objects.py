"""Stripe's objects as the product reads them: one frozen ``Stripe*`` view per kind, from an API answer
(``obj.to_dict()``) or a webhook payload alike. (Ours are the ``*Record`` models in ``payments.data.models``.)

Every field is checked as it is read: a payload of any shape either gives a complete view or raises
``MalformedObject`` (the webhook pipeline answers such an event ``ignored``; it never becomes a 500). Ids must
look like Stripe's ids; text must be storable (no lone surrogates). Links between objects are ids read from
where the pinned API version puts them, falling back to older places where the pipeline's emulator and older
API versions keep them (noted per field).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core.validation import is_clean_text

_STRIPE_ID = re.compile(r"^[a-z]{2,10}_[A-Za-z0-9_]{1,250}$")
MAX_TEXT = 5000


class MalformedObject(ValueError):
    """A Stripe object without a field we read, or with a value of the wrong kind there."""


def object_id(value: Any) -> str | None:
    """The id of a Stripe reference however it comes: an id string, an expanded object, or its dict."""
    if isinstance(value, Mapping):
        value = value.get("id")
    elif value is not None and not isinstance(value, str):
        value = getattr(value, "id", None)
    return value if isinstance(value, str) else None


def is_stripe_id(value: Any, prefix: str | tuple[str, ...] = "") -> bool:
    return isinstance(value, str) and bool(_STRIPE_ID.match(value)) and value.startswith(prefix)


class Fields:
    """Typed, checked reads of one Stripe object's fields; any surprise is a ``MalformedObject``."""

    def __init__(self, obj: Any, kind: str):
        if not isinstance(obj, Mapping):
            raise MalformedObject(f"a {kind} must be an object")
        self.obj, self.kind = obj, kind

    def _fail(self, name: str, what: str) -> MalformedObject:
        return MalformedObject(f"{self.kind}.{name} {what}")

    def id(self, prefix: str | tuple[str, ...]) -> str:
        value = self.obj.get("id")
        if not is_stripe_id(value, prefix):
            raise self._fail("id", f"must be a Stripe id starting with {prefix!r}")
        return str(value)

    def ref(self, name: str, prefix: str = "", source: Mapping[str, Any] | None = None) -> str | None:
        """The id of a linked object (an id or an expanded object), or None when absent."""
        raw = (self.obj if source is None else source).get(name)
        if raw is None:
            return None
        value = object_id(raw)
        if not is_stripe_id(value, prefix):
            raise self._fail(name, f"must be a Stripe id starting with {prefix!r}")
        return value

    def text(self, name: str, source: Mapping[str, Any] | None = None) -> str | None:
        value = (self.obj if source is None else source).get(name)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > MAX_TEXT or not is_clean_text(value):
            raise self._fail(name, "must be text")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.text(name)
        if value is None:
            return default
        if value not in choices:
            raise self._fail(name, "has a value we do not know")
        return value

    def integer(self, name: str, default: int | None = None, source: Mapping[str, Any] | None = None) -> int | None:
        value = (self.obj if source is None else source).get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 10**15:
            raise self._fail(name, "must be a non-negative integer")
        return value

    def number(self, name: str, source: Mapping[str, Any] | None = None) -> float | None:
        """A decimal (``percent_off`` is 25.5): None when absent."""
        value = (self.obj if source is None else source).get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 10**15:
            raise self._fail(name, "must be a non-negative number")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.obj.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self._fail(name, "must be true or false")
        return value

    def currency(self, name: str = "currency") -> str | None:
        value = self.text(name)
        if value is not None and not (len(value) == 3 and value.isascii() and value.isalpha()):
            raise self._fail(name, "must be a currency code")
        return value.lower() if value else None

    def mapping(self, name: str, source: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        value = (self.obj if source is None else source).get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self._fail(name, "must be an object")
        return value

    def listed(self, name: str, source: Mapping[str, Any] | None = None) -> list[Any] | None:
        """The ``data`` of a list object (None when the list is absent or not complete: ``has_more``)."""
        value = self.mapping(name, source)
        if not value:
            return None
        data = value.get("data")
        if not isinstance(data, list):
            raise self._fail(name, "must be a list object")
        return None if value.get("has_more") else data

    def metadata(self, source: Mapping[str, Any] | None = None) -> dict[str, str]:
        value = self.mapping("metadata", source)
        out: dict[str, str] = {}
        for key, item in value.items():
            if isinstance(key, str) and isinstance(item, str) and is_clean_text(key) and is_clean_text(item):
                out[key] = item
        return out


@dataclass(frozen=True)
class StripePaymentIntent:
    id: str
    status: str
    amount: int
    amount_received: int
    currency: str
    client_secret: str | None
    charge_id: str | None
    metadata: dict[str, str]
    failure_code: str | None = None
    failure_message: str | None = None
    # A destination charge (Connect): the connected account paid, the platform's fee, and the transfer when
    # the payload holds the charge expanded (else it is read from the charge)
    transfer_destination: str | None = None
    application_fee_amount: int | None = None
    transfer_id: str | None = None

    @classmethod
    def parse(cls, obj: Any) -> StripePaymentIntent:
        f = Fields(obj, "payment_intent")
        error = f.mapping("last_payment_error")
        charge = f.obj.get("latest_charge")
        return cls(id=f.id("pi_"), status=f.text("status") or "", amount=f.integer("amount", 0) or 0,
                   amount_received=f.integer("amount_received", 0) or 0, currency=f.currency() or "",
                   client_secret=f.text("client_secret"), charge_id=f.ref("latest_charge", "ch_"),
                   metadata=f.metadata(),
                   failure_code=f.text("decline_code", error) or f.text("code", error),
                   failure_message=f.text("message", error),
                   transfer_destination=f.ref("destination", source=f.mapping("transfer_data")),
                   application_fee_amount=f.integer("application_fee_amount"),
                   transfer_id=f.ref("transfer", "tr_", charge) if isinstance(charge, Mapping) else None)

    @property
    def is_open(self) -> bool:
        return self.status not in ("canceled", "succeeded")

    @property
    def is_taking_money(self) -> bool:
        return self.status in ("succeeded", "processing")

    @property
    def needs_confirmation(self) -> bool:
        return self.status in ("requires_action", "requires_confirmation", "requires_payment_method")


@dataclass(frozen=True)
class StripeCheckoutSession:
    id: str
    status: str | None  # open | complete | expired
    payment_status: str | None  # paid | unpaid | no_payment_required
    amount_total: int | None
    currency: str | None
    payment_intent_id: str | None
    url: str | None
    metadata: dict[str, str]
    mode: str = "payment"  # payment | subscription | setup
    subscription_id: str | None = None  # mode=subscription: the subscription the session created
    customer_id: str | None = None

    @classmethod
    def parse(cls, obj: Any) -> StripeCheckoutSession:
        f = Fields(obj, "checkout.session")
        return cls(id=f.id("cs_"), status=f.text("status"), payment_status=f.text("payment_status"),
                   amount_total=f.integer("amount_total"), currency=f.currency(),
                   payment_intent_id=f.ref("payment_intent", "pi_"), url=f.text("url"), metadata=f.metadata(),
                   mode=f.text("mode") or "payment", subscription_id=f.ref("subscription", "sub_"),
                   customer_id=f.ref("customer", "cus_"))

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_taking_money(self) -> bool:
        return self.status == "complete"


@dataclass(frozen=True)
class StripeRefund:
    id: str
    status: str | None
    amount: int
    currency: str | None
    payment_intent_id: str | None
    charge_id: str | None
    metadata: dict[str, str]
    reason: str | None = None
    failure_reason: str | None = None
    transfer_reversal_id: str | None = None  # a destination charge's refund that reversed the transfer

    @classmethod
    def parse(cls, obj: Any) -> StripeRefund:
        f = Fields(obj, "refund")
        return cls(id=f.id(("re_", "pyr_")), status=f.text("status"), amount=f.integer("amount", 0) or 0,
                   currency=f.currency(), payment_intent_id=f.ref("payment_intent", "pi_"),
                   charge_id=f.ref("charge", "ch_"), metadata=f.metadata(), reason=f.text("reason"),
                   failure_reason=f.text("failure_reason"), transfer_reversal_id=f.ref("transfer_reversal", "trr_"))


@dataclass(frozen=True)
class StripeCharge:
    id: str
    payment_intent_id: str | None
    refunds: list[StripeRefund] | None  # None when the payload does not list them all
    transfer_id: str | None = None  # a destination charge's transfer to the connected account

    @classmethod
    def parse(cls, obj: Any) -> StripeCharge:
        f = Fields(obj, "charge")
        listed = f.listed("refunds")
        return cls(id=f.id("ch_"), payment_intent_id=f.ref("payment_intent", "pi_"),
                   refunds=[StripeRefund.parse(r) for r in listed] if listed is not None else None,
                   transfer_id=f.ref("transfer", "tr_"))


@dataclass(frozen=True)
class StripeSubscription:
    id: str
    status: str
    cancel_at_period_end: bool
    current_period_end: int | None
    customer_id: str | None
    metadata: dict[str, str]
    client_secret: str | None = None  # of the latest invoice's payment, when it was expanded
    price_id: str | None = None  # the (first) item's price: the plan
    item_id: str | None = None  # the (first) item, which a plan change replaces the price of
    trial_end: int | None = None
    setup_secret: str | None = None  # of the pending SetupIntent (a trial's card), when it was expanded

    @classmethod
    def parse(cls, obj: Any) -> StripeSubscription:
        f = Fields(obj, "subscription")
        items = f.listed("items") or []
        first = Fields(items[0], "subscription.items[0]") if items else None
        # The current API version keeps the period on each item; older ones on the subscription.
        period_end = (first.integer("current_period_end") if first else None) or f.integer("current_period_end")
        secret = None
        invoice = f.obj.get("latest_invoice")
        if isinstance(invoice, Mapping):
            confirmation = f.mapping("confirmation_secret", invoice)
            intent = invoice.get("payment_intent")
            secret = f.text("client_secret", confirmation) or (
                f.text("client_secret", intent) if isinstance(intent, Mapping) else None)
        setup = f.obj.get("pending_setup_intent")
        setup_secret = f.text("client_secret", setup) if isinstance(setup, Mapping) else None
        return cls(id=f.id("sub_"), status=f.text("status") or "", cancel_at_period_end=f.flag("cancel_at_period_end"),
                   current_period_end=period_end, customer_id=f.ref("customer", "cus_"), metadata=f.metadata(),
                   client_secret=secret, price_id=first.ref("price", "price_") if first else None,
                   item_id=first.ref("id", "si_") if first else None, trial_end=f.integer("trial_end"),
                   setup_secret=setup_secret)


@dataclass(frozen=True)
class StripeInvoiceLine:
    """One line of an invoice, as an order summarises it."""

    description: str
    amount: int  # may be negative: a proration's credit for unused time
    proration: bool
    price_id: str | None = None

    @classmethod
    def parse(cls, obj: Any) -> StripeInvoiceLine:
        f = Fields(obj, "invoice.line")
        amount = f.obj.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) >= 10**15:
            raise MalformedObject("invoice.line.amount must be an integer")
        parent = f.mapping("parent")
        details = f.mapping("subscription_item_details", parent) or f.mapping("invoice_item_details", parent)
        proration = details.get("proration", f.obj.get("proration", False))
        if not isinstance(proration, bool):
            raise MalformedObject("invoice.line proration must be true or false")
        price = f.ref("price", "price_", f.mapping("price_details", f.mapping("pricing"))) or f.ref("price", "price_")
        return cls(description=(f.text("description") or "")[:500], amount=amount, proration=proration,
                   price_id=price)


MAX_LINES = 50  # an invoice with more lines than this is summarised by its first MAX_LINES


def parse_lines(f: Fields, name: str = "lines") -> tuple[StripeInvoiceLine, ...] | None:
    """The listed lines (None when the payload does not list them all)."""
    listed = f.listed(name)
    return None if listed is None else tuple(StripeInvoiceLine.parse(line) for line in listed[:MAX_LINES])


@dataclass(frozen=True)
class StripeInvoice:
    id: str
    billing_reason: str | None
    amount_paid: int
    amount_due: int
    currency: str | None
    subscription_id: str | None
    subscription_metadata: dict[str, str]
    payment_intent_id: str | None
    customer_id: str | None
    lines: tuple[StripeInvoiceLine, ...] | None = None  # None when the payload does not list them all
    discount_amount: int = 0  # the invoice's discounts (total_discount_amounts), in its currency

    @classmethod
    def parse(cls, obj: Any) -> StripeInvoice:
        f = Fields(obj, "invoice")
        # The pinned API version: parent.subscription_details; older versions: subscription (+ details).
        details = f.mapping("subscription_details", f.mapping("parent")) or f.mapping("subscription_details")
        subscription = f.ref("subscription", "sub_", details) or f.ref("subscription", "sub_")
        intent = None
        for entry in f.listed("payments") or []:  # the pinned version: invoice.payments[].payment.payment_intent
            payment = f.mapping("payment", entry) if isinstance(entry, Mapping) else {}
            intent = intent or f.ref("payment_intent", "pi_", payment)
        return cls(id=f.id("in_"), billing_reason=f.text("billing_reason"),
                   amount_paid=f.integer("amount_paid", 0) or 0,
                   amount_due=f.integer("amount_due", 0) or 0, currency=f.currency(), subscription_id=subscription,
                   subscription_metadata=f.metadata(details),
                   payment_intent_id=intent or f.ref("payment_intent", "pi_"), customer_id=f.ref("customer", "cus_"),
                   lines=parse_lines(f), discount_amount=_discounts(f))


def _discounts(f: Fields) -> int:
    discounts = f.obj.get("total_discount_amounts") or []
    if not isinstance(discounts, list):
        raise MalformedObject(f"{f.kind}.total_discount_amounts must be a list")
    return sum(Fields(d, f"{f.kind}.total_discount_amounts[]").integer("amount", 0) or 0 for d in discounts)


@dataclass(frozen=True)
class StripeInvoicePreview:
    """``POST /v1/invoices/create_preview``: what Stripe would bill (the preview has no invoice id)."""

    amount_due: int
    currency: str
    lines: tuple[StripeInvoiceLine, ...]

    @classmethod
    def parse(cls, obj: Any) -> StripeInvoicePreview:
        f = Fields(obj, "invoice")
        lines = parse_lines(f)
        if lines is None:
            raise MalformedObject("invoice.lines must list every line of a preview")
        return cls(amount_due=f.integer("amount_due", 0) or 0, currency=f.currency() or "", lines=lines)


INTERVALS = ("day", "week", "month", "year")  # a recurring price's billing periods


@dataclass(frozen=True)
class StripePrice:
    id: str
    currency: str
    unit_amount: int | None
    recurring: bool
    active: bool
    lookup_key: str | None = None
    interval: str | None = None  # a recurring price's billing period: day, week, month or year
    interval_count: int | None = None  # how many of them

    @classmethod
    def parse(cls, obj: Any) -> StripePrice:
        f = Fields(obj, "price")
        recurring = f.mapping("recurring")
        period = Fields(recurring, "price.recurring")
        return cls(id=f.id("price_"), currency=f.currency() or "", unit_amount=f.integer("unit_amount"),
                   recurring=bool(recurring), active=f.flag("active"), lookup_key=f.text("lookup_key"),
                   interval=period.choice("interval", INTERVALS) if recurring else None,
                   interval_count=period.integer("interval_count", 1) if recurring else None)


@dataclass(frozen=True)
class StripeCustomer:
    id: str
    metadata: dict[str, str]
    default_payment_method_id: str | None = None

    @classmethod
    def parse(cls, obj: Any) -> StripeCustomer:
        f = Fields(obj, "customer")
        return cls(id=f.id("cus_"), metadata=f.metadata(),
                   default_payment_method_id=f.ref("default_payment_method", "pm_",
                                                   f.mapping("invoice_settings")))


@dataclass(frozen=True)
class StripeCoupon:
    id: str
    valid: bool
    amount_off: int | None
    percent_off: float | None
    currency: str | None
    duration: str | None

    @classmethod
    def parse(cls, obj: Any) -> StripeCoupon:
        f = Fields(obj, "coupon")
        value = f.obj.get("id")
        if not isinstance(value, str) or not value or len(value) > 200 or not is_clean_text(value):
            raise MalformedObject("coupon.id must be text")
        return cls(id=value, valid=f.flag("valid"), amount_off=f.integer("amount_off"),
                   percent_off=f.number("percent_off"), currency=f.currency(), duration=f.text("duration"))


@dataclass(frozen=True)
class StripePromotionCode:
    id: str
    code: str
    active: bool
    coupon: StripeCoupon | None  # None when the coupon was not expanded
    coupon_id: str | None
    expires_at: int | None
    customer_id: str | None
    minimum_amount: int | None
    minimum_amount_currency: str | None

    @classmethod
    def parse(cls, obj: Any) -> StripePromotionCode:
        f = Fields(obj, "promotion_code")
        # The current API: promotion {type: coupon, coupon}; older versions: coupon at the top.
        promotion = f.mapping("promotion")
        raw = promotion.get("coupon") if promotion else f.obj.get("coupon")
        coupon = StripeCoupon.parse(raw) if isinstance(raw, Mapping) else None
        coupon_id = coupon.id if coupon else (raw if isinstance(raw, str) and is_clean_text(raw) else None)
        restrictions = f.mapping("restrictions")
        return cls(id=f.id("promo_"), code=f.text("code") or "", active=f.flag("active"), coupon=coupon,
                   coupon_id=coupon_id, expires_at=f.integer("expires_at"), customer_id=f.ref("customer", "cus_"),
                   minimum_amount=f.integer("minimum_amount", source=restrictions),
                   minimum_amount_currency=(f.text("minimum_amount_currency", restrictions) or "").lower() or None)


@dataclass(frozen=True)
class StripeSetupIntent:
    id: str
    status: str
    client_secret: str | None
    customer_id: str | None
    payment_method_id: str | None

    @classmethod
    def parse(cls, obj: Any) -> StripeSetupIntent:
        f = Fields(obj, "setup_intent")
        return cls(id=f.id("seti_"), status=f.text("status") or "", client_secret=f.text("client_secret"),
                   customer_id=f.ref("customer", "cus_"), payment_method_id=f.ref("payment_method", "pm_"))

    @property
    def is_open(self) -> bool:
        return self.status in ("requires_payment_method", "requires_confirmation", "requires_action")


@dataclass(frozen=True)
class StripePaymentMethod:
    id: str
    type: str
    customer_id: str | None  # the customer it is attached to: the link that makes it someone's
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None

    @classmethod
    def parse(cls, obj: Any) -> StripePaymentMethod:
        f = Fields(obj, "payment_method")
        card = f.mapping("card")
        return cls(id=f.id(("pm_", "card_", "src_")), type=f.text("type") or "", customer_id=f.ref("customer", "cus_"),
                   brand=f.text("brand", card), last4=f.text("last4", card),
                   exp_month=f.integer("exp_month", source=card), exp_year=f.integer("exp_year", source=card))


@dataclass(frozen=True)
class StripePortalSession:
    id: str
    url: str

    @classmethod
    def parse(cls, obj: Any) -> StripePortalSession:
        f = Fields(obj, "billing_portal.session")
        url = f.text("url")
        if not url:
            raise MalformedObject("billing_portal.session.url is missing")
        return cls(id=f.id("bps_"), url=url)


@dataclass(frozen=True)
class StripeEntitlement:
    lookup_key: str
    feature_id: str

    @classmethod
    def parse(cls, obj: Any) -> StripeEntitlement:
        f = Fields(obj, "entitlements.active_entitlement")
        feature = f.ref("feature", "feat_")
        lookup_key = f.text("lookup_key")
        if feature is None or not lookup_key:
            raise MalformedObject("an active entitlement needs its feature and lookup_key")
        return cls(lookup_key=lookup_key[:200], feature_id=feature)


@dataclass(frozen=True)
class StripeEntitlementSummary:
    """``entitlements.active_entitlement_summary``: a customer's active entitlements, all of them or None when the
    payload does not list them all (``has_more``)."""

    customer_id: str
    entitlements: tuple[StripeEntitlement, ...] | None

    @classmethod
    def parse(cls, obj: Any) -> StripeEntitlementSummary:
        f = Fields(obj, "entitlements.active_entitlement_summary")
        customer = f.ref("customer", "cus_")
        if customer is None:
            raise MalformedObject("entitlements.active_entitlement_summary.customer is missing")
        listed = f.listed("entitlements")
        if listed is None and f.mapping("entitlements").get("has_more") is not True:
            listed = []  # no list at all: nothing is active
        return cls(customer_id=customer,
                   entitlements=None if listed is None else tuple(StripeEntitlement.parse(e) for e in listed))

        return cls(id=f.id("cus_"), metadata=f.metadata())


@dataclass(frozen=True)
class StripeWebhookEndpoint:
    id: str
    url: str
    enabled_events: tuple[str, ...]
    api_version: str | None
    metadata: dict[str, str]
    secret: str | None = None  # Stripe returns the signing secret only when it creates the endpoint

    @classmethod
    def parse(cls, obj: Any) -> StripeWebhookEndpoint:
        f = Fields(obj, "webhook_endpoint")
        events = f.obj.get("enabled_events")
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise MalformedObject("webhook_endpoint.enabled_events must be a list of event types")
        return cls(id=f.id("we_"), url=f.text("url") or "", enabled_events=tuple(sorted(events)),
                   api_version=f.text("api_version"), metadata=f.metadata(), secret=f.text("secret"))


@dataclass(frozen=True)
class StripeEventPage:
    """One page of ``GET /v1/events``: the events as Stripe sent them (newest first), and whether more follow."""

    events: list[dict[str, Any]]
    has_more: bool

# --- marketplace (Connect) and usage billing ----------------------------------------------------------------


@dataclass(frozen=True)
class StripeAccount:
    """A connected account, as far as a seller's status needs it."""

    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    requirements_due: tuple[str, ...]  # currently_due and past_due, in Stripe's order, without repeats
    disabled_reason: str | None
    metadata: dict[str, str]

    @classmethod
    def parse(cls, obj: Any) -> StripeAccount:
        f = Fields(obj, "account")
        requirements = f.mapping("requirements")
        due: list[str] = []
        for name in ("past_due", "currently_due"):
            listed = requirements.get(name) or []
            if not isinstance(listed, list) or not all(isinstance(item, str) and is_clean_text(item)
                                                       and len(item) <= 200 for item in listed):
                raise MalformedObject(f"account.requirements.{name} must be a list of field names")
            due += [item for item in listed if item not in due]
        return cls(id=f.id("acct_"), charges_enabled=f.flag("charges_enabled"),
                   payouts_enabled=f.flag("payouts_enabled"), details_submitted=f.flag("details_submitted"),
                   requirements_due=tuple(due[:50]), disabled_reason=f.text("disabled_reason", requirements),
                   metadata=f.metadata())


@dataclass(frozen=True)
class StripeAccountLink:
    url: str
    expires_at: int | None

    @classmethod
    def parse(cls, obj: Any) -> StripeAccountLink:
        f = Fields(obj, "account_link")
        url = f.text("url")
        if not url or not url.startswith(("https://", "http://")):
            raise MalformedObject("account_link.url must be a URL")
        return cls(url=url, expires_at=f.integer("expires_at"))


@dataclass(frozen=True)
class StripeMeterEvent:
    identifier: str
    event_name: str
    timestamp: int | None

    @classmethod
    def parse(cls, obj: Any) -> StripeMeterEvent:
        f = Fields(obj, "billing.meter_event")
        return cls(identifier=f.text("identifier") or "", event_name=f.text("event_name") or "",
                   timestamp=f.integer("timestamp"))


@dataclass(frozen=True)
class StripeMeterErrorReport:
    """What a meter's error report (``v1.billing.meter.error_report_triggered``, read whole) says went wrong."""

    meter_id: str | None
    error_count: int
    errors: dict[str, int]  # error code -> how many events failed with it

    @classmethod
    def parse(cls, obj: Any) -> StripeMeterErrorReport:
        f = Fields(obj, "v2.core.event")
        reason = f.mapping("reason", f.mapping("data"))
        errors: dict[str, int] = {}
        for entry in reason.get("error_types") or []:
            entry_fields = Fields(entry, "v2.core.event.data.reason.error_types[]")
            code = entry_fields.text("code") or "unknown"
            errors[code[:100]] = errors.get(code[:100], 0) + (entry_fields.integer("error_count", 0) or 0)
        return cls(meter_id=f.ref("id", "mtr_", f.mapping("related_object")),
                   error_count=f.integer("error_count", 0, reason) or sum(errors.values()), errors=errors)

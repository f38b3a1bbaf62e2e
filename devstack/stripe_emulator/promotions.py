"""Extension 14: coupons and promotion codes, and the discounts they give, as Stripe answers them.

- **Coupons** (``/v1/coupons``, localstripe's): an ``id`` is generated when none is given (localstripe required
  one), and ``name``, ``redeem_by`` and ``max_redemptions`` are accepted; a coupon past ``redeem_by`` or used up is
  ``valid: false``.
- **Promotion codes** (``/v1/promotion_codes``: create, retrieve, update ``active``/``metadata``, list by ``code``,
  ``active``, ``coupon``, ``customer``), in the current API's shape: ``promotion: {type: coupon, coupon}`` (the
  older top-level ``coupon`` is accepted on create), ``code`` (generated when absent), ``expires_at``,
  ``max_redemptions``, ``customer``, ``restrictions`` (``minimum_amount`` + ``minimum_amount_currency``,
  ``first_time_transaction``: stored, not enforced). ``active`` is false once deactivated, expired, used up, or its
  coupon is no longer valid, as on Stripe. ``expand[]=promotion.coupon`` (``data.promotion.coupon`` on a list)
  expands the coupon.
- **Discounts**: :func:`redeem` checks a ``discounts[]`` entry (``{promotion_code}`` or ``{coupon}``) of a
  subscription or Checkout Session (400 on ``discounts`` as Stripe: inactive, another customer's, below the
  minimum amount, a fixed amount in another currency) and counts the redemption; :func:`amount_off` is what a
  coupon takes off an amount (``percent_off`` rounded half up; never more than the amount). Billing applies
  ``once`` to the first invoice, ``repeating`` for ``duration_in_months``, ``forever`` to every invoice.

Left out: coupons' ``applies_to`` products, ``currency_options``, tiered ``first_time_transaction`` checks,
discounts on invoice items or on a customer, stacking several discounts (one per subscription or Session), and the
``discount`` objects' own routes (``discounts`` lists ids of the form ``di_...``).
"""

from __future__ import annotations

import functools
import time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from localstripe import resources
from localstripe.resources import Coupon, List, StripeObject, random_id, store

from devstack.stripe_emulator.common import (
    as_bool,
    as_int,
    as_metadata,
    as_str,
    get_or_404,
    invalid,
    newest_first,
    reject_unknown,
    stripe_error,
)

# --------------------------------------------------------------------------------------------
# Coupons: what localstripe lacks
# --------------------------------------------------------------------------------------------

_COUPON_EXTRAS = ("name", "redeem_by", "max_redemptions")


def _extend_coupons() -> None:
    original = Coupon.__init__

    @functools.wraps(original)
    def init(self, id=None, **kwargs):
        extras = {name: kwargs.pop(name) for name in _COUPON_EXTRAS if name in kwargs}
        name = as_str(extras.get("name"), "name")
        redeem_by = as_int(extras["redeem_by"], "redeem_by") if extras.get("redeem_by") is not None else None
        limit = extras.get("max_redemptions")
        limit = as_int(limit, "max_redemptions", 1) if limit is not None else None
        original(self, id=id or random_id(8).upper(), **kwargs)
        self.name, self.redeem_by, self.max_redemptions = name, redeem_by, limit

    Coupon.__init__ = init
    Coupon.valid = property(_coupon_valid, lambda self, value: None)  # localstripe sets it once: computed here


def _coupon_valid(coupon: Coupon) -> bool:
    expired = coupon.redeem_by is not None and coupon.redeem_by < time.time()
    used_up = coupon.max_redemptions is not None and coupon.times_redeemed >= coupon.max_redemptions
    return not expired and not used_up


def amount_off(coupon: Coupon, amount: int) -> int:
    """What ``coupon`` takes off ``amount`` (in the coupon's currency when it is a fixed amount)."""
    if coupon.amount_off is not None:
        return min(coupon.amount_off, amount)
    exact = Decimal(amount) * Decimal(str(coupon.percent_off)) / Decimal(100)
    return min(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)), amount)


# --------------------------------------------------------------------------------------------
# Promotion codes
# --------------------------------------------------------------------------------------------


class PromotionCode(StripeObject):
    object = "promotion_code"
    _id_prefix = "promo_"
    _expandable = "promotion.coupon"

    def __init__(self, promotion=None, coupon=None, code=None, active=True, expires_at=None, max_redemptions=None,
                 customer=None, restrictions=None, metadata=None, **kwargs):
        reject_unknown(kwargs, what="promotion codes")
        if promotion is not None:
            if not isinstance(promotion, dict) or promotion.get("type", "coupon") != "coupon":
                raise invalid("promotion[type]", "The only promotion type is coupon.")
            coupon = promotion.get("coupon")
        if coupon is None:
            raise invalid("promotion[coupon]", "Missing required param: promotion[coupon].")
        coupon_obj = get_or_404("coupon", coupon, "promotion[coupon]")
        code = as_str(code, "code") or random_id(8).upper()
        if not code.replace("-", "").isalnum():
            raise invalid("code", "A promotion code may hold letters, digits and dashes only.")
        if any(p.code.lower() == code.lower() and p.active for p in _codes()):
            raise invalid("code", f"An active promotion code with `code: {code}` already exists.")
        if customer is not None:
            get_or_404("customer", customer, "customer")
        restrictions = dict(restrictions or {})
        minimum = restrictions.pop("minimum_amount", None)
        minimum_currency = restrictions.pop("minimum_amount_currency", None)
        first_time = as_bool(restrictions.pop("first_time_transaction", False), "restrictions[first_time_transaction]")
        reject_unknown(restrictions, "restrictions", what="promotion codes")
        if (minimum is None) != (minimum_currency is None):
            raise invalid("restrictions[minimum_amount_currency]",
                          "minimum_amount and minimum_amount_currency go together.")
        super().__init__()
        self.code = code
        self.customer = customer
        self.customer_account = None
        self.expires_at = as_int(expires_at, "expires_at") if expires_at is not None else None
        self.max_redemptions = as_int(max_redemptions, "max_redemptions", 1) if max_redemptions is not None else None
        self.metadata = as_metadata(metadata)
        self.restrictions = {
            "currency_options": {},
            "first_time_transaction": first_time,
            "minimum_amount": as_int(minimum, "restrictions[minimum_amount]") if minimum is not None else None,
            "minimum_amount_currency": minimum_currency.lower() if isinstance(minimum_currency, str) else None,
        }
        self.times_redeemed = 0
        self._coupon = coupon_obj.id
        self._deactivated = not as_bool(active, "active")

    @property
    def promotion(self) -> dict:
        return {"type": "coupon", "coupon": self._coupon}

    @property
    def active(self) -> bool:
        coupon = store.get(f"coupon:{self._coupon}")
        expired = self.expires_at is not None and self.expires_at < time.time()
        used_up = self.max_redemptions is not None and self.times_redeemed >= self.max_redemptions
        return not (self._deactivated or expired or used_up or coupon is None or not coupon.valid)

    def _export(self, expand=None):
        expand = list(expand or [])
        wanted = self._expandable in expand
        obj = super()._export(expand=[e for e in expand if e != self._expandable])
        if wanted:
            obj["promotion"]["coupon"] = store[f"coupon:{self._coupon}"]._export()
        return obj

    @classmethod
    def _api_retrieve(cls, id):
        return get_or_404(cls.object, id, "promotion_code")

    @classmethod
    def _api_update(cls, id, active=None, metadata=None, **kwargs):
        reject_unknown(kwargs, what="promotion code updates")
        code = cls._api_retrieve(id)
        if active is not None:
            code._deactivated = not as_bool(active, "active")
        if metadata is not None:
            code.metadata = {**code.metadata, **as_metadata(metadata)}
        return code


def _codes() -> list[PromotionCode]:
    return [obj for key, obj in store.items() if key.startswith("promotion_code:")]


class _Listed(List):
    """A list whose items are exported with ``data.<path>`` expansions (localstripe's expand cannot reach a
    coupon, whose id has no prefix)."""

    def _export(self, expand=None):
        inner = [e.removeprefix("data.") for e in expand or [] if e.startswith("data.")]
        obj = super()._export(expand=[e for e in expand or [] if not e.startswith("data.")])
        self._compute_starting_pos()
        page = self._list[self._starting_pos:self._starting_pos + self._limit]
        obj["data"] = [item._export(expand=inner) for item in page]
        return obj


def _list(code=None, active=None, coupon=None, customer=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs, what="listing promotion codes")
    active = as_bool(active, "active") if active is not None else None
    found = _Listed("/v1/promotion_codes", limit=limit, starting_after=starting_after)
    found._list = [p for p in newest_first(_codes(), {"customer": customer})
                   if (code is None or p.code.lower() == str(code).lower())
                   and (active is None or p.active == active) and (coupon is None or p._coupon == coupon)]
    return found


def _create(**data) -> PromotionCode:
    return PromotionCode(**data)


def _retrieve(id, **kwargs) -> PromotionCode:
    reject_unknown(kwargs, what="retrieving promotion codes")
    return PromotionCode._api_retrieve(id)


# --------------------------------------------------------------------------------------------
# Redeeming a discount
# --------------------------------------------------------------------------------------------


class Redemption:
    """A discount being applied: its coupon, the promotion code it came from, and the ``di_`` id it is listed by."""

    def __init__(self, coupon: Coupon, promotion_code: PromotionCode | None):
        self.coupon, self.promotion_code = coupon, promotion_code
        self.id = "di_" + random_id(14)
        self.start = int(time.time())

    def applies_to_invoice(self, number: int, at: int) -> bool:
        """Whether the ``number``-th invoice (0: the first) billed ``at`` gets this discount."""
        if self.coupon.duration == "once":
            return number == 0
        if self.coupon.duration == "repeating":
            return at < self.start + int(self.coupon.duration_in_months or 0) * 31 * 86400
        return True

    def amount_off(self, amount: int) -> int:
        return amount_off(self.coupon, amount)

    def redeem(self) -> None:
        self.coupon.times_redeemed += 1
        if self.promotion_code is not None:
            self.promotion_code.times_redeemed += 1


def redemption(discounts: Any, *, customer: str | None, currency: str, amount: int) -> Redemption | None:
    """The one discount a ``discounts`` parameter names, checked for ``amount`` (``currency``) as Stripe does."""
    if discounts in (None, "", []):
        return None
    if not isinstance(discounts, list) or len(discounts) != 1 or not isinstance(discounts[0], dict):
        raise invalid("discounts", "The Stripe emulator takes one discount: discounts[0][promotion_code|coupon].")
    entry = dict(discounts[0])
    code_id, coupon_id = entry.pop("promotion_code", None), entry.pop("coupon", None)
    reject_unknown(entry, "discounts[0]", what="discounts")
    if (code_id is None) == (coupon_id is None):
        raise invalid("discounts[0]", "Pass exactly one of discounts[0][promotion_code] or discounts[0][coupon].")
    code = get_or_404("promotion_code", code_id, "discounts[0][promotion_code]") if code_id else None
    coupon = store[f"coupon:{code._coupon}"] if code else get_or_404("coupon", coupon_id, "discounts[0][coupon]")
    if code is not None and (not code.active or (code.customer is not None and code.customer != customer)):
        raise stripe_error(400, f"This promotion code cannot be redeemed: {code.code}.",
                           code="promotion_code_invalid" if code.active else "coupon_expired",
                           param="discounts[0][promotion_code]")
    if not coupon.valid:
        raise stripe_error(400, f"Coupon expired: {coupon.id}.", code="coupon_expired", param="discounts[0][coupon]")
    if coupon.amount_off is not None and (coupon.currency or "").lower() != currency:
        raise invalid("discounts[0]", f"The coupon's currency ({coupon.currency}) is not {currency}.")
    minimum = code.restrictions["minimum_amount"] if code else None
    if minimum is not None and code.restrictions["minimum_amount_currency"] == currency and amount < minimum:
        raise stripe_error(400, f"This promotion code requires a minimum amount of {minimum} {currency}.",
                           code="promotion_code_minimum_amount", param="discounts[0][promotion_code]")
    return Redemption(coupon, code)


def install() -> None:
    """Extension 14. Before ``localstripe.server`` is imported: it binds ``resources.extra_apis`` to routes then."""
    _extend_coupons()
    resources.extra_apis.extend((
        ("POST", "/v1/promotion_codes", _create),
        ("GET", "/v1/promotion_codes", _list),
        ("GET", "/v1/promotion_codes/{id}", _retrieve),
        ("POST", "/v1/promotion_codes/{id}", PromotionCode._api_update),
    ))


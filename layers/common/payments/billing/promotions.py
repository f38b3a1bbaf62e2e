"""Promotion codes: the code a customer types, checked at Stripe, and the discount it gives, decided here.

A code is looked up at Stripe by what the customer typed (``FALL20``). Unknown, inactive (expired, used up, its
coupon no longer valid), restricted to another customer, or not applicable to the amount (a fixed amount off in
another currency, an order below the code's minimum) is a 400 ``invalid_promotion_code`` naming
``promotionCode``: the customer can correct it; nothing was created.

The discount is computed here from the coupon, in integer minor units, so the server still decides every amount:
``amount_off`` (in the order's currency) as is, ``percent_off`` rounded half up to the currency's step, never more
than the amount. One-time checkout charges the order's amount less this discount and records it on the payment
(the order's own amount stays what the server priced); a subscription's first invoice is expected to bill the
same, which is how the renewal callback tells a discounted first payment from a wrong one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from payments.core import validation
from payments.core.errors import InvalidField
from payments.core.money import CURRENCIES
from payments.data.models import Discount
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripePromotionCode

FIELD = "promotionCode"
MAX_CODE_LENGTH = 100
_CODE = re.compile(r"^[A-Za-z0-9-]+$")  # Stripe's characters for a customer-facing code


def _refuse(message: str) -> InvalidField:
    return InvalidField(FIELD, message, code="invalid_promotion_code")


def parse_code(body: Mapping[str, Any]) -> str | None:
    """The ``promotionCode`` a request names, if any (its shape checked before Stripe is asked)."""
    code = validation.text(body, FIELD, required=False, max_length=MAX_CODE_LENGTH)
    if code is not None and not _CODE.match(code):
        raise _refuse("is not a promotion code (letters, digits and dashes)")
    return code


@dataclass(frozen=True)
class Promotion:
    """A promotion code valid for one amount: Stripe's code, and the discount it gives on that amount."""

    code: StripePromotionCode
    amount_off: int

    def discount(self) -> Discount:
        return Discount(promotion_code=self.code.code, promotion_code_id=self.code.id, amount=self.amount_off)


def discount_on(code: StripePromotionCode, amount: int, currency: str) -> int:
    """What ``code`` takes off ``amount`` (``currency``), or a 400 when it does not apply to it."""
    coupon = code.coupon
    if coupon is None or not coupon.valid:
        raise _refuse("this promotion code can no longer be used")
    if code.minimum_amount is not None and (code.minimum_amount_currency or currency) == currency \
            and amount < code.minimum_amount:
        raise _refuse("the order is below this promotion code's minimum amount")
    if coupon.amount_off is not None:
        if (coupon.currency or "") != currency:
            raise _refuse(f"this promotion code does not apply to {currency.upper()} amounts")
        return min(coupon.amount_off, amount)
    if coupon.percent_off is not None:
        step = CURRENCIES[currency].step if currency in CURRENCIES else 1
        exact = Decimal(amount) * Decimal(str(coupon.percent_off)) / Decimal(100) / Decimal(step)
        return min(int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP)) * step, amount)
    raise _refuse("this promotion code gives no discount this API can apply")


def promotion_for(code_text: str | None, *, amount: int, currency: str, customer_id: str | None) -> Promotion | None:
    """The valid promotion code the customer typed, with its discount on ``amount``; None when none was given."""
    if code_text is None:
        return None
    found = stripe_api.find_promotion_code(code_text)
    if found is None:
        raise _refuse("no such promotion code")
    if not found.active:
        raise _refuse("this promotion code has expired or can no longer be used")
    if found.customer_id is not None and found.customer_id != customer_id:
        raise _refuse("no such promotion code")  # another customer's code: as if it did not exist
    return Promotion(code=found, amount_off=discount_on(found, amount, currency))

"""Money: integer minor units, and the one table of currencies this product accepts.

Amounts are always integers in the currency's smallest unit as Stripe's API expects them: cents for
usd, yen for jpy, thousandths for bhd. ``exponent`` is the number of decimals; ``step`` is what every
amount must be a multiple of (Stripe requires three-decimal amounts to end in 0, and takes isk in
hundredths that must be whole krónur).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments.errors import InvalidField

# Stripe's limit on a single charge amount, in minor units (eight digits).
MAX_AMOUNT = 99_999_999


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int
    step: int = 1


_ZERO_DECIMAL = "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf"
_THREE_DECIMAL = "bhd jod kwd omr tnd"
_TWO_DECIMAL = (
    "aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bmd bnd bob brl bsd bwp byn bzd cad cdf "
    "chf cny cop crc cve czk dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gtq gyd hkd hnl htg huf "
    "idr ils inr jmd kes kgs khr kyd kzt lak lbp lkr lrd lsl mad mdl mkd mmk mnt mop mur mvr mwk mxn "
    "myr mzn nad ngn nio nok npr nzd pab pen pgk php pkr pln qar ron rsd rub sar sbd scr sek sgd shp "
    "sle sos srd std szl thb tjs top try ttd twd tzs uah usd uyu uzs wst xcd yer zar zmw"
)

CURRENCIES: dict[str, Currency] = {
    **{c: Currency(c, 0) for c in _ZERO_DECIMAL.split()},
    **{c: Currency(c, 2) for c in _TWO_DECIMAL.split()},
    **{c: Currency(c, 3, step=10) for c in _THREE_DECIMAL.split()},
    "isk": Currency("isk", 2, step=100),
}


def parse_currency(value: Any, field: str = "currency") -> Currency:
    """An ISO 4217 code Stripe supports, in any case (``USD`` is ``usd``), or a 400 naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(field, "must be an ISO 4217 currency code such as 'usd'")
    code = value.strip().lower()
    currency = CURRENCIES.get(code)
    if currency is None:
        raise InvalidField(field, f"'{value}' is not a currency Stripe supports", code="unsupported_currency")
    return currency


def parse_amount(value: Any, currency: Currency, field: str = "amount") -> int:
    """A positive integer amount in ``currency``'s minor units that Stripe can charge, or a 400."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(field, "must be a positive integer in the currency's smallest unit")
    if value <= 0:
        raise InvalidField(field, "must be greater than zero")
    if value > MAX_AMOUNT:
        raise InvalidField(field, f"must be at most {MAX_AMOUNT}")
    if value % currency.step:
        raise InvalidField(field, f"must be a multiple of {currency.step} for {currency.code}")
    return value


def format_amount(amount: int, currency: Currency) -> str:
    """For people and logs: 1999 usd -> '19.99 USD'."""
    if currency.exponent == 0:
        return f"{amount} {currency.code.upper()}"
    whole, frac = divmod(amount, 10**currency.exponent)
    return f"{whole}.{frac:0{currency.exponent}d} {currency.code.upper()}"

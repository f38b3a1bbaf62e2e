"""Money: integer minor units, and the one table of currencies this product accepts.

Amounts are always integers in the currency's smallest unit as Stripe's API expects them: cents for
usd, yen for jpy, thousandths for bhd. ``exponent`` is the number of decimals; ``step`` is what every
amount must be a multiple of (Stripe requires three-decimal amounts to end in 0, and takes isk in
hundredths that must be whole krónur).

``MINIMUM_CHARGE`` is Stripe's documented minimum charge per presentment currency
(https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts). An order below it is refused when it
is created, not later as a failed payment. For currencies that table does not list, Stripe's minimum is the
equivalent of 0.50 USD in the account's settlement currency, which depends on the day's exchange rate: those
are not checked here, and Stripe's own refusal (422 ``stripe_rejected`` at checkout) remains the backstop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payments.core.errors import InvalidField

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


# In minor units (usd 50 = $0.50).
MINIMUM_CHARGE: dict[str, int] = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50, "czk": 1500, "dkk": 250,
    "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50, "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300,
    "nzd": 50, "pln": 200, "ron": 200, "sek": 300, "sgd": 50, "thb": 1000,
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
    minimum = MINIMUM_CHARGE.get(currency.code)
    if minimum is not None and value < minimum:
        raise InvalidField(field, f"must be at least {format_amount(minimum, currency)}, Stripe's minimum charge",
                           code="amount_below_minimum")
    return value


def format_amount(amount: int, currency: Currency) -> str:
    """For people and logs: 1999 usd -> '19.99 USD'."""
    if currency.exponent == 0:
        return f"{amount} {currency.code.upper()}"
    whole, frac = divmod(amount, 10**currency.exponent)
    return f"{whole}.{frac:0{currency.exponent}d} {currency.code.upper()}"

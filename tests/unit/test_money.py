"""The currency table and amount rules: integer minor units, each currency's exponent and step."""

import pytest

from payments.core.errors import InvalidField
from payments.core.money import CURRENCIES, MAX_AMOUNT, MINIMUM_CHARGE, format_amount, parse_amount, parse_currency


@pytest.mark.parametrize(("code", "exponent", "step"), [
    ("usd", 2, 1), ("eur", 2, 1), ("jpy", 0, 1), ("krw", 0, 1), ("bhd", 3, 10), ("kwd", 3, 10), ("isk", 2, 100)])
def test_the_table_knows_each_currencys_decimals(code, exponent, step):
    assert (CURRENCIES[code].exponent, CURRENCIES[code].step) == (exponent, step)


def test_codes_are_accepted_in_any_case_and_stored_lowercase():
    assert parse_currency("USD").code == "usd" and parse_currency(" Jpy ").code == "jpy"


@pytest.mark.parametrize("value", ["xyz", "", None, 840, "us dollars"])
def test_unknown_or_malformed_currencies_are_refused_naming_the_field(value):
    with pytest.raises(InvalidField) as error:
        parse_currency(value, "currency")
    assert error.value.field == "currency"


@pytest.mark.parametrize(("amount", "code"), [(50, "usd"), (50, "jpy"), (30, "gbp"), (10, "bhd"), (MAX_AMOUNT, "usd"),
                                              (500, "isk"), (1, "kes")])
def test_valid_amounts(amount, code):
    assert parse_amount(amount, CURRENCIES[code]) == amount


@pytest.mark.parametrize(("amount", "code"), [(49, "usd"), (1, "usd"), (49, "jpy"), (29, "gbp"), (17499, "huf")])
def test_an_amount_below_stripes_minimum_charge_is_refused_naming_the_minimum(amount, code):
    with pytest.raises(InvalidField) as error:
        parse_amount(amount, CURRENCIES[code])
    assert error.value.code == "amount_below_minimum"
    assert format_amount(MINIMUM_CHARGE[code], CURRENCIES[code]) in error.value.message


def test_every_minimum_is_a_currency_of_the_table_and_a_valid_step():
    for code, minimum in MINIMUM_CHARGE.items():
        assert minimum % CURRENCIES[code].step == 0


@pytest.mark.parametrize(("amount", "code"), [
    (0, "usd"), (-1, "usd"), (1.5, "usd"), (10.0, "usd"), ("10", "usd"), (True, "usd"), (None, "usd"),
    (MAX_AMOUNT + 1, "usd"), (15, "bhd"), (150, "isk")])
def test_amounts_a_currency_cannot_have_are_refused(amount, code):
    with pytest.raises(InvalidField) as error:
        parse_amount(amount, CURRENCIES[code], "amount")
    assert error.value.field == "amount"


def test_formatting_for_people_uses_the_exponent():
    assert format_amount(1999, CURRENCIES["usd"]) == "19.99 USD"
    assert format_amount(500, CURRENCIES["jpy"]) == "500 JPY"
    assert format_amount(1230, CURRENCIES["bhd"]) == "1.230 BHD"

"""Orders over the HTTP API: who may create and read what, pagination, and every kind of bad input."""

from __future__ import annotations

import base64
import json

import pytest

from devstack.lambda_events import http_api_event, user_claims
from tests.support.api import ADMIN, ALICE, BOB, admin_order, call, get_order
from tests.support.invoke import invoke

# --- admins bill users -------------------------------------------------------------------------------------


@pytest.mark.parametrize("groups_format", ["list", "json", "bracket"])
def test_an_admin_creates_an_order_for_a_user_whatever_form_the_groups_claim_takes(
        aws, orders_handler, groups_format):
    answer = call(orders_handler, "POST", "/orders", user=ADMIN, admin=True, groups_format=groups_format,
                  body={"userId": ALICE, "amount": 1999, "currency": "USD", "description": "Invoice 42"})
    assert answer.status == 201, answer.body
    assert {k: answer.body[k] for k in ("userId", "kind", "amount", "currency", "status", "description")} == {
        "userId": ALICE, "kind": "one_time", "amount": 1999, "currency": "usd", "status": "pending",
        "description": "Invoice 42"}
    assert answer.body["orderId"].startswith("ord_") and answer.body["payments"] == []
    # And the user it is for can read it
    assert get_order(orders_handler, answer.body["orderId"], user=ALICE).body == answer.body


def test_the_groups_claim_with_several_groups_in_a_json_string(aws, orders_handler):
    claims = user_claims(ADMIN)
    claims["cognito:groups"] = '["staff","admin"]'
    event = http_api_event("POST", "/orders", claims=claims, body={"userId": ALICE, "amount": 500, "currency": "jpy"})
    assert invoke(orders_handler, event).status == 201


def test_a_non_admin_sending_the_admin_form_gets_403(aws, orders_handler):
    answer = call(orders_handler, "POST", "/orders", user=ALICE,
                  body={"userId": ALICE, "amount": 1, "currency": "usd"})
    assert answer.status == 403 and answer.error_code == "admin_only"


@pytest.mark.parametrize(("amount", "currency", "code"), [
    (100, "jpy", None), (1000, "bhd", None), (19_99, "usd", None),
    (1005, "bhd", "invalid_field"),        # three-decimal amounts must be a multiple of 10
    (-5, "usd", "invalid_field"), (0, "usd", "invalid_field"), (19.99, "usd", "invalid_field"),
    ("1999", "usd", "invalid_field"), (True, "usd", "invalid_field"), (None, "usd", "invalid_field"),
    (100_000_000, "usd", "invalid_field"),
    (1999, "xyz", "unsupported_currency"), (1999, 7, "invalid_field"), (1999, "", "invalid_field"),
])
def test_admin_amounts_and_currencies_are_validated(aws, orders_handler, amount, currency, code):
    answer = call(orders_handler, "POST", "/orders", user=ADMIN, admin=True,
                  body={"userId": ALICE, "amount": amount, "currency": currency})
    if code is None:
        assert answer.status == 201 and answer.body["amount"] == amount
    else:
        assert answer.status == 400 and answer.error_code == code
        field = "currency" if code == "unsupported_currency" or not isinstance(currency, str) or not currency \
            else "amount"
        assert answer.body["error"]["message"].startswith(field)


# --- malformed requests are 4xx, never 500 ---------------------------------------------------------------


@pytest.mark.parametrize(("body", "code"), [
    ("{not json", "malformed_json"),
    ("[1, 2, 3]", "malformed_json"),
    ('"a string"', "malformed_json"),
    (None, "missing_body"),
    ({}, "invalid_field"),
    ({"items": []}, "invalid_field"),
    ({"items": "price_1"}, "invalid_field"),
    ({"items": [{"quantity": 1}]}, "missing_field"),
    ({"items": [{"priceId": 42}]}, "invalid_field"),
    ({"items": [{"priceId": "price_1", "quantity": 0}]}, "invalid_field"),
    ({"items": [{"priceId": "price_1", "quantity": 1.5}]}, "invalid_field"),
    ({"items": [{"priceId": "price_1", "quantity": "2"}]}, "invalid_field"),
    ({"items": ["price_1"]}, "invalid_field"),
    ({"items": [{"priceId": "price_1"}] * 21}, "invalid_field"),
    ({"items": [{"priceId": "price_1"}], "description": 5}, "invalid_field"),
])
def test_malformed_create_requests_are_400_with_the_error_json(aws, orders_handler, body, code):
    answer = call(orders_handler, "POST", "/orders", body=body)
    assert answer.status == 400
    assert answer.error_code == code and answer.body["error"]["message"]


def test_a_base64_encoded_body_is_read(aws, orders_handler):
    event = http_api_event("POST", "/orders", claims=user_claims(ADMIN, groups=["admin"]),
                           body={"userId": ALICE, "amount": 250, "currency": "gbp"})
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(orders_handler, event).status == 201


@pytest.mark.parametrize(("method", "route", "path"), [
    ("POST", "/orders", None), ("GET", "/orders", None), ("GET", "/orders/{orderId}", {"orderId": "ord_x"})])
def test_no_identity_is_401_on_every_route(aws, orders_handler, method, route, path):
    answer = call(orders_handler, method, route, user=None, path=path, body={"items": []})
    assert answer.status == 401 and answer.error_code == "unauthenticated"


def test_an_unknown_route_is_a_json_404(aws, orders_handler):
    answer = invoke(orders_handler, http_api_event("DELETE", "/orders/{orderId}", path_params={"orderId": "x"},
                                                   claims=user_claims(ALICE)))
    assert answer.status == 404 and answer.error_code == "route_not_found"


# --- reading: mine only, newest first ----------------------------------------------------------------------


def test_another_users_order_is_404_and_an_admin_sees_it(aws, orders_handler):
    order = admin_order(orders_handler, user=ALICE)
    assert get_order(orders_handler, order["orderId"], user=BOB).status == 404
    assert get_order(orders_handler, order["orderId"], user=BOB).error_code == "order_not_found"
    assert get_order(orders_handler, "ord_does_not_exist", user=ALICE).status == 404
    assert get_order(orders_handler, order["orderId"], user=ADMIN, admin=True).status == 200


def test_listing_pages_through_my_orders_newest_first_and_never_shows_others(aws, orders_handler):
    mine = [admin_order(orders_handler, user=ALICE, amount=100 + i)["orderId"] for i in range(5)]
    admin_order(orders_handler, user=BOB)
    pages, cursor = [], None
    while True:
        answer = call(orders_handler, "GET", "/orders", query={"limit": "2", **({"cursor": cursor} if cursor else {})})
        assert answer.status == 200
        pages.append([o["orderId"] for o in answer.body["orders"]])
        cursor = answer.body["nextCursor"]
        if cursor is None:
            break
    assert pages == [mine[4:2:-1], mine[2:0:-1], mine[0:1]]


def test_listing_returns_the_full_order_shape(aws, orders_handler):
    order = admin_order(orders_handler, user=ALICE)
    listed = call(orders_handler, "GET", "/orders").body
    assert listed == {"orders": [order], "nextCursor": None}


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "!!!"},
                                   {"cursor": base64.urlsafe_b64encode(b'{"a": 1}').decode()}])
def test_bad_paging_parameters_are_400(aws, orders_handler, query):
    answer = call(orders_handler, "GET", "/orders", query=query)
    assert answer.status == 400 and answer.error_code == "invalid_field"


def test_a_cursor_from_another_user_is_refused(aws, orders_handler):
    for i in range(3):
        admin_order(orders_handler, user=BOB, amount=100 + i)
    cursor = call(orders_handler, "GET", "/orders", user=BOB, query={"limit": "1"}).body["nextCursor"]
    assert json.loads(base64.urlsafe_b64decode(cursor + "==="))["userId"] == BOB
    answer = call(orders_handler, "GET", "/orders", user=ALICE, query={"cursor": cursor})
    assert answer.status == 400


# --- catalog orders are priced at Stripe -----------------------------------------------------------------


@pytest.mark.emulator
def test_catalog_prices_decide_the_amount(aws, catalog, orders_handler):
    shirt, mug = catalog.price(1500, name="Shirt"), catalog.price(799, name="Mug")
    answer = call(orders_handler, "POST", "/orders", body={
        "items": [{"priceId": shirt.id, "quantity": 2}, {"priceId": mug.id}], "amount": 1})
    assert answer.status == 201
    assert (answer.body["amount"], answer.body["kind"], answer.body["userId"]) == (3799, "one_time", ALICE)


@pytest.mark.emulator
def test_one_recurring_price_makes_a_subscription_order(aws, catalog, orders_handler):
    monthly = catalog.price(999, name="Pro", interval="month")
    answer = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": monthly.id}]})
    assert answer.status == 201 and answer.body["kind"] == "subscription" and answer.body["amount"] == 999


@pytest.mark.emulator
def test_catalog_mistakes_are_400(aws, catalog, stripe_env, orders_handler):
    usd, eur = catalog.price(100, name="A"), catalog.price(100, "eur", name="B")
    monthly = catalog.price(100, name="C", interval="month")
    retired = catalog.price(100, name="D")
    stripe_env.client().v1.prices.update(retired.id, {"active": False})
    cheap = catalog.price(49, name="E")
    someone_elses = catalog.price(100, name="Another app's", sellable=False)
    cases = [
        ([{"priceId": "price_missing"}], "unknown_price"),
        ([{"priceId": someone_elses.id}], "unknown_price"),
        ([{"priceId": cheap.id}], "amount_below_minimum"),
        ([{"priceId": usd.id}, {"priceId": eur.id}], "mixed_currencies"),
        ([{"priceId": usd.id}, {"priceId": monthly.id}], "mixed_recurring"),
        ([{"priceId": monthly.id, "quantity": 2}], "mixed_recurring"),
        ([{"priceId": retired.id}], "inactive_price"),
    ]
    for items, code in cases:
        answer = call(orders_handler, "POST", "/orders", body={"items": items})
        assert (answer.status, answer.error_code) == (400, code), items


@pytest.mark.parametrize("raw", ["[" * 100_000, "\udcff"])
def test_pathological_bodies_are_400_not_500(aws, orders_handler, raw):
    event = http_api_event("POST", "/orders", claims=user_claims(ALICE), body="{}")
    if raw == "\udcff":
        event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe{").decode(), True
    else:
        event["body"] = raw
    answer = invoke(orders_handler, event)
    assert (answer.status, answer.error_code) == (400, "malformed_json")


@pytest.mark.parametrize("limit", ["+5", " 5", "1_0", "5.0"])
def test_limit_must_be_plain_digits(aws, orders_handler, limit):
    assert call(orders_handler, "GET", "/orders", query={"limit": limit}).status == 400

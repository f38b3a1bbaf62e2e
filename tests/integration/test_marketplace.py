"""A marketplace on Stripe Connect, end to end against the emulator: a user becomes a seller (an Express account and
its onboarding link), turns active through account.updated at the Connect callback (forward only by Stripe's
clock, links not labels), buyers' orders for the seller are paid by destination charges with the platform's fee,
and refunds take back the seller's share and refund the fee in proportion."""

from __future__ import annotations

import copy

import pytest

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, signed_webhook_event
from devstack.stripe_emulator import onboard_account
from devstack.stripe_events import stripe_event
from payments.data import store
from payments.data.models import SellerRecord
from tests.support import reset_clients
from tests.support.api import ADMIN, ALICE, BOB, call, get_order
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.races import race

pytestmark = pytest.mark.emulator

RETURN = {"returnUrl": "http://127.0.0.1:3000/demo/?onboarded=1"}


def become_seller(sellers_handler, user=ALICE, body=None):
    return call(sellers_handler, "POST", "/sellers", user=user, body=RETURN if body is None else body)


def my_seller(sellers_handler, user=ALICE):
    return call(sellers_handler, "GET", "/sellers/me", user=user)


def until(live, check, what):
    assert live.wait_for(lambda _: check()), what


def account_event(account: dict, *, created: int, account_id: str | None = None) -> dict:
    """``account.updated`` about ``account`` as a Connect endpoint receives it (with ``account``)."""
    event = stripe_event("account.updated", account, created=created)
    event["account"] = account_id or account["id"]
    return event


def deliver(connect_callback_handler, event):
    return invoke(connect_callback_handler, signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["connect"]))


def pay(emulator, client_secret, payment_method="pm_card_visa"):
    client = emulator.client()
    intent_id = client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    return client.v1.payment_intents.confirm(intent_id)


@pytest.fixture
def fee_bps(monkeypatch):
    monkeypatch.setenv("PLATFORM_FEE_BPS", "1000")  # 10%
    reset_clients()


@pytest.fixture
def active_seller(live, stripe_env, sellers_handler):
    answer = become_seller(sellers_handler)
    assert answer.status == 201, answer.body
    onboard_account(stripe_env, answer.body["stripeAccountId"])
    until(live, lambda: my_seller(sellers_handler).body["status"] == "active", "the seller never became active")
    return my_seller(sellers_handler).body


# --- becoming a seller -----------------------------------------------------------------------------------------


def test_becoming_a_seller_makes_one_express_account_and_a_fresh_link_each_time(aws, stripe_env, sellers_handler):
    first = become_seller(sellers_handler)
    assert first.status == 201, first.body
    body = first.body
    assert body["sellerId"].startswith("sel_") and body["stripeAccountId"].startswith("acct_")
    assert body["status"] == "onboarding" and "/connect/onboarding/" in body["onboardingUrl"]
    account = stripe_env.client().v1.accounts.retrieve(body["stripeAccountId"])
    assert (account.type, account.metadata.to_dict()) == ("express", {"sellerId": body["sellerId"]})

    # Asking again: the same seller and account, a new link
    again = become_seller(sellers_handler)
    assert again.status == 201
    assert (again.body["sellerId"], again.body["stripeAccountId"]) == (body["sellerId"], body["stripeAccountId"])
    assert again.body["onboardingUrl"] != body["onboardingUrl"]
    assert len(stripe_env.client().v1.accounts.list({"limit": 100}).data) == 1

    seller = my_seller(sellers_handler).body
    assert (seller["sellerId"], seller["status"], seller["chargesEnabled"]) == (body["sellerId"], "onboarding", False)
    assert my_seller(sellers_handler, user=BOB).status == 404


def test_eight_racing_first_requests_make_one_seller_and_one_account(aws, stripe_env, sellers_handler):
    with SerializedRequests():
        answers = race(8, lambda _: become_seller(sellers_handler))
    assert {a.status for a in answers} == {201}
    assert len({(a.body["sellerId"], a.body["stripeAccountId"]) for a in answers}) == 1
    assert len(stripe_env.client().v1.accounts.list({"limit": 100}).data) == 1


@pytest.mark.parametrize(("body", "field"), [({}, "returnUrl"), ({"returnUrl": "https://evil.example/x"}, "returnUrl"),
                                             ({"returnUrl": "http://127.0.0.1/x", "refreshUrl": 5}, "refreshUrl")])
def test_where_onboarding_returns_to_is_checked(aws, sellers_handler, body, field):
    answer = become_seller(sellers_handler, body=body)
    assert answer.status == 400 and field in answer.body["error"]["message"]


# --- the seller's status, from account.updated -------------------------------------------------------------------


def test_onboarding_makes_the_seller_active_and_an_older_event_after_a_newer_one_changes_nothing(
        live, stripe_env, sellers_handler, connect_callback_handler, active_seller):
    account = stripe_env.client().v1.accounts.retrieve(active_seller["stripeAccountId"]).to_dict()
    applied = store.get(SellerRecord, ALICE).last_event_created
    # An account.updated from before onboarding finished (charges disabled), delivered late
    older = copy.deepcopy(account)
    older.update(charges_enabled=False, payouts_enabled=False, details_submitted=False)
    answer = deliver(connect_callback_handler, account_event(older, created=applied - 5))
    assert (answer.status, answer.body["result"]) == (200, "ignored")
    assert my_seller(sellers_handler).body["status"] == "active"
    # A newer one that restricts it moves it
    newer = copy.deepcopy(account)
    newer.update(charges_enabled=False, requirements={**account["requirements"], "disabled_reason":
                                                      "requirements.past_due", "past_due": ["external_account"]})
    answer = deliver(connect_callback_handler, account_event(newer, created=applied + 5))
    assert answer.body["result"] == "processed"
    seller = my_seller(sellers_handler).body
    assert (seller["status"], seller["requirementsDue"]) == ("restricted", ["external_account"])


def test_an_event_whose_account_is_not_the_sellers_changes_nothing(live, stripe_env, sellers_handler,
                                                                    connect_callback_handler, active_seller):
    account = stripe_env.client().v1.accounts.retrieve(active_seller["stripeAccountId"]).to_dict()
    account.update(charges_enabled=False)
    stamp = store.get(SellerRecord, ALICE).last_event_created + 10
    # The object names the seller's account, but the event is another connected account's (or the platform's own)
    for other in ("acct_someoneElse123", None):
        event = account_event(account, created=stamp)
        event["account"] = other
        answer = deliver(connect_callback_handler, event)
        assert (answer.status, answer.body["result"]) == (200, "ignored")
    # An account we never linked to a seller, whatever its metadata says
    stranger = {**account, "id": "acct_notASeller1234", "metadata": {"sellerId": active_seller["sellerId"]}}
    assert deliver(connect_callback_handler, account_event(stranger, created=stamp)).body["result"] == "ignored"
    assert my_seller(sellers_handler).body["status"] == "active"


# --- orders for a seller ---------------------------------------------------------------------------------------------


def test_an_order_for_a_seller_who_is_not_active_is_409(aws, stripe_env, catalog, orders_handler, sellers_handler):
    seller = become_seller(sellers_handler).body
    shirt = catalog.price(2000)
    answer = call(orders_handler, "POST", "/orders", user=BOB,
                  body={"items": [{"priceId": shirt.id}], "sellerId": seller["sellerId"]})
    assert (answer.status, answer.error_code) == (409, "seller_not_active")
    unknown = call(orders_handler, "POST", "/orders", user=BOB,
                   body={"items": [{"priceId": shirt.id}], "sellerId": "sel_unknown"})
    assert (unknown.status, unknown.error_code) == (404, "seller_not_found")


def test_a_paid_order_records_the_fee_and_the_transfer_and_a_partial_refund_reverses_in_proportion(
        live, stripe_env, catalog, fee_bps, orders_handler, checkout_handler, refund_handler, active_seller):
    client = stripe_env.client()
    shirt = catalog.price(2000)
    order = call(orders_handler, "POST", "/orders", user=BOB,
                 body={"items": [{"priceId": shirt.id, "quantity": 2}], "sellerId": active_seller["sellerId"]}).body
    assert (order["amount"], order["sellerId"], order["applicationFeeAmount"]) == (4000, active_seller["sellerId"],
                                                                                   400)
    checkout = call(checkout_handler, "POST", "/checkout", user=BOB, body={"orderId": order["orderId"]})
    assert checkout.status == 201, checkout.body
    intent = pay(stripe_env, checkout.body["clientSecret"])
    assert intent.transfer_data.destination == active_seller["stripeAccountId"] and intent.application_fee_amount == 400

    until(live, lambda: get_order(orders_handler, order["orderId"], user=BOB).body["status"] == "paid", "never paid")
    payment = get_order(orders_handler, order["orderId"], user=BOB).body["payments"][0]
    transfer = client.v1.transfers.retrieve(payment["stripeTransferId"])
    assert (payment["applicationFeeAmount"], payment["transferAmount"]) == (400, 3600)
    assert (payment["destinationAccountId"], transfer.destination, transfer.amount) == (
        active_seller["stripeAccountId"], active_seller["stripeAccountId"], 3600)

    # A refund of a quarter takes back a quarter of the seller's share and refunds a quarter of the fee
    refund = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                  body={"paymentId": payment["paymentId"], "refundAmount": 1000})
    assert refund.status == 202, refund.body
    until(live, lambda: get_order(orders_handler, order["orderId"], user=BOB).body["status"] == "partially_refunded",
          "the refund never landed")
    transfer = client.v1.transfers.retrieve(payment["stripeTransferId"])
    fee = client.v1.application_fees.retrieve(client.v1.charges.retrieve(intent.latest_charge.id).application_fee)
    assert (transfer.amount_reversed, fee.amount_refunded) == (900, 100)
    recorded = get_order(orders_handler, order["orderId"], user=BOB).body["refunds"][0]
    assert recorded["reverseTransfer"] is True
    assert recorded["stripeTransferReversalId"] == transfer.reversals.data[0].id


def test_an_admin_order_sets_its_own_fee_and_a_user_may_not(aws, stripe_env, catalog, orders_handler,
                                                          sellers_handler, monkeypatch):
    seller = become_seller(sellers_handler).body
    record = store.get(SellerRecord, ALICE)
    record.status = "active"  # as account.updated leaves it (tested above)
    store.put(record)
    answer = call(orders_handler, "POST", "/orders", user=ADMIN, admin=True, body={
        "userId": BOB, "amount": 5000, "currency": "usd", "sellerId": seller["sellerId"],
        "applicationFeeAmount": 750})
    assert (answer.status, answer.body["applicationFeeAmount"]) == (201, 750)
    shirt = catalog.price(2000)
    refused = call(orders_handler, "POST", "/orders", user=BOB, body={
        "items": [{"priceId": shirt.id}], "sellerId": seller["sellerId"], "applicationFeeAmount": 0})
    assert refused.status == 400 and "applicationFeeAmount" in refused.body["error"]["message"]
    too_much = call(orders_handler, "POST", "/orders", user=ADMIN, admin=True, body={
        "userId": BOB, "amount": 5000, "currency": "usd", "sellerId": seller["sellerId"],
        "applicationFeeAmount": 5001})
    assert too_much.status == 400
    recurring = catalog.price(900, interval="month")
    sub = call(orders_handler, "POST", "/orders", user=BOB,
               body={"items": [{"priceId": recurring.id}], "sellerId": seller["sellerId"]})
    assert (sub.status, sub.error_code) == (400, "seller_not_supported")


def test_checkout_checks_the_seller_again_a_restricted_seller_cannot_be_paid(
        live, stripe_env, catalog, orders_handler, checkout_handler, sellers_handler, active_seller):
    shirt = catalog.price(2000)
    order = call(orders_handler, "POST", "/orders", user=BOB,
                 body={"items": [{"priceId": shirt.id}], "sellerId": active_seller["sellerId"]}).body
    onboard_account(stripe_env, active_seller["stripeAccountId"], outcome="restricted")
    until(live, lambda: my_seller(sellers_handler).body["status"] == "restricted", "the seller never got restricted")
    answer = call(checkout_handler, "POST", "/checkout", user=BOB, body={"orderId": order["orderId"]})
    assert (answer.status, answer.error_code) == (409, "seller_not_active")
    assert get_order(orders_handler, order["orderId"], user=BOB).body["payments"] == []

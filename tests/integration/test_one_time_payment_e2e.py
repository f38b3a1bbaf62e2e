"""A one-time payment end to end: order, checkout, the client pays at the Stripe emulator, the signed
webhook arrives at the payment callback, and the order reads paid."""

from __future__ import annotations

import pytest

from tests.support.api import ALICE, call, get_order
from tests.support.calls import SerializedRequests
from tests.support.races import race

pytestmark = pytest.mark.emulator




def confirm(emulator, client_secret, payment_method):
    """What the mobile app does with the client secret: attach a card and confirm."""
    client = emulator.client()
    intent_id = client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    try:
        return client.v1.payment_intents.confirm(intent_id)
    except Exception as error:  # a decline is an answer too
        return error


def wait_for_status(live, orders_handler, order_id, status):
    def reached(_):
        return get_order(orders_handler, order_id).body["status"] == status

    assert live.wait_for(reached), f"order never became {status}: {get_order(orders_handler, order_id).body}"
    return get_order(orders_handler, order_id).body


def test_a_user_pays_an_order_with_a_test_card_and_it_reads_paid(live, stripe_env, catalog, orders_handler,
                                                                  checkout_handler):
    # Given a catalog order of two t-shirts priced at Stripe
    price = catalog.price()
    created = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id, "quantity": 2}],
                                                            "description": "Two t-shirts"})
    assert created.status == 201
    order = created.body
    assert (order["amount"], order["currency"], order["status"], order["kind"]) == (3998, "usd", "pending", "one_time")
    # When the owner checks out
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]})
    assert checkout.status == 201, checkout.body
    assert checkout.body["amount"] == 3998 and checkout.body["clientSecret"].startswith("pi_")
    assert checkout.body["publishableKey"].startswith("pk_")
    # And the app confirms the PaymentIntent with a test card
    intent = confirm(stripe_env, checkout.body["clientSecret"], "pm_card_visa")
    assert intent.status == "succeeded"
    assert intent.metadata.to_dict() == {"orderId": order["orderId"], "paymentId": checkout.body["paymentId"],
                                     "userId": ALICE}
    # Then the signed payment_intent.succeeded arrives and the order reads paid
    paid = wait_for_status(live, orders_handler, order["orderId"], "paid")
    assert [(p["paymentId"], p["status"], p["amount"]) for p in paid["payments"]] == [
        (checkout.body["paymentId"], "succeeded", 3998)]
    assert paid["payments"][0]["stripePaymentIntentId"] == intent.id


def test_a_declined_card_leaves_the_order_pending_and_a_retry_on_the_same_intent_pays_it(
        live, stripe_env, catalog, orders_handler, checkout_handler):
    price = catalog.price(amount=500)
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id}]}).body
    checkout = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    # When the card is declined
    confirm(stripe_env, checkout["clientSecret"], "pm_card_chargeCustomerFail")
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["payments"][0]["status"]
                         == "failed")
    failed = get_order(orders_handler, order["orderId"]).body
    assert failed["status"] == "pending" and failed["payments"][0]["failureCode"]
    # And the customer tries another card on the same PaymentIntent
    assert confirm(stripe_env, checkout["clientSecret"], "pm_card_visa").status == "succeeded"
    paid = wait_for_status(live, orders_handler, order["orderId"], "paid")
    assert paid["payments"][0]["status"] == "succeeded"


def test_web_checkout_session_pays_the_order(live, stripe_env, catalog, orders_handler, checkout_handler):
    price = catalog.price(amount=2500, currency="eur")
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id}]}).body
    checkout = call(checkout_handler, "POST", "/checkout", body={
        "orderId": order["orderId"], "mode": "checkout_session", "currency": "EUR", "amount": 2500,
        "successUrl": "https://shop.example/ok", "cancelUrl": "https://shop.example/cancel"})
    assert checkout.status == 201, checkout.body
    assert checkout.body["checkoutUrl"].startswith(stripe_env.url) and checkout.body["clientSecret"] is None
    # When the customer pays on the hosted page
    session_id = checkout.body["checkoutUrl"].rstrip("/").rsplit("/", 1)[-1]
    stripe_env.complete_checkout_session(session_id)
    # Then the order reads paid
    paid = wait_for_status(live, orders_handler, order["orderId"], "paid")
    assert paid["payments"][0]["stripeCheckoutSessionId"] == session_id


def test_asking_again_returns_the_same_open_payment_and_one_payment_intent(
        live, stripe_env, catalog, orders_handler, checkout_handler):
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price().id}]}).body
    first = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    second = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"], "amount": 1999}).body
    assert second["paymentId"] == first["paymentId"] and second["clientSecret"] == first["clientSecret"]
    assert len(get_order(orders_handler, order["orderId"]).body["payments"]) == 1
    intents = stripe_env.client().v1.payment_intents.list().data
    assert [i.id for i in intents if i.metadata and i.metadata.to_dict().get("orderId") == order["orderId"]] == [
        first["clientSecret"].split("_secret_")[0]]


def test_concurrent_checkouts_of_one_order_make_one_payment(live, stripe_env, catalog, orders_handler,
                                                            checkout_handler):
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price().id}]}).body
    with SerializedRequests():
        answers = race(6, lambda _: call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}))
    assert {a.status for a in answers} == {201}
    assert len({a.body["paymentId"] for a in answers}) == 1
    assert len({a.body["clientSecret"] for a in answers}) == 1
    assert len(get_order(orders_handler, order["orderId"]).body["payments"]) == 1


def test_checking_out_again_after_a_decline_cancels_the_old_intent(live, stripe_env, catalog, orders_handler,
                                                                   checkout_handler):
    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price().id}]}).body
    first = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    confirm(stripe_env, first["clientSecret"], "pm_card_chargeCustomerFail")
    assert live.wait_for(lambda _: get_order(orders_handler, order["orderId"]).body["payments"][0]["status"]
                         == "failed")
    # When the user starts checkout again
    second = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    # Then a new payment is made, and the old PaymentIntent can no longer take money
    assert second["paymentId"] != first["paymentId"]
    old = stripe_env.client().v1.payment_intents.retrieve(first["clientSecret"].split("_secret_")[0])
    assert old.status == "canceled"
    statuses = {p["paymentId"]: p["status"] for p in get_order(orders_handler, order["orderId"]).body["payments"]}
    assert statuses == {first["paymentId"]: "failed", second["paymentId"]: "pending"}


def test_a_second_payment_for_a_paid_order_is_refunded_automatically(live, stripe_env, catalog, orders_handler,
                                                                      checkout_handler):
    """Two tabs, one order: the first payment pays it; the second, which Stripe took anyway, is refunded in full
    without anyone asking, once, and both payments stay on the order's record."""
    from payments.data import store
    from payments.data.models import OrderRecord, PaymentRecord

    order = call(orders_handler, "POST", "/orders", body={"items": [{"priceId": catalog.price().id}]}).body
    first = call(checkout_handler, "POST", "/checkout", body={"orderId": order["orderId"]}).body
    # Given a second payment of the same order, with its own PaymentIntent (as a second tab would have made)
    client = stripe_env.client()
    second = PaymentRecord("pay_second_tab", order_id=order["orderId"], user_id=ALICE, amount=1999, currency="usd",
                           mode="payment_intent", status="pending", created_at=order["createdAt"],
                           updated_at=order["createdAt"])
    intent = client.v1.payment_intents.create({"amount": 1999, "currency": "usd", "metadata": {
        "orderId": order["orderId"], "paymentId": second.payment_id, "userId": ALICE}})
    second.stripe_payment_intent_id = intent.id
    record = store.get(OrderRecord, order["orderId"])
    record.payment_ids = [*record.payment_ids, second.payment_id]
    store.Transaction().save(second).save(record).commit()
    # When both are paid
    confirm(stripe_env, first["clientSecret"], "pm_card_visa")
    wait_for_status(live, orders_handler, order["orderId"], "paid")
    confirm(stripe_env, f"{intent.id}_secret_x", "pm_card_visa")

    # Then the second is refunded in full, at Stripe and on our records, and the order stays paid by the first
    def refunded(_):
        payments = {p["paymentId"]: p for p in get_order(orders_handler, order["orderId"]).body["payments"]}
        return payments[second.payment_id]["amountRefunded"] == 1999

    assert live.wait_for(refunded), get_order(orders_handler, order["orderId"]).body
    view = get_order(orders_handler, order["orderId"]).body
    assert view["status"] == "paid"
    assert {p["paymentId"]: (p["status"], p["amountRefunded"]) for p in view["payments"]} == {
        first["paymentId"]: ("succeeded", 0), second.payment_id: ("succeeded", 1999)}
    assert [(r["refundId"], r["paymentId"], r["amount"], r["status"]) for r in view["refunds"]] == [
        ("ref_auto_second_tab", second.payment_id, 1999, "succeeded")]
    assert [(r.amount, r.metadata.to_dict()["refundId"]) for r in
            client.v1.refunds.list({"payment_intent": intent.id}).data] == [(1999, "ref_auto_second_tab")]

"""What billing tests share: a subscription started and paid through the API against the emulator, promotion
codes, saved cards, and waiting for the callbacks to settle."""

from __future__ import annotations

from typing import Any

from payments.data import store
from payments.data.models import OrderRecord, RecurringPaymentRecord
from tests.support.api import ALICE, call


def plan(catalog: Any, amount: int = 900, name: str = "Basic") -> Any:
    """A monthly price the app sells."""
    return catalog.price(amount, name=name, interval="month")


def subscription_order(orders_handler: Any, price_id: str, user: str = ALICE) -> dict[str, Any]:
    answer = call(orders_handler, "POST", "/orders", user=user, body={"items": [{"priceId": price_id}]})
    assert answer.status == 201 and answer.body["kind"] == "subscription", answer.body
    return answer.body


def subscribe(subscribe_handler: Any, order: dict[str, Any], price_id: str, user: str = ALICE, **terms: Any) -> Any:
    """``POST /subscriptions``; its answer is one openapi.yaml documents."""
    from tests.support.openapi import assert_documented

    answer = call(subscribe_handler, "POST", "/subscriptions", user=user,
                  body={"orderId": order["orderId"], "priceId": price_id, **terms})
    assert_documented(answer, "POST", "/subscriptions")
    return answer


def confirm_payment(emulator: Any, client_secret: str, payment_method: str = "pm_card_visa") -> Any:
    """What the app does with a PaymentIntent's client secret (here with the secret key)."""
    client = emulator.client()
    intent_id = client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    return client.v1.payment_intents.confirm(intent_id)


def confirm_setup(emulator: Any, client_secret: str, payment_method: str = "pm_card_visa") -> Any:
    """What the app does with a SetupIntent's client secret (Stripe.js ``confirmCardSetup``)."""
    client = emulator.client()
    return client.v1.setup_intents.confirm(client_secret.split("_secret_")[0], {"payment_method": payment_method})


def promotion_code(emulator: Any, code: str, **coupon: Any) -> Any:
    """A promotion code customers can type, for a coupon (``percent_off=25, duration="once"`` ...)."""
    client = emulator.client()
    created = client.v1.coupons.create({"duration": "once", **coupon})
    return client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": created.id}, "code": code})


def record(recurring_payment_id: str) -> RecurringPaymentRecord:
    found = store.get(RecurringPaymentRecord, recurring_payment_id)
    assert found is not None
    return found


def order(order_id: str) -> OrderRecord | None:
    return store.get(OrderRecord, order_id)


def until(live: Any, check: Any, what: str) -> None:
    assert live.wait_for(lambda _: check()), what


def active_subscription(live: Any, emulator: Any, catalog: Any, orders_handler: Any, subscribe_handler: Any,
                        price: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A subscription started through the API, its first invoice paid, the order paid and the record active."""
    price = price or plan(catalog)
    placed = subscription_order(orders_handler, price.id)
    started = subscribe(subscribe_handler, placed, price.id)
    assert started.status == 201, started.body
    confirm_payment(emulator, started.body["clientSecret"])
    rid = started.body["recurringPaymentId"]
    until(live, lambda: record(rid).status == "active", "the subscription never became active")
    until(live, lambda: (order(placed["orderId"]) or OrderRecord(status="x")).status == "paid", "never paid")
    return placed, started.body

"""The Stripe emulator's subscriptions and invoices (devstack.stripe_emulator.billing), run as a real process:
the calls our subscription code makes, answered in the current API's shape, with signed webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import stripe
from dateutil.relativedelta import relativedelta

from devstack.stripe_emulator import advance_subscription, pay_invoice

pytestmark = pytest.mark.emulator

METADATA = {"orderId": "ord_1", "recurringPaymentId": "rp_1", "userId": "user_1"}


def emission_order(client: stripe.StripeClient, events: list[stripe.Event]) -> list[str]:
    """The types of ``events`` in the order the emulator emitted them (its event list is newest first, as
    Stripe's). Deliveries may arrive in another order, as on Stripe."""
    emitted = [e.id for e in reversed(client.v1.events.list({"limit": 100}).data)]
    return [e.type for e in sorted(events, key=lambda e: emitted.index(e.id))]


def one_month_after(timestamp: int) -> int:
    return int((datetime.fromtimestamp(timestamp, tz=UTC) + relativedelta(months=1)).timestamp())


@pytest.fixture
def price(client: stripe.StripeClient):
    return client.v1.prices.create(
        {"currency": "eur", "unit_amount": 990, "product_data": {"name": "Club"}, "recurring": {"interval": "month"}}
    )


@pytest.fixture
def customer(client: stripe.StripeClient):
    return client.v1.customers.create({"metadata": {"userId": "user_1"}}, {"idempotency_key": "customer:user_1"})


def subscribe(client: stripe.StripeClient, customer, price, quantity: int = 1, key: str = "rp_1:create"):
    """What our subscription code sends (payments.stripe.api.create_subscription)."""
    return client.v1.subscriptions.create(
        {
            "customer": customer.id,
            "items": [{"price": price.id, "quantity": quantity}],
            "payment_behavior": "default_incomplete",
            "payment_settings": {"save_default_payment_method": "on_subscription"},
            "expand": ["latest_invoice.confirmation_secret"],
            "metadata": METADATA,
        },
        {"idempotency_key": key},
    )


def intent_of(invoice) -> str:
    return invoice.payments.data[0].payment.payment_intent


def pay_first_invoice(client: stripe.StripeClient, subscription, payment_method: str = "pm_card_visa"):
    """What the browser does with the client secret: set the card on the PaymentIntent, then confirm it."""
    intent_id = intent_of(subscription.latest_invoice)
    client.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
    return client.v1.payment_intents.confirm(intent_id)


def active_subscription(client: stripe.StripeClient, customer, price):
    subscription = subscribe(client, customer, price)
    pay_first_invoice(client, subscription)
    return client.v1.subscriptions.retrieve(subscription.id)


# Customers ------------------------------------------------------------------------------------


def test_customer_create_keeps_metadata_and_is_idempotent(client: stripe.StripeClient) -> None:
    # Given a customer created with our metadata and idempotency key
    first = client.v1.customers.create({"metadata": {"userId": "user_1"}}, {"idempotency_key": "customer:user_1"})

    # When the same request is repeated, and another user's is made
    again = client.v1.customers.create({"metadata": {"userId": "user_1"}}, {"idempotency_key": "customer:user_1"})
    other = client.v1.customers.create({"metadata": {"userId": "user_2"}}, {"idempotency_key": "customer:user_2"})

    # Then the repeat is the same customer, and the metadata is kept
    assert again.id == first.id
    assert other.id != first.id
    assert client.v1.customers.retrieve(first.id).metadata.to_dict() == {"userId": "user_1"}


# Creation -------------------------------------------------------------------------------------


def test_subscription_starts_incomplete_with_its_first_invoice_to_pay(client, customer, price) -> None:
    # Given a monthly price and a customer without any payment method
    # When a subscription is created the way our code does it, for two units
    subscription = subscribe(client, customer, price, quantity=2)

    # Then it waits for its first payment
    assert subscription.status == "incomplete"
    assert (subscription.customer, subscription.metadata.to_dict()) == (customer.id, METADATA)
    assert subscription.cancel_at_period_end is False
    assert subscription.default_payment_method is None
    item = subscription["items"].data[0]
    assert (item.price.id, item.price.unit_amount, item.quantity) == (price.id, 990, 2)
    assert item.current_period_start == subscription.start_date
    assert item.current_period_end == one_month_after(item.current_period_start)
    assert subscription.current_period_end == item.current_period_end  # also at the top, for older readers

    # And its first invoice is open, for price x quantity, tied to the subscription both ways
    invoice = subscription.latest_invoice
    assert (invoice.billing_reason, invoice.status) == ("subscription_create", "open")
    assert (invoice.amount_due, invoice.amount_paid, invoice.amount_remaining) == (1980, 0, 1980)
    assert (invoice.currency, invoice.customer, invoice.subscription) == ("eur", customer.id, subscription.id)
    assert invoice.parent.to_dict() == {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {
            "subscription": subscription.id,
            "metadata": METADATA,
            "subscription_proration_date": None,
        },
    }
    line = invoice.lines.data[0]
    assert (line.amount, line.quantity, line.pricing.price_details.price) == (1980, 2, price.id)
    assert (line.period.start, line.period.end) == (item.current_period_start, item.current_period_end)

    # And its confirmation secret is the client secret of the invoice's PaymentIntent
    intent = client.v1.payment_intents.retrieve(intent_of(invoice))
    assert invoice.confirmation_secret.type == "payment_intent"
    assert invoice.confirmation_secret.client_secret == intent.client_secret
    assert intent.client_secret.startswith(f"{intent.id}_secret_")
    assert (intent.amount, intent.currency, intent.status) == (1980, "eur", "requires_payment_method")

    # And retrieving it gives the same subscription, the invoice as an id unless expanded
    fetched = client.v1.subscriptions.retrieve(subscription.id)
    assert (fetched.status, fetched.latest_invoice) == ("incomplete", invoice.id)
    expanded = client.v1.subscriptions.retrieve(subscription.id, {"expand": ["latest_invoice.confirmation_secret"]})
    assert expanded.latest_invoice.confirmation_secret.client_secret == intent.client_secret


def test_create_is_idempotent(client, customer, price) -> None:
    # Given a subscription created with an idempotency key
    first = subscribe(client, customer, price, key="rp_1:create")

    # When the request is repeated with the same key
    again = subscribe(client, customer, price, key="rp_1:create")

    # Then it is the same subscription and the same invoice, and no second one exists
    assert (again.id, again.latest_invoice.id) == (first.id, first.latest_invoice.id)
    assert [s.id for s in client.v1.subscriptions.list({"customer": customer.id, "status": "all"}).data] == [first.id]


def test_unsupported_requests_are_refused(client, customer, price) -> None:
    # Given a one-time price
    one_time = client.v1.prices.create({"currency": "eur", "unit_amount": 500, "product_data": {"name": "Mug"}})
    base = {"customer": customer.id, "payment_behavior": "default_incomplete"}

    # When a subscription is asked for with it, with a billing cycle anchor (not modelled), or with an unknown price
    # Then each is a 400/404 naming the parameter, as Stripe answers
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.create({**base, "items": [{"price": one_time.id}]})
    assert (raised.value.http_status, raised.value.param) == (400, "items[0][price]")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.create({**base, "items": [{"price": price.id}], "billing_cycle_anchor": 1})
    assert (raised.value.http_status, raised.value.code) == (400, "parameter_unknown")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.create({**base, "items": [{"price": "price_nope"}]})
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


# The first payment -----------------------------------------------------------------------------


def test_paying_the_first_invoice_activates_the_subscription(client, customer, price, webhooks) -> None:
    # Given an incomplete subscription
    subscription = subscribe(client, customer, price)
    invoice_id = subscription.latest_invoice.id

    # When the client confirms its PaymentIntent with a card
    intent = pay_first_invoice(client, subscription)

    # Then the payment succeeded, the invoice is paid and the subscription active, keeping the card
    assert intent.status == "succeeded"
    invoice = client.v1.invoices.retrieve(invoice_id)
    assert (invoice.status, invoice.amount_paid, invoice.amount_remaining, invoice.attempt_count) == ("paid", 990, 0, 1)
    assert invoice.status_transitions.paid_at is not None
    active = client.v1.subscriptions.retrieve(subscription.id)
    assert active.status == "active"
    assert active.default_payment_method.startswith("pm_")
    assert client.v1.payment_methods.retrieve(active.default_payment_method).customer == customer.id

    # And signed webhooks tell the story in Stripe's order, in the current API's shapes
    created = webhooks.wait_for("customer.subscription.created", subscription.id)
    paid = webhooks.wait_for("invoice.paid", invoice_id)
    updated = webhooks.wait_for("customer.subscription.updated", subscription.id)
    assert emission_order(client, [created, paid, updated]) == [
        "customer.subscription.created",
        "invoice.paid",
        "customer.subscription.updated",
    ]
    assert created.data.object.status == "incomplete"
    paid_invoice = paid.data.object
    assert (paid_invoice.billing_reason, paid_invoice.status, paid_invoice.amount_paid) == (
        "subscription_create",
        "paid",
        990,
    )
    assert paid_invoice.parent.subscription_details.subscription == subscription.id
    assert paid_invoice.parent.subscription_details.metadata.to_dict() == subscription.metadata.to_dict()
    assert paid_invoice.subscription == subscription.id
    assert updated.data.object.status == "active"
    assert updated.data.previous_attributes.status == "incomplete"
    assert updated.data.previous_attributes.default_payment_method is None
    assert webhooks.wait_for("invoice.payment_succeeded", invoice_id).data.object.status == "paid"


def test_declined_first_payment_leaves_the_subscription_incomplete(client, customer, price, webhooks) -> None:
    # Given an incomplete subscription
    subscription = subscribe(client, customer, price)
    invoice_id = subscription.latest_invoice.id

    # When the client confirms with a card that is declined
    with pytest.raises(stripe.CardError):
        pay_first_invoice(client, subscription, payment_method="pm_card_chargeCustomerFail")

    # Then the invoice failed and stays open, the subscription incomplete
    failed = webhooks.wait_for("invoice.payment_failed", invoice_id)
    assert (failed.data.object.status, failed.data.object.attempt_count) == ("open", 1)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "incomplete"

    # And when the client retries with another card in one call, the subscription becomes active
    intent = client.v1.payment_intents.confirm(
        intent_of(subscription.latest_invoice), {"payment_method": "pm_card_visa"}
    )
    assert intent.status == "succeeded"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert webhooks.wait_for("invoice.paid", invoice_id).data.object.attempt_count == 2


# Renewals -------------------------------------------------------------------------------------


def test_renewal_charges_the_saved_card(emulator, client, customer, price, webhooks) -> None:
    # Given an active subscription
    subscription = active_subscription(client, customer, price)
    period_end = subscription["items"].data[0].current_period_end

    # When its period ends
    invoice = advance_subscription(emulator, subscription.id)

    # Then a cycle invoice was paid with the saved card, and the period moved one month on
    assert (invoice.object, invoice.billing_reason, invoice.status) == ("invoice", "subscription_cycle", "paid")
    assert (invoice.amount_paid, invoice.subscription) == (990, subscription.id)
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    item = renewed["items"].data[0]
    assert (renewed.status, renewed.latest_invoice) == ("active", invoice.id)
    assert (item.current_period_start, item.current_period_end) == (period_end, one_month_after(period_end))
    assert renewed.current_period_end == item.current_period_end
    assert invoice.lines.data[0].period.end == item.current_period_end
    intent = client.v1.payment_intents.retrieve(intent_of(invoice))
    assert (intent.status, intent.payment_method) == ("succeeded", subscription.default_payment_method)

    # And invoice.paid says so, with the subscription's metadata, and the subscription's new period is announced
    paid = webhooks.wait_for("invoice.paid", invoice.id)
    assert paid.data.object.billing_reason == "subscription_cycle"
    assert paid.data.object.parent.subscription_details.metadata.to_dict() == METADATA
    updated = webhooks.wait_for(
        "customer.subscription.updated", subscription.id, lambda e: e.data.object.latest_invoice == invoice.id
    )
    assert updated.data.object["items"].data[0].current_period_end == one_month_after(period_end)
    assert updated.data.previous_attributes["items"].data[0].current_period_end == period_end
    assert updated.data.previous_attributes.latest_invoice == subscription.latest_invoice
    assert webhooks.wait_for("payment_intent.succeeded", intent.id).data.object.id == intent.id


def test_failed_renewal_makes_it_past_due_until_the_invoice_is_paid(emulator, client, customer, price, webhooks):
    # Given an active subscription
    subscription = active_subscription(client, customer, price)

    # When its renewal charge is declined
    invoice = advance_subscription(emulator, subscription.id, fail=True)

    # Then the invoice stays open after one attempt, and the subscription is past due
    assert (invoice.status, invoice.attempt_count, invoice.amount_paid) == ("open", 1, 0)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "past_due"
    failed = webhooks.wait_for("invoice.payment_failed", invoice.id)
    assert failed.data.object.billing_reason == "subscription_cycle"
    past_due = webhooks.wait_for(
        "customer.subscription.updated", subscription.id, lambda e: e.data.object.status == "past_due"
    )
    assert past_due.data.previous_attributes.status == "active"

    # And when Stripe retries it with the saved card, it is paid and the subscription active again
    retried = pay_invoice(emulator, invoice.id)
    assert (retried.status, retried.attempt_count, retried.amount_paid) == ("paid", 2, 990)
    assert client.v1.subscriptions.retrieve(subscription.id).status == "active"
    assert webhooks.wait_for("invoice.paid", invoice.id).data.object.billing_reason == "subscription_cycle"
    back = webhooks.wait_for(
        "customer.subscription.updated",
        subscription.id,
        lambda e: e.data.previous_attributes.to_dict().get("status") == "past_due",
    )
    assert back.data.object.status == "active"


def test_invoices_pay_with_a_declined_card_is_a_card_error(emulator, client, customer, price, webhooks) -> None:
    # Given a past-due subscription with an open renewal invoice
    subscription = active_subscription(client, customer, price)
    invoice = advance_subscription(emulator, subscription.id, fail=True)

    # When the API pays it with a declined card, then with a good one
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_chargeCustomerFail"})
    still_open = client.v1.invoices.retrieve(invoice.id)
    paid = client.v1.invoices.pay(invoice.id, {"payment_method": "pm_card_visa"})

    # Then the decline left it open, and the good card paid it and became the subscription's card
    assert (still_open.status, still_open.attempt_count) == ("open", 2)
    assert (paid.status, paid.attempt_count) == ("paid", 3)
    renewed = client.v1.subscriptions.retrieve(subscription.id)
    assert renewed.status == "active"
    assert renewed.default_payment_method != subscription.default_payment_method
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.pay(invoice.id)  # already paid


# Cancellation ---------------------------------------------------------------------------------


def test_cancel_at_period_end_ends_it_when_the_period_ends(emulator, client, customer, price, webhooks) -> None:
    # Given an active subscription
    subscription = active_subscription(client, customer, price)
    period_end = subscription["items"].data[0].current_period_end

    # When it is set to cancel at period end, and that is undone and set again
    to_cancel = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    undone = client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": False})
    client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})

    # Then it stays active meanwhile, and each change is announced with what it was before
    assert (to_cancel.status, to_cancel.cancel_at_period_end, to_cancel.cancel_at) == ("active", True, period_end)
    assert to_cancel.cancellation_details.reason == "cancellation_requested"
    assert (undone.cancel_at_period_end, undone.cancel_at, undone.canceled_at) == (False, None, None)

    def previously(value: bool) -> Callable[[stripe.Event], bool]:
        return lambda e: e.data.previous_attributes.to_dict().get("cancel_at_period_end") is value

    set_event = webhooks.wait_for("customer.subscription.updated", subscription.id, previously(False))
    assert (set_event.data.object.cancel_at_period_end, set_event.data.object.cancel_at) == (True, period_end)
    assert set_event.data.previous_attributes.to_dict() == {
        "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"reason": None},
    }
    undo_event = webhooks.wait_for("customer.subscription.updated", subscription.id, previously(True))
    assert undo_event.data.object.cancel_at_period_end is False

    # And when the period ends it is canceled, without a new invoice
    ended = advance_subscription(emulator, subscription.id)
    assert (ended.object, ended.status, ended.ended_at) == ("subscription", "canceled", period_end)
    assert ended.canceled_at is not None
    assert ended.latest_invoice == subscription.latest_invoice
    deleted = webhooks.wait_for("customer.subscription.deleted", subscription.id)
    assert deleted.data.object.status == "canceled"
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"


def test_cancel_now(client, customer, price, webhooks) -> None:
    # Given an active subscription
    subscription = active_subscription(client, customer, price)

    # When it is canceled now
    canceled = client.v1.subscriptions.cancel(subscription.id, {}, {"idempotency_key": "rp_1:cancel"})

    # Then it is over, retrievable as such, and announced
    assert canceled.status == "canceled"
    assert canceled.canceled_at is not None and canceled.ended_at == canceled.canceled_at
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    assert webhooks.wait_for("customer.subscription.deleted", subscription.id).data.object.status == "canceled"

    # And as on Stripe, it cannot be canceled again nor set to cancel at period end
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.cancel(subscription.id)
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.subscriptions.update(subscription.id, {"cancel_at_period_end": True})
    assert raised.value.http_status == 400
    metadata_only = client.v1.subscriptions.update(subscription.id, {"metadata": {"note": "kept"}})
    assert metadata_only.metadata.to_dict() == {**METADATA, "note": "kept"}


def test_an_incomplete_subscription_does_not_renew(emulator, client, customer, price) -> None:
    # Given an incomplete subscription
    subscription = subscribe(client, customer, price)

    # When its period is advanced
    # Then that is refused: only active and past-due subscriptions renew
    with pytest.raises(stripe.InvalidRequestError) as raised:
        advance_subscription(emulator, subscription.id)
    assert raised.value.http_status == 400


# Our own code, end to end ----------------------------------------------------------------------


def test_our_stripe_gateway_runs_against_the_emulator(emulator, client, price, monkeypatch) -> None:
    # Given our Stripe adapter pointed at the emulator
    from payments.stripe import api as stripe_gateway
    from tests.support import reset_clients

    monkeypatch.setenv("STRIPE_API_BASE", emulator.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", emulator.api_key)
    reset_clients()
    try:
        # When it creates the customer and the subscription, and the client pays the first invoice
        customer_id = stripe_gateway.create_customer(idempotency_key="customer:user_9", user_id="user_9").id
        assert stripe_gateway.create_customer(idempotency_key="customer:user_9", user_id="user_9").id == customer_id
        state = stripe_gateway.create_subscription(
            idempotency_key="rp_9:create", customer_id=customer_id, price_id=price.id,
            metadata={"orderId": "ord_9", "recurringPaymentId": "rp_9", "userId": "user_9"})
        intent_id = state.client_secret.split("_secret_")[0]
        client.v1.payment_intents.confirm(intent_id, {"payment_method": "pm_card_visa"})
        active = stripe_gateway.retrieve_subscription(state.id)
        to_cancel = stripe_gateway.set_cancel_at_period_end(state.id, True, idempotency_key="rp_9:cancel-at-end")
        canceled = stripe_gateway.cancel_subscription(state.id, idempotency_key="rp_9:cancel")
    finally:
        reset_clients()

    # Then each answer reads as our code expects
    assert (state.status, state.customer_id) == ("incomplete", customer_id)
    assert state.metadata == {"orderId": "ord_9", "recurringPaymentId": "rp_9", "userId": "user_9"}
    assert state.current_period_end is not None
    assert (active.status, active.current_period_end) == ("active", state.current_period_end)
    assert (to_cancel.status, to_cancel.cancel_at_period_end) == ("active", True)
    assert canceled.status == "canceled"

"""The Stripe emulator (devstack.stripe_emulator): localstripe plus Prices, Checkout Sessions,
the parameters we use, idempotency keys, signed webhooks and customer search, run as a real process."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
import stripe

from devstack.stripe_emulator import StripeEmulator
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.emulator



def create_session(client: stripe.StripeClient, **overrides):
    params = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {"currency": "eur", "unit_amount": 1250, "product_data": {"name": "Mug"}},
                "quantity": 2,
            }
        ],
        "success_url": "https://shop.test/ok?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.test/cancel",
        "metadata": {"order_id": "ord_1"},
        "payment_intent_data": {"metadata": {"order_id": "ord_1"}, "description": "Order ord_1"},
        **overrides,
    }
    return client.v1.checkout.sessions.create(params)


# Prices -------------------------------------------------------------------------------------


def test_price_create_retrieve_and_list(client: stripe.StripeClient) -> None:
    # Given a one-time price created with an inline product
    price = client.v1.prices.create(
        {"currency": "EUR", "unit_amount": 1500, "product_data": {"name": "T-shirt"}, "lookup_key": "tee"}
    )

    # When it is retrieved and listed
    fetched = client.v1.prices.retrieve(price.id)
    listed = client.v1.prices.list({"lookup_keys": ["tee"]})

    # Then it has Stripe's shape and the product exists
    assert price.id.startswith("price_")
    assert fetched.to_dict() == price.to_dict()
    assert (fetched.object, fetched.type, fetched.recurring) == ("price", "one_time", None)
    assert (fetched.unit_amount, fetched.currency, fetched.active, fetched.livemode) == (
        1500,
        "eur",
        True,
        False,
    )
    assert client.v1.products.retrieve(fetched.product).name == "T-shirt"
    assert [p.id for p in listed.data] == [price.id]


def test_unknown_price_is_a_resource_missing_404(client: stripe.StripeClient) -> None:
    # Given no price
    # When an unknown id is retrieved
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.retrieve("price_unknown")

    # Then Stripe's error comes back
    assert raised.value.http_status == 404
    assert raised.value.code == "resource_missing"
    assert raised.value.param == "price"


def test_recurring_price_is_also_a_plan(client: stripe.StripeClient) -> None:
    # Given an existing product
    product = client.v1.products.create({"name": "Membership"})

    # When a monthly price is created for it
    price = client.v1.prices.create(
        {"currency": "eur", "unit_amount": 900, "product": product.id, "recurring": {"interval": "month"}}
    )

    # Then it is recurring, and localstripe's subscriptions can use it as a plan of the same id
    assert price.type == "recurring"
    assert price.recurring.to_dict() == {
        "interval": "month",
        "interval_count": 1,
        "usage_type": "licensed",
        "trial_period_days": None,
        "meter": None,
    }
    plan = client.v1.plans.retrieve(price.id)
    assert (plan.amount, plan.interval, plan.product) == (900, "month", product.id)
    assert [p.id for p in client.v1.prices.list({"type": "recurring"}).data] == [price.id]


# Parameters localstripe rejected --------------------------------------------------------------


def test_payment_intent_accepts_description_and_automatic_payment_methods(
    client: stripe.StripeClient,
) -> None:
    # Given nothing
    # When a PaymentIntent is created the way the backend does it
    intent = client.v1.payment_intents.create(
        {
            "amount": 2500,
            "currency": "eur",
            "description": "Order ord_1",
            "automatic_payment_methods": {"enabled": True},
            "receipt_email": "buyer@example.com",
            "statement_descriptor_suffix": "ORD1",
            "metadata": {"order_id": "ord_1"},
        }
    )

    # Then it is accepted and the description is echoed, also on retrieve
    assert intent.status == "requires_payment_method"
    assert intent.description == "Order ord_1"
    assert intent.automatic_payment_methods.enabled is True
    assert client.v1.payment_intents.retrieve(intent.id).description == "Order ord_1"


def test_refund_accepts_reason_and_metadata(client: stripe.StripeClient) -> None:
    # Given a paid PaymentIntent
    intent = client.v1.payment_intents.create(
        {"amount": 2500, "currency": "eur", "payment_method": "pm_card_visa", "confirm": True}
    )

    # When it is refunded with a reason
    refund = client.v1.refunds.create(
        {"payment_intent": intent.id, "reason": "requested_by_customer", "metadata": {"ticket": "T-1"}}
    )

    # Then the reason and metadata are stored
    assert (refund.reason, refund.metadata.to_dict(), refund.amount) == (
        "requested_by_customer",
        {"ticket": "T-1"},
        2500,
    )


# Idempotency keys ---------------------------------------------------------------------------


def test_same_idempotency_key_replays_the_response(client: stripe.StripeClient) -> None:
    # Given a PaymentIntent created with an idempotency key
    params = {"amount": 1000, "currency": "eur"}
    first = client.v1.payment_intents.create(params, {"idempotency_key": "order-1"})

    # When the same request is sent again with the same key, and once with another key
    replay = client.v1.payment_intents.create(params, {"idempotency_key": "order-1"})
    other = client.v1.payment_intents.create(params, {"idempotency_key": "order-2"})

    # Then the replay is the same object, marked as replayed; the other key made a new one
    assert replay.id == first.id
    assert replay.last_response.headers["Idempotent-Replayed"] == "true"
    assert other.id != first.id
    assert len(client.v1.payment_intents.list().data) == 2


def test_idempotency_key_with_other_parameters_is_an_error(client: stripe.StripeClient) -> None:
    # Given a request made with a key
    client.v1.payment_intents.create({"amount": 1000, "currency": "eur"}, {"idempotency_key": "order-1"})

    # When the key is reused with different parameters
    with pytest.raises(stripe.IdempotencyError):
        client.v1.payment_intents.create({"amount": 999, "currency": "eur"}, {"idempotency_key": "order-1"})

    # Then nothing new was created
    assert len(client.v1.payment_intents.list().data) == 1


def test_reset_forgets_idempotency_keys(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    # Given a request made with a key, then a data wipe
    first = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "cus-1"})
    emulator.reset()

    # When the same request is sent again
    again = client.v1.customers.create({"email": "a@example.com"}, {"idempotency_key": "cus-1"})

    # Then it runs again
    assert again.id != first.id


# Checkout Sessions --------------------------------------------------------------------------


def test_checkout_session_create(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    # Given a price
    price = client.v1.prices.create({"currency": "eur", "unit_amount": 1000, "product_data": {"name": "Pen"}})

    # When a session is created with a price and an inline price_data line
    session = create_session(
        client,
        line_items=[
            {"price": price.id, "quantity": 1},
            {
                "price_data": {"currency": "eur", "unit_amount": 250, "product_data": {"name": "Wrap"}},
                "quantity": 2,
            },
        ],
        client_reference_id="cart-9",
        customer_email="buyer@example.com",
    )

    # Then it is open and unpaid, totals the lines, and can be retrieved
    assert session.id.startswith("cs_test_")
    assert session.object == "checkout.session"
    assert (session.status, session.payment_status, session.payment_intent) == ("open", "unpaid", None)
    assert (session.amount_total, session.currency, session.mode) == (1500, "eur", "payment")
    assert session.url == f"{emulator.url}/checkout/{session.id}"
    assert session.expires_at > session.created
    assert client.v1.checkout.sessions.retrieve(session.id).to_dict() == session.to_dict()


def test_checkout_session_rejects_a_recurring_price(client: stripe.StripeClient) -> None:
    # Given a recurring price
    price = client.v1.prices.create(
        {
            "currency": "eur",
            "unit_amount": 900,
            "product_data": {"name": "Club"},
            "recurring": {"interval": "year"},
        }
    )

    # When it is used in a payment-mode session
    with pytest.raises(stripe.InvalidRequestError) as raised:
        create_session(client, line_items=[{"price": price.id, "quantity": 1}])

    # Then Stripe's 400 names the line item
    assert raised.value.http_status == 400
    assert raised.value.param == "line_items[0][price]"


def test_completing_a_checkout_session_pays_it(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    # Given an open session
    session = create_session(client)

    # When the customer pays
    emulator.complete_checkout_session(session.id)

    # Then the session is paid through a PaymentIntent carrying payment_intent_data
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    intent = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert intent.status == "succeeded"
    assert (intent.amount, intent.currency) == (2500, "eur")
    assert intent.metadata.to_dict() == {"order_id": "ord_1"}
    assert intent.description == "Order ord_1"


def test_declined_card_leaves_the_session_open(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    # Given an open session
    session = create_session(client)

    # When the customer pays with a card that is declined
    with pytest.raises(stripe.CardError) as raised:
        emulator.complete_checkout_session(session.id, payment_method="pm_card_chargeCustomerFail")

    # Then the card error comes back and the session is still open and unpaid
    assert (raised.value.http_status, raised.value.code) == (402, "card_declined")
    still_open = client.v1.checkout.sessions.retrieve(session.id)
    assert (still_open.status, still_open.payment_status, still_open.payment_intent) == (
        "open",
        "unpaid",
        None,
    )


def test_checkout_session_expire(client: stripe.StripeClient) -> None:
    # Given an open session
    session = create_session(client)

    # When it is expired
    expired = client.v1.checkout.sessions.expire(session.id)

    # Then it is expired and can no longer be expired again
    assert expired.status == "expired"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


def test_checkout_page_pays_and_redirects_to_success_url(client: stripe.StripeClient) -> None:
    # Given an open session and its hosted page, opened without any API key
    session = create_session(client)
    page = urllib.request.urlopen(session.url).read().decode()  # noqa: S310 - the emulator's http URL
    assert '<span id="total">2500 EUR</span>' in page

    # When the page's Pay button is pressed (the redirect is not followed)
    class KeepRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(KeepRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(urllib.request.Request(session.url, data=b"payment_method=pm_card_visa"))  # noqa: S310

    # Then the browser is sent to success_url with the session id filled in, and the session is paid
    assert redirect.value.code == 303
    assert redirect.value.headers["Location"] == f"https://shop.test/ok?session={session.id}"
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


# Customer search ----------------------------------------------------------------------------


def test_a_users_customer_is_found_by_its_metadata(client: stripe.StripeClient) -> None:
    # Given customers of two users, and one without metadata
    alice = client.v1.customers.create({"email": "alice@example.com", "metadata": {"userId": "alice"}})
    client.v1.customers.create({"email": "bob@example.com", "metadata": {"userId": "bob"}})
    client.v1.customers.create({"email": "carol@example.com"})

    # When the product looks up alice's customer before creating one
    found = client.v1.customers.search({"query": "metadata['userId']:'alice'"})

    # Then it gets Stripe's search result with alice's customer only
    assert (found.object, found.url, found.has_more, found.next_page) == (
        "search_result", "/v1/customers/search", False, None)
    assert [c.id for c in found.data] == [alice.id]
    assert found.data[0].metadata.to_dict() == {"userId": "alice"}


def test_search_takes_double_quotes_email_and_combined_clauses(client: stripe.StripeClient) -> None:
    # Given two customers of one user, with different emails
    old = client.v1.customers.create({"email": "ada@old.example", "metadata": {"userId": "ada"}})
    new = client.v1.customers.create({"email": "ada@new.example", "metadata": {"userId": "ada"}})

    # When searched by metadata in double quotes, by email, and by both
    def ids(query: str) -> list[str]:
        return [c.id for c in client.v1.customers.search({"query": query}).data]

    # Then the newest comes first, and each clause narrows (AND) or widens (OR) the result
    assert ids('metadata["userId"]:"ada"') == [new.id, old.id]
    assert ids("email:'ada@old.example'") == [old.id]
    assert ids("metadata['userId']:'ada' AND email:'ada@new.example'") == [new.id]
    assert ids("email:'ada@old.example' OR email:'ada@new.example'") == [new.id, old.id]
    assert ids("metadata['userId']:'nobody'") == []


def test_search_pages_through_results(client: stripe.StripeClient) -> None:
    # Given three customers of one user
    made = [client.v1.customers.create({"metadata": {"userId": "eve"}}).id for _ in range(3)]

    # When searched two at a time
    first = client.v1.customers.search({"query": "metadata['userId']:'eve'", "limit": 2})
    second = client.v1.customers.search({"query": "metadata['userId']:'eve'", "limit": 2, "page": first.next_page})

    # Then the pages follow each other, newest first, and the last says there is no more
    assert first.has_more and first.next_page
    assert (second.has_more, second.next_page) == (False, None)
    assert [c.id for c in first.data + second.data] == made[::-1]


@pytest.mark.parametrize("query", ["email~'alice'", "created>1700000000", "-metadata['userId']:'alice'",
                                   "metadata['userId']:alice", "email:'a' AND name:'b' OR phone:'c'", "plan:'x'"])
def test_a_query_the_emulator_cannot_answer_is_stripes_400(client: stripe.StripeClient, query: str) -> None:
    # When a search uses what the emulator leaves out
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.search({"query": query})
    # Then it is refused as Stripe refuses a bad query, naming the parameter
    assert (raised.value.http_status, raised.value.param) == (400, "query")
    assert raised.value.error.type == "invalid_request_error"


def test_customers_by_id_still_answer_beside_search(client: stripe.StripeClient) -> None:
    # Given a customer (``/v1/customers/{id}`` shares its prefix with ``/v1/customers/search``)
    customer = client.v1.customers.create({"email": "dan@example.com"})
    # Then it is still retrieved by id
    assert client.v1.customers.retrieve(customer.id).email == "dan@example.com"


# Webhooks -----------------------------------------------------------------------------------


def test_completed_checkout_sends_signed_webhooks(
    emulator: StripeEmulator, client: stripe.StripeClient, webhooks: WebhookReceiver
) -> None:
    # Given a webhook endpoint and an open session
    session = create_session(client)

    # When the customer pays
    emulator.complete_checkout_session(session.id)

    # Then both events arrive, and their signatures verify with the endpoint's secret
    completed = webhooks.wait_for("checkout.session.completed", session.id).data.object
    succeeded = webhooks.wait_for("payment_intent.succeeded", completed.payment_intent).data.object
    assert completed.payment_status == "paid"
    assert succeeded.status == "succeeded"
    assert succeeded.metadata.to_dict() == {"order_id": "ord_1"}


def test_expired_checkout_sends_a_signed_webhook(client: stripe.StripeClient, webhooks: WebhookReceiver):
    # Given a webhook endpoint and an open session
    session = create_session(client)

    # When the session is expired
    client.v1.checkout.sessions.expire(session.id)

    # Then checkout.session.expired arrives, signed
    expired = webhooks.wait_for("checkout.session.expired", session.id).data.object
    assert expired.status == "expired"


def test_price_created_event_is_listed(client: stripe.StripeClient) -> None:
    # Given nothing
    # When a price is created
    price = client.v1.prices.create({"currency": "eur", "unit_amount": 100, "product_data": {"name": "Pin"}})

    # Then a price.created event is in the event list, like localstripe's own events
    events = client.v1.events.list({"type": "price.created"}).data
    assert [e.data.object.id for e in events] == [price.id]

"""The emulator's side of Stripe.js: the extended stand-in script, and the calls it makes with the publishable
key (a card payment method; confirming or reading a PaymentIntent with its client secret) -- and no others."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.emulator

PK = "pk_test_local"


def call(emulator, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, dict]:
    data = urllib.parse.urlencode(form).encode() if form is not None and method == "POST" else None
    url = emulator.url + path + (f"?{urllib.parse.urlencode(form)}" if form and method == "GET" else "")
    try:
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (the emulator's http URL)
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def card(number: str) -> dict[str, str]:
    return {"key": PK, "type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034",
            "card[cvc]": "123"}


@pytest.fixture
def intent(stripe_env):
    return stripe_env.client().v1.payment_intents.create({"amount": 1999, "currency": "usd"})


def test_the_stand_in_script_carries_the_extension(stripe_env):
    with urllib.request.urlopen(f"{stripe_env.url}/js.stripe.com/v3/", timeout=10) as response:  # noqa: S310
        script = response.read().decode()
    assert "LOCALSTRIPE_BASE_API" in script  # localstripe's own stand-in first
    assert "stripe.confirmCardPayment = async function" in script and "createPaymentMethod" in script


def test_a_card_paid_with_the_publishable_key_and_client_secret_succeeds(stripe_env, intent):
    status, method = call(stripe_env, "POST", "/v1/payment_methods", card("4242424242424242"))
    assert status == 200 and method["card"]["last4"] == "4242"
    status, confirmed = call(stripe_env, "POST", f"/v1/payment_intents/{intent.id}/confirm",
                             {"key": PK, "client_secret": intent.client_secret, "payment_method": method["id"]})
    assert (status, confirmed["status"]) == (200, "succeeded")
    status, read = call(stripe_env, "GET", f"/v1/payment_intents/{intent.id}",
                        {"key": PK, "client_secret": intent.client_secret})
    assert (status, read["status"]) == (200, "succeeded")


def test_a_decline_answers_stripes_card_error_with_the_intent(stripe_env, intent):
    _, method = call(stripe_env, "POST", "/v1/payment_methods", card("4000000000000341"))
    status, answer = call(stripe_env, "POST", f"/v1/payment_intents/{intent.id}/confirm",
                          {"key": PK, "client_secret": intent.client_secret, "payment_method": method["id"]})
    error = answer["error"]
    assert (status, error["type"], error["code"]) == (402, "card_error", "card_declined")
    assert error["payment_intent"]["id"] == intent.id
    assert error["payment_intent"]["status"] == "requires_payment_method"


def test_a_3d_secure_card_needs_the_challenge_and_a_failed_one_is_reported(stripe_env, intent):
    _, method = call(stripe_env, "POST", "/v1/payment_methods", card("4000002500003155"))
    status, confirmed = call(stripe_env, "POST", f"/v1/payment_intents/{intent.id}/confirm",
                             {"key": PK, "client_secret": intent.client_secret, "payment_method": method["id"]})
    assert (status, confirmed["status"]) == (200, "requires_action")
    status, failed = call(stripe_env, "POST", f"/v1/payment_intents/{intent.id}/_authenticate?success=false",
                          {"key": PK, "client_secret": intent.client_secret})
    assert (status, failed["status"]) == (200, "requires_payment_method")
    events = stripe_env.client().v1.events.list({"type": "payment_intent.payment_failed"}).data
    assert any(event.data.object.id == intent.id for event in events)


@pytest.mark.parametrize(("method", "path", "form"), [
    ("POST", "/v1/payment_intents/{id}/confirm", {"key": PK, "client_secret": "pi_x_secret_wrong",
                                                  "payment_method": "pm_card_visa"}),
    ("POST", "/v1/payment_intents/{id}/confirm", {"key": PK, "payment_method": "pm_card_visa"}),
    ("GET", "/v1/payment_intents/{id}", {"key": PK}),
    ("POST", "/v1/payment_intents/{id}/capture", {"key": PK, "client_secret": "{secret}"}),
    ("POST", "/v1/refunds", {"key": PK, "payment_intent": "{id}"}),
    ("GET", "/v1/customers", {"key": PK}),
])
def test_the_publishable_key_cannot_do_more_than_stripe_js_may(stripe_env, intent, method, path, form):
    form = {k: v.format(id=intent.id, secret=intent.client_secret) for k, v in form.items()}
    status, answer = call(stripe_env, method, path.format(id=intent.id), form)
    assert status == 401, answer
    assert stripe_env.client().v1.payment_intents.retrieve(intent.id).status == "requires_payment_method"

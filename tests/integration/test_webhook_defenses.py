"""What a signed event cannot do: change a record it is not linked to, move state by a label, come from the other
mode or another account, or turn a strange payload into a 500.

Every case is delivered through the real callback handlers, signed the way Stripe signs, and checked on the
records and the answer. Each class here is one the independent scenario suite found open before this design.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from devstack.lambda_events import function_url_event, signed_webhook_event
from devstack.stripe_events import encode_event, sign_payload, stripe_event, stripe_object
from payments.data import store
from payments.data.models import RefundRecord
from tests.support.invoke import invoke
from tests.support.records import INTENT_ID, given_order_with_payment, ledger_entries, metadata, reload
from tests.support.subscriptions import given_started_subscription, invoice_event, subscription_event

SECRETS = {"payment": "whsec_local_payment", "refund": "whsec_local_refund",
           "subscription": "whsec_local_subscription", "renewal": "whsec_local_renewal"}


@pytest.fixture
def callbacks(payment_callback_handler, refund_callback_handler, subscription_callback_handler,
              renewal_callback_handler):
    return {"payment": payment_callback_handler, "refund": refund_callback_handler,
            "subscription": subscription_callback_handler, "renewal": renewal_callback_handler}


def deliver(callbacks, endpoint, event):
    return invoke(callbacks[endpoint], signed_webhook_event(event, SECRETS[endpoint]))


def given_paid_order():
    order, payment = given_order_with_payment()
    payment.status, payment.amount_received, payment.currency_received = "succeeded", 1999, "usd"
    order.status, order.paid_by_payment_id, order.open_payment_id = "paid", payment.payment_id, None
    store.Transaction().save(payment).save(order).commit()
    return reload(order), reload(payment)


# --- links, not labels -----------------------------------------------------------------------------------------


def test_a_session_we_never_created_does_not_attach_to_a_paid_payment(aws, callbacks):
    order, payment = given_paid_order()
    foreign = stripe_object("checkout.session", id="cs_test_someone_elses", status="complete", payment_status="paid",
                            amount_total=1999, currency="usd", payment_intent="pi_3QFOREIGN0000000000001",
                            metadata=metadata(order, payment))
    answer = deliver(callbacks, "payment", stripe_event("checkout.session.completed", foreign))
    assert answer.body["result"] == "ignored"
    after = reload(payment)
    assert (after.stripe_checkout_session_id, after.stripe_payment_intent_id) == (None, INTENT_ID)
    assert ledger_entries() == []


def test_a_refund_of_another_charge_records_nothing_and_leaves_the_order_paid(aws, callbacks):
    order, payment = given_paid_order()
    for event_type in ("refund.created", "refund.updated"):
        foreign = stripe_object("refund", id="re_3QFOREIGN0000000001", status="succeeded", amount=500, currency="usd",
                                payment_intent="pi_3QFOREIGN0000000000001",
                                metadata={"paymentId": payment.payment_id, "orderId": order.order_id})
        assert deliver(callbacks, "refund", stripe_event(event_type, foreign)).body["result"] == "ignored"
    charge = stripe_object("charge", id="ch_3QFOREIGN", payment_intent="pi_3QFOREIGN0000000000001",
                           refunds={"object": "list", "has_more": False, "data": [foreign]})
    assert deliver(callbacks, "refund", stripe_event("charge.refunded", charge)).body["result"] == "ignored"
    assert reload(order).status == "paid" and reload(order).refund_ids == []
    assert reload(payment).amount_refunded == 0
    assert store.get(RefundRecord, "ref_re_3QFOREIGN0000000001") is None


def test_an_intent_we_never_created_does_not_pay_an_order_named_in_its_metadata(aws, callbacks):
    order, payment = given_order_with_payment()
    foreign = stripe_object("payment_intent", id="pi_3QFOREIGN0000000000001", status="succeeded", amount=1999,
                            amount_received=1999, currency="usd", metadata=metadata(order, payment))
    assert deliver(callbacks, "payment", stripe_event("payment_intent.succeeded", foreign)).body["result"] == "ignored"
    assert (reload(order).status, reload(payment).status) == ("pending", "pending")


def test_a_subscription_we_never_created_does_not_move_ours(aws, callbacks):
    order, record = given_started_subscription()
    event = subscription_event("customer.subscription.updated", order, record, status="canceled", created=2_000_000_000)
    event["data"]["object"]["id"] = "sub_someone_elses"
    assert deliver(callbacks, "subscription", event).body["result"] == "ignored"
    assert reload(record).status == "incomplete"


def test_an_invoice_of_a_subscription_we_never_created_does_not_pay_our_order(aws, callbacks):
    order, record = given_started_subscription()
    event = invoice_event("invoice.paid", order, record, reason="subscription_create")
    event["data"]["object"]["parent"]["subscription_details"]["subscription"] = "sub_someone_elses"
    assert deliver(callbacks, "renewal", event).body["result"] == "ignored"
    assert reload(order).status == "pending"


# --- the other mode, another account ----------------------------------------------------------------------------


def test_a_live_event_on_a_test_deployment_is_ignored(aws, callbacks):
    order, payment = given_order_with_payment()
    intent = stripe_object("payment_intent", id=INTENT_ID, status="succeeded", amount=1999, amount_received=1999,
                           currency="usd", metadata=metadata(order, payment))
    event = stripe_event("payment_intent.succeeded", intent)
    event["livemode"] = True
    assert deliver(callbacks, "payment", event).body["result"] == "ignored"
    assert reload(order).status == "pending"
    event["livemode"], event["account"] = False, "acct_1QSOMEONEELSE"
    event["id"] = event["id"] + "x"
    assert deliver(callbacks, "payment", event).body["result"] == "ignored"
    assert reload(order).status == "pending"
    del event["account"]
    event["id"] = event["id"] + "y"
    assert deliver(callbacks, "payment", event).body["result"] == "processed"  # the same event, ours: applied


# --- signed payloads of any shape: 200 or 400, never 500 ----------------------------------------------------------


def _shapes(event_type: str, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Variations of a real event: an empty object, and every top-level field of the object set to values of
    the wrong kind."""
    cases = [stripe_event(event_type, {})]
    for field_name in obj:
        for odd in (None, 7, "x", [], {}, True, "\u0000", -1, 10**20, {"id": 5}):
            broken = copy.deepcopy(obj)
            broken[field_name] = odd
            cases.append(stripe_event(event_type, broken))
    return cases


def _real_objects(order, payment, record) -> list[tuple[str, str, dict[str, Any]]]:
    md = metadata(order, payment)
    return [
        ("payment", "payment_intent.succeeded", stripe_object("payment_intent", id=INTENT_ID, metadata=md)),
        ("payment", "checkout.session.completed", stripe_object("checkout.session", metadata=md)),
        ("refund", "refund.updated", stripe_object("refund", payment_intent=INTENT_ID,
                                                   metadata={"paymentId": payment.payment_id,
                                                             "orderId": order.order_id})),
        ("refund", "charge.refunded", stripe_object("charge", payment_intent=INTENT_ID)),
        ("subscription", "customer.subscription.updated",
         subscription_event("customer.subscription.updated", order, record, status="active",
                            created=1)["data"]["object"]),
        ("renewal", "invoice.paid", invoice_event("invoice.paid", order, record,
                                                  reason="subscription_cycle")["data"]["object"]),
    ]


def test_no_signed_payload_of_any_shape_is_a_500(aws, callbacks, stripe_env):
    order, payment = given_paid_order()
    _, record = given_started_subscription()
    answers = []
    for endpoint, event_type, obj in _real_objects(order, payment, record):
        for event in _shapes(event_type, obj):
            answer = deliver(callbacks, endpoint, event)
            answers.append((endpoint, event_type, answer.status))
            assert answer.status in (200, 400), (endpoint, event_type, answer.status, answer.body,
                                                 json.dumps(event["data"]["object"])[:300])
    assert len(answers) > 300


@pytest.mark.parametrize("mutate", [
    lambda e: e.update(id="evt_\ud800"),
    lambda e: e["data"]["object"].update(description="\ud800"),
    lambda e: e["data"]["object"].update(metadata={"orderId": "\udfff", "paymentId": "pay_x"}),
    lambda e: e.update(created="1"),
    lambda e: e.update(livemode="false"),
    lambda e: e.update(account=5),
    lambda e: e.update(data=[]),
    lambda e: e.update(type=None),
], ids=["surrogate-id", "surrogate-text", "surrogate-metadata", "created-text", "livemode-text", "account-number",
        "data-list", "type-null"])
def test_bad_text_or_envelope_in_a_signed_event_is_400_and_writes_nothing(aws, callbacks, mutate):
    order, payment = given_order_with_payment()
    event = stripe_event("payment_intent.succeeded", stripe_object("payment_intent", id=INTENT_ID,
                                                                   metadata=metadata(order, payment)))
    mutate(event)
    raw = json.dumps(event).encode()  # json.dumps escapes a lone surrogate as \ud800, as a sender could
    answer = invoke(callbacks["payment"], function_url_event(raw, headers={
        "stripe-signature": sign_payload(raw, SECRETS["payment"])}))
    assert answer.status in (200, 400), answer.body
    assert answer.status == 400 or answer.body["result"] == "ignored"
    assert ledger_entries() == [] and reload(payment).status == "pending"


# --- a rotated signing secret takes effect without new containers -------------------------------------------------


@pytest.fixture
def signing_secret(aws, monkeypatch):
    """The payment callback's signing secret in Secrets Manager, as deployed (set it with ``put(value)``), read
    again at most every 0 s instead of 60 s."""
    from payments.core import config
    from tests.support import reset_clients

    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    arn = secrets.create_secret(Name="payment-hook", SecretString='{"signingSecret": ""}')["ARN"]
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET_ARN", arn)
    monkeypatch.setattr(config, "SECRET_REFRESH_SECONDS", 0)
    reset_clients()

    def put(value: str) -> None:
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"signingSecret": value}))

    return put


def test_a_rotated_signing_secret_is_read_again_once_before_a_400(callbacks, signing_secret):
    signing_secret("whsec_before")
    order, payment = given_order_with_payment()
    intent = stripe_object("payment_intent", id=INTENT_ID, status="succeeded", amount=1999, amount_received=1999,
                           currency="usd", metadata=metadata(order, payment))
    first = stripe_event("payment_intent.payment_failed", {**intent, "status": "requires_payment_method"})
    assert invoke(callbacks["payment"], signed_webhook_event(first, "whsec_before")).status == 200
    # When the endpoint's secret is rotated at Stripe and in Secrets Manager
    signing_secret("whsec_after")
    raw = encode_event(stripe_event("payment_intent.succeeded", intent))
    signed = function_url_event(raw, headers={"stripe-signature": sign_payload(raw, "whsec_after")})
    # Then the first delivery signed with the new secret is applied, by a container that cached the old one
    assert invoke(callbacks["payment"], signed).body["result"] == "processed"
    assert reload(order).status == "paid"
    # And a signature neither secret made is still a 400
    forged = function_url_event(raw, headers={"stripe-signature": sign_payload(raw, "whsec_forged")})
    assert invoke(callbacks["payment"], forged).status == 400


def test_a_signing_secret_filled_in_after_the_first_delivery_takes_effect(callbacks, signing_secret):
    """The stack creates each signing secret empty; a delivery before the operator fills it in is a 500 (Stripe
    retries), and the container that read the empty one picks up the real one on the next delivery."""
    order, payment = given_order_with_payment()
    intent = stripe_object("payment_intent", id=INTENT_ID, status="succeeded", amount=1999, amount_received=1999,
                           currency="usd", metadata=metadata(order, payment))
    event = stripe_event("payment_intent.succeeded", intent)
    early = invoke(callbacks["payment"], signed_webhook_event(event, "whsec_filled_in"))
    assert (early.status, early.error_code) == (500, "configuration_error")
    signing_secret("whsec_filled_in")
    assert invoke(callbacks["payment"], signed_webhook_event(event, "whsec_filled_in")).body["result"] == "processed"

"""The payment callback: verified first, applied exactly once, forward only, amounts cross-checked."""

from __future__ import annotations

import json
import time

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from devstack.lambda_events import function_url_event, load_event, resign_event, signed_webhook_event
from devstack.stripe_events import encode_event, sign_payload, stripe_event, stripe_object
from payments.data import store
from payments.data.models import OrderRecord, PaymentRecord
from tests.support.calls import SerializedRequests
from tests.support.invoke import invoke
from tests.support.races import race
from tests.support.records import given_order_with_payment, ledger_entries, metadata, reload

SECRET = "whsec_local_payment"


def intent_event(event_type, order, payment, *, amount=None, currency=None, created=None, **fields):
    intent = stripe_object(
        "payment_intent", id=payment.stripe_payment_intent_id or "pi_3QTEST000000000000000001",
        amount=order.amount if amount is None else amount, currency=currency or order.currency,
        amount_received=(order.amount if amount is None else amount) if event_type.endswith("succeeded") else 0,
        status={"payment_intent.succeeded": "succeeded", "payment_intent.canceled": "canceled"}.get(
            event_type, "requires_payment_method"),
        metadata=metadata(order, payment), **fields)
    return stripe_event(event_type, intent, created=created)


def session_event(event_type, order, payment, *, payment_status="paid", created=None):
    session = stripe_object("checkout.session", id="cs_test_a1", amount_total=order.amount, currency=order.currency,
                            payment_status=payment_status, payment_intent="pi_3QTEST000000000000000002",
                            status="expired" if event_type.endswith("expired") else "complete",
                            metadata=metadata(order, payment))
    return stripe_event(event_type, session, created=created)


def deliver(handler, event, *, secret=SECRET, **kwargs):
    return invoke(handler, signed_webhook_event(event, secret, **kwargs))


# --- the signature comes first ---------------------------------------------------------------------------


@pytest.fixture
def paid_event(aws):
    order, payment = given_order_with_payment()
    return order, payment, intent_event("payment_intent.succeeded", order, payment)


def assert_nothing_written(order, payment):
    assert ledger_entries() == []
    assert reload(payment).status == "pending"
    assert reload(order).status == "pending"


def test_a_wrong_secret_is_rejected_and_nothing_is_written(payment_callback_handler, paid_event):
    # Given a real event signed with a secret that is not this endpoint's
    order, payment, event = paid_event
    # When it is delivered
    answer = deliver(payment_callback_handler, event, secret="whsec_someone_else")
    # Then it is a 400 with the error JSON, and nothing changed
    assert answer.status == 400 and answer.error_code == "invalid_signature"
    assert_nothing_written(order, payment)


def test_another_callbacks_secret_is_rejected(payment_callback_handler, paid_event):
    order, payment, event = paid_event
    answer = deliver(payment_callback_handler, event, secret="whsec_local_refund")
    assert answer.status == 400 and answer.error_code == "invalid_signature"
    assert_nothing_written(order, payment)


def test_a_tampered_body_is_rejected(payment_callback_handler, paid_event):
    # Given a correctly signed delivery whose body is changed afterwards (the amount lowered)
    order, payment, event = paid_event
    delivery = signed_webhook_event(event, SECRET)
    delivery["body"] = delivery["body"].replace('"amount_received":1999', '"amount_received":1')
    assert '"amount_received":1' in delivery["body"]
    # When it is delivered, Then it is rejected
    answer = invoke(payment_callback_handler, delivery)
    assert answer.status == 400 and answer.error_code == "invalid_signature"
    assert_nothing_written(order, payment)


def test_a_stale_timestamp_is_rejected(payment_callback_handler, paid_event):
    order, payment, event = paid_event
    answer = deliver(payment_callback_handler, event, timestamp=int(time.time()) - 301)
    assert answer.status == 400 and answer.error_code == "invalid_signature"
    assert_nothing_written(order, payment)


def test_a_missing_signature_header_is_rejected(payment_callback_handler, paid_event):
    order, payment, event = paid_event
    answer = invoke(payment_callback_handler, function_url_event(encode_event(event)))
    assert answer.status == 400 and answer.error_code == "missing_signature"
    assert_nothing_written(order, payment)


@pytest.mark.parametrize("body", [b"not json at all", b'{"object": "list", "data": []}', b"[1, 2]"])
def test_a_signed_body_that_is_not_a_stripe_event_is_rejected(payment_callback_handler, paid_event, body):
    order, payment, _ = paid_event
    delivery = function_url_event(body, headers={"stripe-signature": sign_payload(body, SECRET)})
    answer = invoke(payment_callback_handler, delivery)
    assert answer.status == 400 and answer.error_code == "malformed_event"
    assert_nothing_written(order, payment)


def test_a_base64_body_with_a_good_signature_is_accepted(payment_callback_handler, paid_event):
    order, _, event = paid_event
    answer = deliver(payment_callback_handler, event, base64=True)
    assert answer.status == 200 and answer.body == {"received": True, "result": "processed"}
    assert reload(order).status == "paid"


def test_a_mixed_case_signature_header_is_accepted(payment_callback_handler, paid_event):
    _, _, event = paid_event
    raw = encode_event(event)
    delivery = function_url_event(raw)
    delivery["headers"]["Stripe-Signature"] = sign_payload(raw, SECRET)
    assert invoke(payment_callback_handler, delivery).body["result"] == "processed"


def test_the_sample_event_from_events_folder_is_applied(aws, payment_callback_handler):
    # Given the records the sample event names (as a checkout would have written them)
    sample = load_event("events/payment_callback/payment_intent_succeeded.json")
    stripe_payload = json.loads(sample["body"])
    md = stripe_payload["data"]["object"]["metadata"]
    given_order_with_payment(amount=stripe_payload["data"]["object"]["amount"], order_id=md["orderId"],
                             payment_id=md["paymentId"], intent_id=stripe_payload["data"]["object"]["id"])
    # When the sample is delivered (re-signed now: its stored signature is stale by design)
    stale = invoke(payment_callback_handler, sample)
    answer = invoke(payment_callback_handler, resign_event(sample, SECRET))
    # Then the stale copy was refused and the fresh one paid the order
    assert stale.status == 400
    assert answer.body["result"] == "processed"
    assert store.get(OrderRecord, md["orderId"]).status == "paid"


# --- exactly once ----------------------------------------------------------------------------------------


def test_the_same_event_twice_is_applied_once_in_two_then_one_dynamodb_calls(
        aws, payment_callback_handler, ddb_calls):
    # Given a pending order with an open payment, and its payment_intent.succeeded event
    order, payment = given_order_with_payment()
    event = intent_event("payment_intent.succeeded", order, payment)
    # When the event is delivered, then delivered again
    ddb_calls.reset()
    first = deliver(payment_callback_handler, event)
    first_calls = list(ddb_calls.operations)
    ddb_calls.reset()
    second = deliver(payment_callback_handler, event)
    # Then it is processed once, recognised as a duplicate once, in 2 and 1 DynamoDB calls, no Scan
    assert first.body["result"] == "processed" and second.body["result"] == "duplicate"
    assert first_calls == ["TransactGetItems", "TransactWriteItems"]
    assert ddb_calls.operations == ["TransactGetItems"]
    assert [e.event_id for e in ledger_entries()] == [event["id"]]
    paid = reload(order)
    assert paid.status == "paid" and paid.paid_by_payment_id == payment.payment_id and paid.open_payment_id is None
    assert reload(payment).status == "succeeded" and reload(payment).amount_received == 1999


def test_sixteen_concurrent_deliveries_of_one_event_apply_it_once(aws, payment_callback_handler):
    # Given one fresh event, and DynamoDB's one-request-at-a-time atomicity
    order, payment = given_order_with_payment()
    event = intent_event("payment_intent.succeeded", order, payment)
    deliveries = [signed_webhook_event(event, SECRET) for _ in range(16)]
    # When 16 threads deliver it at the same instant
    with SerializedRequests():
        answers = race(16, lambda i: invoke(payment_callback_handler, deliveries[i]))
    # Then all answer 200, exactly one processed it, and its effect is there once
    assert [a.status for a in answers] == [200] * 16
    results = sorted(a.body["result"] for a in answers)
    assert results == ["duplicate"] * 15 + ["processed"]
    assert len(ledger_entries()) == 1
    assert reload(order).status == "paid"
    assert reload(payment).version == payment.version + 1  # one write to the payment, not sixteen


def test_two_different_events_racing_on_one_payment_both_land_in_order(aws, payment_callback_handler):
    # Given a failure and a later success for the same payment delivered at the same time
    order, payment = given_order_with_payment()
    now = int(time.time())
    failed = intent_event("payment_intent.payment_failed", order, payment, created=now - 5,
                          last_payment_error={"code": "card_declined", "decline_code": "generic_decline",
                                              "message": "Your card was declined."})
    succeeded = intent_event("payment_intent.succeeded", order, payment, created=now)
    deliveries = [signed_webhook_event(failed, SECRET), signed_webhook_event(succeeded, SECRET)]
    with SerializedRequests():
        answers = race(2, lambda i: invoke(payment_callback_handler, deliveries[i]))
    # Then whatever the interleaving, the payment ends succeeded and the order paid
    assert all(a.status == 200 for a in answers)
    assert reload(payment).status == "succeeded"
    assert reload(order).status == "paid"


# --- forward only ----------------------------------------------------------------------------------------


def test_an_older_payment_failed_after_the_success_changes_nothing(aws, payment_callback_handler):
    order, payment = given_order_with_payment()
    now = int(time.time())
    deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, payment, created=now))
    # When the failure that happened before it arrives late
    late = deliver(payment_callback_handler,
                   intent_event("payment_intent.payment_failed", order, payment, created=now - 30,
                                last_payment_error={"code": "card_declined", "message": "declined"}))
    # Then it is ignored and nothing moved back
    assert late.body["result"] == "ignored"
    assert reload(payment).status == "succeeded" and reload(payment).failure_code is None
    assert reload(order).status == "paid"


def test_a_decline_leaves_the_order_pending_and_a_later_success_pays_it(aws, payment_callback_handler):
    order, payment = given_order_with_payment()
    declined = deliver(payment_callback_handler, intent_event(
        "payment_intent.payment_failed", order, payment,
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds", "message": "No funds."}))
    assert declined.body["result"] == "processed"
    assert reload(payment).status == "failed" and reload(payment).failure_code == "insufficient_funds"
    assert reload(order).status == "pending"
    # When the customer retries on the same PaymentIntent and it succeeds
    paid = deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, payment))
    assert paid.body["result"] == "processed"
    assert reload(payment).status == "succeeded" and reload(order).status == "paid"


def test_a_cancel_after_success_changes_nothing(aws, payment_callback_handler):
    order, payment = given_order_with_payment()
    deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, payment))
    answer = deliver(payment_callback_handler, intent_event("payment_intent.canceled", order, payment))
    assert answer.body["result"] == "ignored"
    assert reload(payment).status == "succeeded" and reload(order).status == "paid"


# --- the amount cross-check ------------------------------------------------------------------------------


@pytest.mark.parametrize(("amount", "currency"), [(999, "usd"), (1999, "eur")])
def test_a_payment_that_differs_from_its_order_leaves_it_amount_mismatch(
        aws, payment_callback_handler, amount, currency, caplog):
    order, payment = given_order_with_payment(amount=1999, currency="usd")
    answer = deliver(payment_callback_handler,
                     intent_event("payment_intent.succeeded", order, payment, amount=amount, currency=currency))
    assert answer.body["result"] == "processed"
    # Then the money arrived (payment succeeded) but the order is flagged, not paid
    assert reload(payment).status == "succeeded" and reload(payment).amount_received == amount
    assert reload(order).status == "amount_mismatch"


def test_a_second_payment_for_a_paid_order_is_recorded_not_lost(aws, payment_callback_handler):
    order, first = given_order_with_payment()
    deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, first))
    # Given a second payment record for the same order (an older attempt that also went through)
    second = PaymentRecord("pay_second", order_id=order.order_id, user_id=order.user_id, amount=1999,
                           currency="usd", mode="payment_intent", status="failed",
                           stripe_payment_intent_id="pi_second", created_at="2026-01-01T00:00:00.000Z",
                           updated_at="2026-01-01T00:00:00.000Z")
    store.Transaction().save(second).commit()
    answer = deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, second))
    assert answer.body["result"] == "processed"
    assert reload(second).status == "succeeded"
    assert reload(order).status == "paid" and reload(order).paid_by_payment_id == first.payment_id


# --- Checkout Session events -----------------------------------------------------------------------------


def test_a_completed_paid_session_pays_the_order(aws, payment_callback_handler):
    order, payment = given_order_with_payment(mode="checkout_session")
    answer = deliver(payment_callback_handler, session_event("checkout.session.completed", order, payment))
    assert answer.body["result"] == "processed"
    assert reload(payment).status == "succeeded"
    assert reload(payment).stripe_payment_intent_id == "pi_3QTEST000000000000000002"
    assert reload(order).status == "paid"


def test_an_async_session_pays_only_when_its_payment_succeeds(aws, payment_callback_handler):
    order, payment = given_order_with_payment(mode="checkout_session")
    completed = deliver(payment_callback_handler,
                        session_event("checkout.session.completed", order, payment, payment_status="unpaid"))
    # The session completed with the payment still under way: the order waits
    assert completed.body["result"] == "processed"  # the PaymentIntent id was recorded
    assert reload(payment).status == "pending" and reload(order).status == "pending"
    succeeded = deliver(payment_callback_handler,
                        session_event("checkout.session.async_payment_succeeded", order, payment))
    assert succeeded.body["result"] == "processed" and reload(order).status == "paid"


def test_an_async_payment_failure_fails_the_payment(aws, payment_callback_handler):
    order, payment = given_order_with_payment(mode="checkout_session")
    deliver(payment_callback_handler, session_event("checkout.session.async_payment_failed", order, payment,
                                                    payment_status="unpaid"))
    assert reload(payment).status == "failed" and reload(payment).failure_code == "async_payment_failed"
    assert reload(order).status == "pending"


def test_an_expired_session_cancels_the_payment_and_frees_the_order(aws, payment_callback_handler):
    order, payment = given_order_with_payment(mode="checkout_session")
    deliver(payment_callback_handler, session_event("checkout.session.expired", order, payment,
                                                    payment_status="unpaid"))
    assert reload(payment).status == "canceled"
    assert reload(order).status == "pending" and reload(order).open_payment_id is None


# --- what we do not handle -------------------------------------------------------------------------------


def test_an_event_type_this_endpoint_does_not_handle_is_ignored_without_touching_dynamodb(
        aws, payment_callback_handler, ddb_calls):
    event = stripe_event("customer.created", stripe_object("customer"))
    ddb_calls.reset()
    answer = deliver(payment_callback_handler, event)
    assert answer.status == 200 and answer.body == {"received": True, "result": "ignored"}
    assert ddb_calls.operations == []


def test_a_payment_intent_we_did_not_create_is_ignored(aws, payment_callback_handler):
    foreign = stripe_event("payment_intent.succeeded", stripe_object("payment_intent", metadata={}))
    unknown = stripe_event("payment_intent.succeeded", stripe_object(
        "payment_intent", metadata={"orderId": "ord_nope", "paymentId": "pay_nope", "userId": "u"}))
    assert deliver(payment_callback_handler, foreign).body["result"] == "ignored"
    assert deliver(payment_callback_handler, unknown).body["result"] == "ignored"
    assert ledger_entries() == []


# --- transient faults ------------------------------------------------------------------------------------


def test_dynamodb_throttling_answers_500_so_stripe_retries_and_the_retry_applies(
        aws, payment_callback_handler, monkeypatch):
    order, payment = given_order_with_payment()
    event = intent_event("payment_intent.succeeded", order, payment)
    original = BaseClient._make_api_call

    def throttled(client, operation, params):
        if operation == "TransactWriteItems":
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", throttled)
    answer = deliver(payment_callback_handler, event)
    assert answer.status == 500 and answer.error_code == "try_again"
    assert ledger_entries() == [] and reload(order).status == "pending"
    # When Stripe retries after the fault has passed
    monkeypatch.setattr(BaseClient, "_make_api_call", original)
    assert deliver(payment_callback_handler, event).body["result"] == "processed"
    assert reload(order).status == "paid"


def test_a_missing_webhook_secret_answers_500_without_reading_the_body(aws, payment_callback_handler, monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    from tests.support import reset_clients

    reset_clients()
    order, payment = given_order_with_payment()
    answer = deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, payment))
    assert answer.status == 500 and answer.error_code == "configuration_error"
    assert "whsec" not in json.dumps(answer.body)
    assert_nothing_written(order, payment)


def test_base64_flag_with_invalid_base64_is_rejected(payment_callback_handler, paid_event):
    order, payment, event = paid_event
    delivery = signed_webhook_event(event, SECRET, base64=True)
    delivery["body"] = "%%%" + delivery["body"]
    answer = invoke(payment_callback_handler, delivery)
    assert (answer.status, answer.error_code) == (400, "malformed_body")
    assert_nothing_written(order, payment)


def test_a_deeply_nested_signed_body_is_400(payment_callback_handler, paid_event):
    order, payment, _ = paid_event
    body = b"[" * 100_000
    answer = invoke(payment_callback_handler,
                    function_url_event(body, headers={"stripe-signature": sign_payload(body, SECRET)}))
    assert (answer.status, answer.error_code) == (400, "malformed_event")
    assert_nothing_written(order, payment)


def test_an_unexpected_fault_answers_500_never_an_exception(aws, payment_callback_handler, monkeypatch):
    from payments.checkout.events import PaymentIntentRule

    order, payment = given_order_with_payment()

    def broken(*args):
        raise RuntimeError("bug")

    monkeypatch.setattr(PaymentIntentRule, "decide", broken)
    answer = deliver(payment_callback_handler, intent_event("payment_intent.succeeded", order, payment))
    assert (answer.status, answer.error_code) == (500, "internal_error")
    assert ledger_entries() == []

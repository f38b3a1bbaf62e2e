"""The Stripe emulator's Connect, Billing Meters and customer deletion (devstack.stripe_emulator.connect, metering,
deletion), run as a real process: the calls the product makes, answered as Stripe does, with signed webhooks
routed to the right kind of endpoint."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import stripe

from devstack.stripe_emulator import (
    StripeEmulator,
    onboard_account,
    received_meter_events,
    trigger_meter_error_report,
)
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.emulator


@pytest.fixture
def connect_endpoint(emulator: StripeEmulator):
    receiver = WebhookReceiver("whsec_connect_tests")
    emulator.register_webhook("connect-tests", receiver.url, receiver.secret, connect=True)
    yield receiver
    receiver.close()


def express(client: stripe.StripeClient, seller: str = "sel_1"):
    """What the product sends (payments.stripe.api.create_express_account)."""
    return client.v1.accounts.create({"type": "express", "metadata": {"sellerId": seller}, "capabilities": {
        "card_payments": {"requested": True}, "transfers": {"requested": True}}})


def destination_charge(client: stripe.StripeClient, account_id: str, amount: int = 10_000, fee: int = 1_000):
    intent = client.v1.payment_intents.create({
        "amount": amount, "currency": "usd", "payment_method": "pm_card_visa",
        "transfer_data": {"destination": account_id}, "application_fee_amount": fee})
    return client.v1.payment_intents.confirm(intent.id)


# --- accounts and onboarding --------------------------------------------------------------------------------------


def test_a_new_express_account_waits_for_onboarding(client: stripe.StripeClient) -> None:
    account = express(client)
    assert account.id.startswith("acct_") and account.type == "express"
    assert (account.charges_enabled, account.payouts_enabled, account.details_submitted) == (False, False, False)
    assert account.requirements.disabled_reason == "requirements.past_due" and account.requirements.currently_due
    assert client.v1.accounts.retrieve(account.id).metadata.to_dict() == {"sellerId": "sel_1"}


def test_onboarding_through_the_hosted_page_enables_the_account_and_tells_only_connect_endpoints(
        emulator: StripeEmulator, client: stripe.StripeClient, connect_endpoint: WebhookReceiver,
        webhooks: WebhookReceiver) -> None:
    account = express(client)
    link = client.v1.account_links.create({"account": account.id, "refresh_url": "http://127.0.0.1:9/again",
                                           "return_url": "http://127.0.0.1:9/back", "type": "account_onboarding"})
    assert link.expires_at - link.created == 300 and link.url.startswith(emulator.url + "/connect/onboarding/")
    page = urllib.request.urlopen(link.url, timeout=10).read().decode()  # noqa: S310 (the emulator's http URL)
    assert account.id in page and 'id="complete"' in page

    # The seller completes the form: back to the platform's return_url
    opener = urllib.request.build_opener(_NoRedirect())
    form = urllib.parse.urlencode({"outcome": "complete"}).encode()
    request = urllib.request.Request(link.url, data=form)  # noqa: S310 (the emulator's http URL)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(request, timeout=10)
    assert (redirect.value.code, redirect.value.headers["Location"]) == (303, "http://127.0.0.1:9/back")
    # A used link leads to refresh_url
    with pytest.raises(urllib.error.HTTPError) as used:
        opener.open(link.url, timeout=10)
    assert used.value.headers["Location"] == "http://127.0.0.1:9/again"

    event = connect_endpoint.wait_for("account.updated", account.id)
    assert event.account == account.id
    assert (event.data.object.charges_enabled, event.data.object.payouts_enabled) == (True, True)
    assert event.data.previous_attributes.charges_enabled is False
    time.sleep(1.5)  # a platform endpoint never receives a connected account's event
    assert all(e.type != "account.updated" for e in webhooks.events())


def test_onboarding_can_leave_a_document_due(emulator: StripeEmulator, client: stripe.StripeClient) -> None:
    account = onboard_account(emulator, express(client).id, outcome="restricted")
    assert (account.details_submitted, account.charges_enabled) == (True, False)
    assert account.requirements.past_due == ["individual.verification.document"]


# --- destination charges ---------------------------------------------------------------------------------------------


def test_a_destination_charge_needs_an_onboarded_account(emulator: StripeEmulator,
                                                         client: stripe.StripeClient) -> None:
    account = express(client)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        destination_charge(client, account.id)
    assert refused.value.code == "insufficient_capabilities_for_transfer"
    with pytest.raises(stripe.InvalidRequestError):  # a fee without a destination
        client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "application_fee_amount": 100})


def test_a_destination_charge_transfers_the_share_and_refunds_reverse_in_proportion(
        emulator: StripeEmulator, client: stripe.StripeClient, webhooks: WebhookReceiver) -> None:
    account = onboard_account(emulator, express(client).id)
    intent = destination_charge(client, account.id)
    charge = client.v1.charges.retrieve(intent.latest_charge.id)
    transfer = client.v1.transfers.retrieve(charge.transfer)
    fee = client.v1.application_fees.retrieve(charge.application_fee)
    assert (transfer.amount, transfer.destination, transfer.source_transaction) == (9000, account.id, charge.id)
    assert (fee.amount, fee.account, charge.application_fee_amount) == (1000, account.id, 1000)
    succeeded = webhooks.wait_for("payment_intent.succeeded", intent.id).data.object
    assert succeeded.latest_charge.transfer == transfer.id  # the event carries the charge with its transfer

    # A third refunded: a third of the share and of the fee, rounded half up; the rest refunds the rest exactly
    first = client.v1.refunds.create({"payment_intent": intent.id, "amount": 3333, "reverse_transfer": True,
                                      "refund_application_fee": True})
    assert first.transfer_reversal.startswith("trr_")
    assert client.v1.transfers.retrieve(transfer.id).amount_reversed == 3000  # 3333 * 9000 / 10000 = 2999.7
    assert client.v1.application_fees.retrieve(fee.id).amount_refunded == 333
    client.v1.refunds.create({"payment_intent": intent.id, "reverse_transfer": True, "refund_application_fee": True})
    done = client.v1.transfers.retrieve(transfer.id)
    assert (done.amount_reversed, done.reversed, len(done.reversals.data)) == (9000, True, 2)
    assert client.v1.application_fees.retrieve(fee.id).refunded is True
    created = webhooks.wait_for("refund.created", first.id).data.object
    assert created.transfer_reversal == first.transfer_reversal


def test_a_checkout_session_passes_the_destination_to_its_payment(emulator: StripeEmulator,
                                                                  client: stripe.StripeClient) -> None:
    account = onboard_account(emulator, express(client).id)
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://shop.test/ok", "cancel_url": "https://shop.test/no",
        "line_items": [{"price_data": {"currency": "usd", "unit_amount": 5000, "product_data": {"name": "Art"}},
                        "quantity": 1}],
        "payment_intent_data": {"transfer_data": {"destination": account.id}, "application_fee_amount": 500}})
    paid = emulator.complete_checkout_session(session.id)
    intent = client.v1.payment_intents.retrieve(paid.payment_intent)
    assert (intent.transfer_data.destination, intent.application_fee_amount) == (account.id, 500)
    assert client.v1.transfers.list({"destination": account.id}).data[0].amount == 4500


# --- Billing Meters ---------------------------------------------------------------------------------------------------


@pytest.fixture
def meter(client: stripe.StripeClient):
    return client.v1.billing.meters.create({"display_name": "API calls", "event_name": "api_calls",
                                            "default_aggregation": {"formula": "sum"}})


def summary(client: stripe.StripeClient, meter, customer) -> float:
    now = int(time.time())
    return client.v1.billing.meters.event_summaries.list(
        meter.id, {"customer": customer.id, "start_time": now - 60, "end_time": now + 60}).data[0].aggregated_value


def test_a_meter_counts_one_identifier_once(emulator: StripeEmulator, client: stripe.StripeClient, meter) -> None:
    customer = client.v1.customers.create({})
    params = {"event_name": "api_calls", "identifier": "usage_1",
              "payload": {"stripe_customer_id": customer.id, "value": "5"}}
    first = client.v1.billing.meter_events.create(params)
    again = client.v1.billing.meter_events.create(params)  # another request (its own idempotency key)
    assert (first.identifier, again.identifier, again.created) == ("usage_1", "usage_1", first.created)
    client.v1.billing.meter_events.create({**params, "identifier": "usage_2"})
    assert summary(client, meter, customer) == 10
    assert [(e["identifier"], e["repeats"]) for e in received_meter_events(emulator)] == [("usage_1", 1),
                                                                                          ("usage_2", 0)]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meter_events.create({"event_name": "api_calls"})  # no payload: refused at once


def test_an_event_stripe_cannot_bill_is_answered_then_reported_by_a_thin_event(
        emulator: StripeEmulator, client: stripe.StripeClient, meter) -> None:
    thin = WebhookReceiver("whsec_thin_tests")
    emulator.register_webhook("thin-tests", thin.url, thin.secret, ["v1.billing.meter.error_report_triggered"],
                              thin=True)
    try:
        client.v1.billing.meter_events.create({"event_name": "api_calls", "identifier": "bad_1",
                                               "payload": {"stripe_customer_id": "cus_nobody", "value": "1"}})
        assert [e["error"] for e in received_meter_events(emulator)] == ["meter_event_customer_not_found"]
        report = trigger_meter_error_report(emulator, meter.id)
        deadline = time.monotonic() + 10
        while not thin.received and time.monotonic() < deadline:
            time.sleep(0.1)
        body, signature = thin.received[0]
        stripe.WebhookSignature.verify_header(body.decode(), signature, thin.secret)
        notification = json.loads(body)
        assert notification == {k: report[k] for k in ("id", "object", "type", "livemode", "created", "context",
                                                       "related_object", "reason")}
        assert notification["related_object"]["id"] == meter.id and "data" not in notification
        whole = client.v2.core.events.retrieve(report["id"])
        assert whole.data.reason.error_types[0].code == "meter_event_customer_not_found"
        assert whole.data.reason.error_types[0].sample_errors[0].request.identifier == "bad_1"
    finally:
        thin.close()


# --- deleting a customer -------------------------------------------------------------------------------------------


def test_deleting_a_customer_ends_its_subscriptions(emulator: StripeEmulator, client: stripe.StripeClient,
                                                    webhooks: WebhookReceiver) -> None:
    price = client.v1.prices.create({"currency": "usd", "unit_amount": 900, "product_data": {"name": "Club"},
                                     "recurring": {"interval": "month"}})
    customer = client.v1.customers.create({"email": "gone@example.com"})
    subscription = client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}],
                                                   "payment_behavior": "default_incomplete"})
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert client.v1.subscriptions.retrieve(subscription.id).status == "canceled"
    webhooks.wait_for("customer.subscription.deleted", subscription.id)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.delete(customer.id)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

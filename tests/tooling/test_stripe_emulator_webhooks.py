"""The emulator's events list and webhook endpoints, as Stripe serves them, and endpoints taken down on purpose
(``devstack/stripe_emulator/webhooks.py``)."""

from __future__ import annotations

import time

import pytest
import stripe

from tests.support.webhook_receiver import WebhookReceiver

PI_TYPES = ["payment_intent.succeeded", "payment_intent.payment_failed"]


def paid_intents(client, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        intent = client.v1.payment_intents.create({"amount": 1000, "currency": "usd", "payment_method": "pm_card_visa"})
        client.v1.payment_intents.confirm(intent.id)
        ids.append(intent.id)
    return ids


# --- listing events ----------------------------------------------------------------------------------------


def test_events_are_listed_newest_first_by_types_and_paged_with_starting_after(client):
    intents = paid_intents(client, 3)
    declined = client.v1.payment_intents.create({"amount": 1000, "currency": "usd",
                                                 "payment_method": "pm_card_chargeCustomerFail"})
    with pytest.raises(stripe.CardError):
        client.v1.payment_intents.confirm(declined.id)

    everything = client.v1.events.list({"types": PI_TYPES, "limit": 100}).data
    assert [e.data.object.id for e in everything] == [declined.id, *reversed(intents)]
    first = client.v1.events.list({"types": PI_TYPES, "limit": 2})
    second = client.v1.events.list({"types": PI_TYPES, "limit": 2, "starting_after": first.data[-1].id})
    assert first.has_more and not second.has_more
    assert [e.id for e in first.data + second.data] == [e.id for e in everything]
    newer = client.v1.events.list({"types": PI_TYPES, "limit": 2, "ending_before": second.data[0].id})
    assert [e.id for e in newer.data] == [e.id for e in first.data]
    only_failed = client.v1.events.list({"type": "payment_intent.payment_failed", "limit": 100}).data
    assert [e.data.object.id for e in only_failed] == [declined.id]


def test_events_are_filtered_by_created_with_every_comparison(client):
    paid_intents(client, 1)
    created = client.v1.events.list({"types": PI_TYPES}).data[0].created
    for comparison, expected in (({"gte": created}, 1), ({"gt": created}, 0), ({"lte": created}, 1),
                                 ({"lt": created}, 0), ({"gte": created - 60, "lt": created + 60}, 1)):
        assert len(client.v1.events.list({"types": PI_TYPES, "created": comparison}).data) == expected, comparison


def test_what_stripe_refuses_in_an_events_list_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError, match="at most 20"):
        client.v1.events.list({"types": [f"type.{i}" for i in range(21)]})
    with pytest.raises(stripe.InvalidRequestError, match="between 1 and 100"):
        client.v1.events.list({"limit": 101})
    with pytest.raises(stripe.InvalidRequestError, match="No such event"):
        client.v1.events.list({"starting_after": "evt_unknown"})


# --- webhook endpoints ------------------------------------------------------------------------------------


def test_an_endpoint_shows_its_secret_once_and_delivers_its_types_signed_with_it(client, emulator):
    receiver = WebhookReceiver("")
    try:
        created = client.v1.webhook_endpoints.create({
            "url": receiver.url, "enabled_events": ["payment_intent.succeeded"], "api_version": "2026-10-28.endive",
            "metadata": {"stack": "test"}})
        assert created.secret.startswith("whsec_") and created.status == "enabled"
        assert "secret" not in client.v1.webhook_endpoints.retrieve(created.id).to_dict()
        assert [e.id for e in client.v1.webhook_endpoints.list().data] == [created.id]
        receiver.secret = created.secret

        [intent] = paid_intents(client, 1)

        event = receiver.wait_for("payment_intent.succeeded", intent)  # verified with the endpoint's own secret
        assert event.type == "payment_intent.succeeded"
        updated = client.v1.webhook_endpoints.update(created.id, {"enabled_events": ["refund.created"]})
        assert list(updated.enabled_events) == ["refund.created"]
        with pytest.raises(stripe.InvalidRequestError, match="cannot be changed"):
            client.raw_request("post", f"/v1/webhook_endpoints/{created.id}", api_version="2025-03-31.basil")
        assert client.v1.webhook_endpoints.delete(created.id).deleted is True
        assert client.v1.webhook_endpoints.list().data == []
    finally:
        receiver.close()


def test_an_endpoint_that_is_down_loses_its_deliveries_until_it_is_up_and_an_event_can_be_sent_again(
        client, emulator):
    receiver = WebhookReceiver("")
    try:
        created = client.v1.webhook_endpoints.create({"url": receiver.url, "enabled_events": ["*"]})
        receiver.secret = created.secret
        emulator.webhook_down(created.id)
        [intent] = paid_intents(client, 1)
        event_id = client.v1.events.list({"type": "payment_intent.succeeded"}).data[0].id
        deadline = time.monotonic() + 20
        while not any(d["event"] == event_id for d in emulator.deliveries(created.id)):
            assert time.monotonic() < deadline, "the lost delivery was never recorded"
            time.sleep(0.1)
        assert [d["status"] for d in emulator.deliveries(created.id) if d["event"] == event_id] == ["down"]
        assert receiver.received == []

        emulator.webhook_up(created.id)
        [answer] = emulator.resend_event(event_id, created.id)

        assert answer["status"] == 200 and answer["event"] == event_id
        assert receiver.wait_for("payment_intent.succeeded", intent).id == event_id
    finally:
        receiver.close()


def test_down_for_some_seconds_comes_back_by_itself(client, emulator):
    created = client.v1.webhook_endpoints.create({"url": "http://127.0.0.1:9/x", "enabled_events": ["*"]})
    emulator.webhook_down(created.id, seconds=1)
    time.sleep(1.2)
    paid_intents(client, 1)
    event_id = client.v1.events.list({"type": "payment_intent.succeeded"}).data[0].id
    [answer] = emulator.resend_event(event_id, created.id)
    assert answer["status"] == "failed"  # tried (nothing listens there), not lost as down

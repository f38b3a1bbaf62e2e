"""The numbers: domain events counted once into sharded daily aggregates (MetricsAggregatorFunction), read back by
GET /admin/metrics (AdminFunction) in one Query.

The scripted day runs the product's real flows (API calls, the emulator's signed webhooks, the streams published
by EventPublisherFunction) and hands every published event to the aggregator as EventBridge would; the other tests
give it events built like the publisher's."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import yaml

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import load_event
from devstack.template import REPO_ROOT
from tests.integration.test_one_time_payment_e2e import confirm
from tests.support.api import ADMIN, ALICE, call, get_order
from tests.support.calls import SerializedRequests
from tests.support.events import PublishedEvents
from tests.support.invoke import invoke
from tests.support.races import race

TODAY = datetime.now(UTC).date()


def deliver(aggregator, event: dict[str, Any]) -> dict[str, str]:
    return aggregator.lambda_handler(event, LambdaContext(function_name="MetricsAggregatorFunction"))


def read(admin, currency="usd", first=None, last=None, **kwargs):
    query = {"from": (first or TODAY - timedelta(days=1)).isoformat(),
             "to": (last or TODAY + timedelta(days=1)).isoformat(), "currency": currency}
    return call(admin, "GET", "/admin/metrics", user=ADMIN, admin=True, query=query, **kwargs)


def numbers(admin, **kwargs) -> dict[str, Any]:
    answer = read(admin, **kwargs)
    assert answer.status == 200, answer.body
    return answer.body


def event(detail_type: str, **detail: Any) -> dict[str, Any]:
    """An EventBridge delivery of a domain event, as the publisher builds it (what the aggregator reads of it)."""
    base = {"eventId": str(uuid.uuid4()), "type": detail_type, "occurredAt": f"{TODAY.isoformat()}T10:00:00.000Z",
            "userId": ALICE, "previousStatus": None, "version": 1, "causedBy": None}
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "payments",
            "account": "123456789012", "time": base["occurredAt"], "region": "us-east-1", "resources": [],
            "detail": {**base, **detail}}


def payment_succeeded(amount=1999, currency="usd", **detail):
    return event("PaymentSucceeded", payment={"paymentId": "pay_1", "amount": amount, "currency": currency,
                                              "status": "succeeded"}, **detail)


def subscription_event(detail_type, status, version, *, amount=999, interval="month", price="price_pro",
                       order_price="price_pro", rid="sub_rec_1", **detail):
    order = {"orderId": "ord_s", "currency": "usd", "amount": amount, "kind": "subscription",
             "items": [{"priceId": order_price, "quantity": 1, "unitAmount": amount, "interval": interval,
                        "intervalCount": 1}]}
    return event(detail_type, version=version, order=order,
                 subscription={"recurringPaymentId": rid, "priceId": price, "status": status}, **detail)


@pytest.fixture(scope="module")
def metrics_schema():
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = yaml.safe_load((REPO_ROOT / "openapi.yaml").read_text())
    registry = Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": "urn:spec#/components/schemas/Metrics"}, registry=registry,
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


# --- a scripted day, end to end -------------------------------------------------------------------------------


def _until(live, check, what):
    assert live.wait_for(lambda _: check()), what


@pytest.mark.emulator
def test_a_scripted_day_adds_up_to_what_was_done_and_a_redelivered_batch_changes_nothing(
        live, stripe_env, catalog, monkeypatch, event_publisher_handler, orders_handler, checkout_handler,
        refund_handler, subscribe_handler, metrics_aggregator_handler, admin_handler, metrics_schema):
    published = PublishedEvents(event_publisher_handler, monkeypatch)
    shirt, pro = catalog.price(1999), catalog.price(999, name="Pro", interval="month")

    def order_of(price):
        return call(orders_handler, "POST", "/orders", body={"items": [{"priceId": price.id}]}).body

    def status(order_id):
        return get_order(orders_handler, order_id).body

    # A payment that succeeds
    first = order_of(shirt)
    paid = call(checkout_handler, "POST", "/checkout", body={"orderId": first["orderId"]}).body
    confirm(stripe_env, paid["clientSecret"], "pm_card_visa")
    _until(live, lambda: status(first["orderId"])["status"] == "paid", "the first order was never paid")
    # A declined card, then another card on the same order
    second = order_of(shirt)
    retried = call(checkout_handler, "POST", "/checkout", body={"orderId": second["orderId"]}).body
    confirm(stripe_env, retried["clientSecret"], "pm_card_chargeCustomerFail")
    _until(live, lambda: status(second["orderId"])["payments"][0]["status"] == "failed", "the decline never landed")
    confirm(stripe_env, retried["clientSecret"], "pm_card_visa")
    _until(live, lambda: status(second["orderId"])["status"] == "paid", "the second order was never paid")
    # A partial refund of the first
    refund = call(refund_handler, "POST", "/refunds", user=ADMIN, admin=True,
                  body={"paymentId": paid["paymentId"], "refundAmount": 500})
    assert refund.status == 202, refund.body
    _until(live, lambda: status(first["orderId"])["status"] == "partially_refunded", "the refund never landed")
    # A subscription, its first invoice paid
    member = order_of(pro)
    assert member["items"][0]["interval"] == "month" and member["items"][0]["intervalCount"] == 1
    started = call(subscribe_handler, "POST", "/subscriptions",
                   body={"orderId": member["orderId"], "priceId": pro.id}).body
    confirm(stripe_env, started["clientSecret"], "pm_card_visa")
    _until(live, lambda: status(member["orderId"])["status"] == "paid"
           and (status(member["orderId"])["subscription"] or {}).get("status") == "active", "never active")

    events = published.drain()
    counted = sorted(e["detail-type"] for e in events if deliver(metrics_aggregator_handler, e)["result"] == "counted")
    assert counted == ["OrderPaid"] * 3 + ["PaymentFailed"] + ["PaymentSucceeded"] * 3 + ["RefundSucceeded",
                                                                                          "SubscriptionStarted"]
    expected = {
        "payments": {"attempted": 4, "succeeded": 3, "failed": 1, "successRate": 0.75},
        "revenue": {"gross": 1999 + 1999 + 999, "refunded": 500, "net": 1999 + 1999 + 999 - 500},
        "paidOrders": 3, "averageOrderValue": 1666,  # (1999 + 1999 + 999) / 3 = 1665.67
        "subscriptions": {"active": 1, "started": 1, "canceled": 0, "mrr": 999},
    }
    first_read = numbers(admin_handler)
    assert {key: first_read[key] for key in expected} == expected
    assert not list(metrics_schema.iter_errors(first_read))
    today = next(day for day in first_read["byDay"] if day["date"] == TODAY.isoformat())
    assert (today["attempted"], today["gross"], today["refunded"], today["active"], today["mrr"]) == (
        4, 4997, 500, 1, 999)

    # The whole batch delivered again (a retried publish, an archive replay): nothing changes
    assert {deliver(metrics_aggregator_handler, e)["result"] for e in events} == {"duplicate", "ignored"}
    assert numbers(admin_handler) == first_read


# --- exactly once ---------------------------------------------------------------------------------------------


def test_concurrent_deliveries_of_one_event_count_it_once(aws, metrics_aggregator_handler, admin_handler):
    delivery = payment_succeeded(2500)
    with SerializedRequests():
        results = race(8, lambda _: deliver(metrics_aggregator_handler, copy.deepcopy(delivery))["result"])
    assert sorted(results) == ["counted"] + ["duplicate"] * 7
    body = numbers(admin_handler)
    assert (body["payments"]["succeeded"], body["revenue"]["gross"]) == (1, 2500)


def test_a_crash_before_the_commit_counts_nothing_and_the_retry_counts_once(aws, metrics_aggregator_handler,
                                                                             admin_handler, monkeypatch):
    from payments.data import store

    delivery = payment_succeeded(700)
    original = store.Transaction.commit

    def crash(self):
        raise RuntimeError("the container died before the transaction was sent")

    monkeypatch.setattr(store.Transaction, "commit", crash)
    with pytest.raises(RuntimeError):
        deliver(metrics_aggregator_handler, delivery)
    monkeypatch.setattr(store.Transaction, "commit", original)
    assert numbers(admin_handler)["revenue"]["gross"] == 0
    assert deliver(metrics_aggregator_handler, delivery) == {"result": "counted"}
    assert deliver(metrics_aggregator_handler, delivery) == {"result": "duplicate"}
    assert numbers(admin_handler)["revenue"]["gross"] == 700


def test_the_shards_of_a_day_sum_to_its_counts(aws, metrics_aggregator_handler, admin_handler, monkeypatch):
    from tests.support import reset_clients

    monkeypatch.setenv("METRICS_SHARDS", "4")
    reset_clients()
    amounts = list(range(100, 140))
    for amount in amounts:
        assert deliver(metrics_aggregator_handler, payment_succeeded(amount))["result"] == "counted"
    items = boto3.client("dynamodb", region_name="us-east-1").query(
        TableName="MetricsTable", KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": "scope"}, ExpressionAttributeValues={":s": {"S": "currency#usd"}})["Items"]
    slots = {item["slot"]["S"] for item in items}
    assert slots <= {f"{TODAY.isoformat()}#{shard:02d}" for shard in range(4)} and len(slots) > 1
    assert sum(int(item["gross"]["N"]) for item in items) == sum(amounts)
    body = numbers(admin_handler)
    assert (body["payments"]["succeeded"], body["revenue"]["gross"]) == (40, sum(amounts))


def test_each_currency_has_its_own_numbers(aws, metrics_aggregator_handler, admin_handler):
    deliver(metrics_aggregator_handler, payment_succeeded(1000, "usd"))
    deliver(metrics_aggregator_handler, payment_succeeded(300000, "jpy"))
    assert numbers(admin_handler, currency="JPY")["revenue"]["gross"] == 300000
    assert numbers(admin_handler, currency="usd")["revenue"]["gross"] == 1000
    assert numbers(admin_handler, currency="eur")["payments"]["attempted"] == 0


# --- subscriptions: a running count ---------------------------------------------------------------------------


def test_subscriptions_count_as_a_running_level_in_any_order_of_events(aws, metrics_aggregator_handler,
                                                                       admin_handler):
    yearly = subscription_event("SubscriptionStarted", "active", 2, amount=12000, interval="year", rid="sub_rec_y")
    trial = subscription_event("SubscriptionStarted", "trialing", 2, rid="sub_rec_t")
    started = subscription_event("SubscriptionStarted", "active", 2, rid="sub_rec_m")
    canceled = subscription_event("SubscriptionCanceled", "canceled", 4, rid="sub_rec_m")
    # The cancel arrives before the start: the start still counts as started, and nothing is left active
    for delivery in (yearly, trial, canceled, started):
        assert deliver(metrics_aggregator_handler, delivery) == {"result": "counted"}
    body = numbers(admin_handler)
    assert body["subscriptions"] == {"active": 2, "started": 3, "canceled": 1, "mrr": 1000}  # 12000 a year; a trial
    # The trial ends and pays; a stale update of the yearly one (version 1) changes nothing
    deliver(metrics_aggregator_handler, subscription_event("SubscriptionUpdated", "active", 3, rid="sub_rec_t"))
    deliver(metrics_aggregator_handler, subscription_event("SubscriptionUpdated", "past_due", 1, amount=12000,
                                                           interval="year", rid="sub_rec_y"))
    assert numbers(admin_handler)["subscriptions"] == {"active": 2, "started": 3, "canceled": 1, "mrr": 1999}


def test_a_plan_whose_price_the_event_does_not_carry_keeps_its_monthly_amount(aws, metrics_aggregator_handler,
                                                                               admin_handler):
    deliver(metrics_aggregator_handler, subscription_event("SubscriptionStarted", "active", 2))
    changed = subscription_event("SubscriptionUpdated", "active", 3, price="price_other")
    assert deliver(metrics_aggregator_handler, changed) == {"result": "counted"}
    assert numbers(admin_handler)["subscriptions"]["mrr"] == 999


def test_the_levels_at_each_days_end_walk_back_from_today(aws, metrics_aggregator_handler, admin_handler):
    def on(day, delivery):
        delivery["detail"]["occurredAt"] = f"{day.isoformat()}T23:59:59.999Z"
        return deliver(metrics_aggregator_handler, delivery)

    three_days_ago, yesterday = TODAY - timedelta(days=3), TODAY - timedelta(days=1)
    on(three_days_ago, subscription_event("SubscriptionStarted", "active", 2, rid="sub_rec_a"))
    on(yesterday, subscription_event("SubscriptionStarted", "active", 2, rid="sub_rec_b"))
    on(TODAY, subscription_event("SubscriptionCanceled", "canceled", 3, rid="sub_rec_a"))
    body = numbers(admin_handler, first=TODAY - timedelta(days=4), last=TODAY - timedelta(days=2))
    assert [(d["date"], d["active"], d["mrr"]) for d in body["byDay"]] == [
        ((TODAY - timedelta(days=4)).isoformat(), 0, 0), (three_days_ago.isoformat(), 1, 999),
        ((TODAY - timedelta(days=2)).isoformat(), 1, 999)]
    assert body["subscriptions"] == {"active": 1, "started": 1, "canceled": 0, "mrr": 999}
    assert numbers(admin_handler)["subscriptions"] == {"active": 1, "started": 1, "canceled": 1, "mrr": 999}


# --- what is not counted, and what cannot be read -------------------------------------------------------------


def test_an_event_the_numbers_do_not_count_is_ignored_and_writes_nothing(aws, metrics_aggregator_handler,
                                                                          ddb_calls):
    assert deliver(metrics_aggregator_handler, event("OrderCreated", order={"currency": "usd"})) == {
        "result": "ignored"}
    assert ddb_calls.count == 0


@pytest.mark.parametrize("broken", [
    {"payment": None}, {"payment": {"amount": "19.99", "currency": "usd"}},
    {"payment": {"amount": 1999, "currency": "USD"}}, {"occurredAt": "yesterday"}, {"eventId": None},
])
def test_an_event_missing_what_it_must_carry_fails_so_it_is_retried_then_dead_lettered(
        aws, metrics_aggregator_handler, admin_handler, broken):
    from payments.metrics.tally import UnreadableEvent

    delivery = payment_succeeded()
    delivery["detail"].update(broken)
    with pytest.raises(UnreadableEvent):
        deliver(metrics_aggregator_handler, delivery)
    assert numbers(admin_handler)["payments"]["attempted"] == 0


# --- GET /admin/metrics ---------------------------------------------------------------------------------------


def test_one_query_answers_a_full_window(aws, metrics_aggregator_handler, admin_handler, ddb_calls):
    deliver(metrics_aggregator_handler, payment_succeeded())
    ddb_calls.reset()
    answer = read(admin_handler, first=TODAY - timedelta(days=365), last=TODAY + timedelta(days=1))
    assert answer.status == 200 and len(answer.body["byDay"]) == 367
    assert ddb_calls.operations == ["Query"]


def test_a_user_who_is_not_an_admin_is_refused(aws, admin_handler):
    answer = call(admin_handler, "GET", "/admin/metrics", user=ALICE,
                  query={"from": TODAY.isoformat(), "to": TODAY.isoformat(), "currency": "usd"})
    assert (answer.status, answer.body["error"]["code"]) == (403, "admin_only")
    assert call(admin_handler, "GET", "/admin/metrics", user=None).status == 401


@pytest.mark.parametrize(("query", "field", "code"), [
    ({"from": ""}, "from", "invalid_field"),
    ({"to": "2026-13-01"}, "to", "invalid_field"),
    ({"from": "2026-W45-1"}, "from", "invalid_field"),
    ({"from": "20261101"}, "from", "invalid_field"),
    ({"currency": None}, "currency", "invalid_field"),
    ({"currency": "xxx"}, "currency", "unsupported_currency"),
    ({"currency": "usd\u0000"}, "currency", "unsupported_currency"),
    ({"from": "+1"}, "from", "invalid_field"),
    ({"to": (TODAY - timedelta(days=2)).isoformat()}, "to", "invalid_date_range"),
    ({"from": (TODAY - timedelta(days=366)).isoformat()}, "from", "date_out_of_range"),
    ({"to": (TODAY + timedelta(days=3)).isoformat()}, "to", "date_out_of_range"),
    ({"to": (TODAY - timedelta(days=400)).isoformat(), "from": None}, "to", "date_out_of_range"),
])
def test_bad_input_is_a_400_naming_the_field(aws, admin_handler, query, field, code):
    given = {"from": (TODAY - timedelta(days=1)).isoformat(), "to": TODAY.isoformat(), "currency": "usd", **query}
    answer = call(admin_handler, "GET", "/admin/metrics", user=ADMIN, admin=True,
                  query={k: v for k, v in given.items() if v is not None})
    assert answer.status == 400, answer.body
    assert answer.body["error"]["code"] == code and answer.body["error"]["message"].startswith(f"{field}:")


def test_the_sample_events_are_answered(aws, metrics_aggregator_handler, admin_handler):
    delivery = load_event("events/metrics_aggregator/payment_succeeded.json")
    assert deliver(metrics_aggregator_handler, delivery) == {"result": "counted"}
    answer = invoke(admin_handler, load_event("events/admin/metrics.json"))
    assert answer.status == 200 and len(answer.body["byDay"]) == 30  # the last 30 days, by default


def test_without_dates_the_numbers_are_the_last_30_days(aws, metrics_aggregator_handler, admin_handler):
    deliver(metrics_aggregator_handler, payment_succeeded(1234))
    answer = call(admin_handler, "GET", "/admin/metrics", user=ADMIN, admin=True, query={"currency": "usd"})
    assert answer.status == 200 and len(answer.body["byDay"]) == 30 and answer.body["revenue"]["gross"] == 1234
    assert answer.body["to"] in (TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat())  # today, at midnight

"""The numbers' pure parts: what each domain event adds, a subscription's change to the levels, the summing of the
shards and the walk back of the levels, the request's dates, and the size of the one Query's answer."""

from __future__ import annotations

from datetime import date

import pytest

from bench.capacity import item_size
from payments.core.errors import InvalidField
from payments.data.models import MetricsCounterRecord, SubscriptionMetricsRecord
from payments.metrics.aggregate import level_change, shard_of
from payments.metrics.report import WINDOW_DAYS, MetricsRequest, summarize
from payments.metrics.tally import SubscriptionTerms, UnreadableEvent, monthly, tally

AT = "2026-11-05T23:59:59.999Z"


def detail(**fields):
    return {"eventId": "e", "occurredAt": AT, **fields}


def test_each_counted_type_adds_its_counters_to_its_currency_and_utc_day():
    payment = {"amount": 1999, "currency": "usd"}
    assert tally("PaymentSucceeded", detail(payment=payment)).counts == {"succeeded": 1, "gross": 1999}
    assert tally("PaymentFailed", detail(payment=payment)).counts == {"failed": 1}
    refund = tally("RefundSucceeded", detail(refund={"amount": 500, "currency": "eur"}))
    assert (refund.currency, refund.counts) == ("eur", {"refunds": 1, "refunded": 500})
    paid = tally("OrderPaid", detail(order={"amount": 999, "currency": "jpy"}))
    assert (paid.currency, paid.counts) == ("jpy", {"paid_orders": 1, "paid_order_value": 999})
    late = tally("PaymentFailed", detail(payment=payment, occurredAt="2026-11-05T23:30:00-02:00"))
    assert late.day == "2026-11-06"  # UTC
    for other in ("OrderCreated", "OrderRefunded", "PaymentCanceled", "RefundFailed", "EntitlementsChanged"):
        assert tally(other, detail(payment=payment)) is None


def subscription(status, *, version=2, price="price_1", order_items=None):
    items = [{"priceId": "price_1", "quantity": 1, "unitAmount": 999, "interval": "month", "intervalCount": 1}] \
        if order_items is None else order_items
    return detail(version=version, order={"currency": "usd", "amount": 999, "items": items},
                  subscription={"recurringPaymentId": "sub_rec_1", "priceId": price, "status": status})


def test_a_subscription_is_active_while_active_trialing_or_past_due_and_pays_while_active_or_past_due():
    for status, active, paying in (("active", True, True), ("past_due", True, True), ("trialing", True, False),
                                   ("canceled", False, False), ("unpaid", False, False), ("paused", False, False),
                                   ("incomplete", False, False)):
        terms = tally("SubscriptionUpdated", subscription(status)).subscription
        assert (terms.active, terms.paying, terms.monthly) == (active, paying, 999), status
    assert tally("SubscriptionStarted", subscription("active")).counts == {"started": 1}
    assert tally("SubscriptionCanceled", subscription("canceled")).counts == {"canceled": 1}
    assert tally("SubscriptionUpdated", subscription("active")).counts == {}


def test_the_monthly_amount_is_the_prices_normalised_to_a_month_rounded_half_up():
    assert monthly(999, "month", 1) == 999
    assert monthly(12000, "year", 1) == 1000
    assert monthly(1000, "year", 1) == 83  # 83.33
    assert monthly(1002, "year", 1) == 84  # 83.5
    assert monthly(500, "week", 1) == 2167  # 500 x 52 / 12 = 2166.67
    assert monthly(100, "day", 1) == 3042  # 100 x 365 / 12 = 3041.67
    assert monthly(2997, "month", 3) == 999
    items = [{"priceId": "price_1", "quantity": 2, "unitAmount": 6000, "interval": "year", "intervalCount": 1}]
    assert tally("SubscriptionStarted", subscription("active", order_items=items)).subscription.monthly == 1000


@pytest.mark.parametrize("items", [
    [], [{"priceId": "price_other", "quantity": 1, "unitAmount": 999, "interval": "month"}],
    [{"priceId": "price_1", "quantity": 1, "unitAmount": 999}],  # an order made before lines had a period
    [{"priceId": "price_1", "quantity": 1, "unitAmount": 999, "interval": "fortnight"}],
    [{"priceId": "price_1", "quantity": 1, "unitAmount": 999, "interval": "month", "intervalCount": 0}],
])
def test_a_price_the_order_does_not_carry_is_unknown(items):
    assert tally("SubscriptionStarted", subscription("active", order_items=items)).subscription.monthly is None


@pytest.mark.parametrize(("detail_type", "broken"), [
    ("PaymentSucceeded", {"payment": {"amount": -1, "currency": "usd"}}),
    ("PaymentSucceeded", {"payment": {"amount": True, "currency": "usd"}}),
    ("RefundSucceeded", {"refund": {"amount": 1, "currency": "us"}}),
    ("OrderPaid", {}),
    ("SubscriptionStarted", {"order": {"currency": "usd"}, "subscription": {"status": "active"}, "version": 1}),
    ("SubscriptionStarted", {"order": {"currency": "usd"}, "version": "2",
                             "subscription": {"recurringPaymentId": "sub_rec_1", "status": "active"}}),
    ("PaymentFailed", {"payment": {"amount": 1, "currency": "usd"}, "occurredAt": "2026-11-05T10:00:00"}),
])
def test_an_event_missing_what_its_type_carries_is_unreadable(detail_type, broken):
    with pytest.raises(UnreadableEvent):
        tally(detail_type, {**detail(), **broken})


def terms(active=True, paying=True, monthly_amount=999, version=3):
    return SubscriptionTerms("sub_rec_1", version, "price_1", active, paying, monthly_amount)


def applied(active=1, mrr=999, version=2):
    return SubscriptionMetricsRecord("subscription#sub_rec_1", currency="usd", active=active, mrr=mrr,
                                     applied_version=version)


def test_a_subscriptions_change_to_the_levels_follows_the_newest_version_only():
    change = level_change(None, terms())
    assert (change.active, change.mrr, change.applies) == (1, 999, True)
    ended = level_change(applied(), terms(active=False, paying=False, monthly_amount=999))
    assert (ended.active, ended.mrr, ended.now_active, ended.now_mrr) == (-1, -999, 0, 0)
    stale = level_change(applied(version=5), terms(active=False, paying=False, version=4))
    assert (stale.active, stale.mrr, stale.applies) == (0, 0, False)
    trial = level_change(None, terms(paying=False))
    assert (trial.active, trial.mrr) == (1, 0)
    unknown = level_change(applied(mrr=500), terms(monthly_amount=None))
    assert (unknown.active, unknown.mrr, unknown.now_mrr) == (0, 0, 500)
    dearer = level_change(applied(), terms(monthly_amount=1999))
    assert (dearer.active, dearer.mrr) == (0, 1000)


def test_the_shard_is_a_stable_hash_of_the_event_id_spread_over_the_shards():
    assert shard_of("abc", 8) == shard_of("abc", 8)
    assert {shard_of(f"event-{n}", 8) for n in range(200)} == set(range(8))
    assert {shard_of(f"event-{n}", 1) for n in range(20)} == {0}


def counter(slot, **values):
    return MetricsCounterRecord("currency#usd", slot, **values)


def test_the_shards_are_summed_and_the_levels_walked_back_from_now():
    request = MetricsRequest(date(2026, 11, 2), date(2026, 11, 3), "usd")
    items = [
        counter("2026-11-02#00", succeeded=2, gross=3000, paid_orders=2, paid_order_value=3000),
        counter("2026-11-02#05", failed=1, started=1, active_change=1, mrr_change=999),
        counter("2026-11-03#01", refunds=1, refunded=500, succeeded=1, gross=999, paid_orders=1,
                paid_order_value=999),
        counter("2026-11-04#02", canceled=1, active_change=-1, mrr_change=-999, started=1),
        counter("2026-11-04#03", started=1, active_change=1, mrr_change=2000),
        counter("now#02", active_change=4, mrr_change=5000),
        counter("now#07", active_change=1, mrr_change=999),
    ]
    body = summarize(request, items)
    assert body["payments"] == {"attempted": 4, "succeeded": 3, "failed": 1, "successRate": 0.75}
    assert body["revenue"] == {"gross": 3999, "refunded": 500, "net": 3499}
    assert (body["paidOrders"], body["averageOrderValue"]) == (3, 1333)
    # now: 5 active, 5999; the 4th added 1 - 1 and 2000 - 999: at the end of the 3rd, 5 and 4998
    assert body["subscriptions"] == {"active": 5, "started": 1, "canceled": 0, "mrr": 4998}
    assert [(d["date"], d["active"], d["mrr"], d["net"]) for d in body["byDay"]] == [
        ("2026-11-02", 5, 4998, 3000), ("2026-11-03", 5, 4998, 499)]


def test_a_range_without_anything_answers_zeros_and_nulls():
    body = summarize(MetricsRequest(date(2026, 11, 1), date(2026, 11, 1), "usd"), [])
    assert body["payments"]["successRate"] is None and body["averageOrderValue"] is None
    assert body["byDay"] == [{"date": "2026-11-01", "attempted": 0, "succeeded": 0, "failed": 0, "gross": 0,
                              "refunded": 0, "net": 0, "paidOrders": 0, "started": 0, "canceled": 0, "active": 0,
                              "mrr": 0}]


TODAY = date(2026, 11, 20)


def test_the_request_reads_its_dates_and_currency():
    request = MetricsRequest.from_query({"from": "2026-11-01", "to": "2026-11-21", "currency": " EUR "}, TODAY)
    assert (request.first, request.last, request.currency) == (date(2026, 11, 1), date(2026, 11, 21), "eur")
    default = MetricsRequest.from_query({"currency": "usd"}, TODAY)
    assert (default.first, default.last) == (date(2026, 10, 22), TODAY)
    early = MetricsRequest.from_query({"currency": "usd", "to": "2025-11-25"}, TODAY)
    assert early.first == date(2025, 11, 20)  # the window's first day, not 30 days back
    with pytest.raises(InvalidField, match=r"^from:"):
        MetricsRequest.from_query({"currency": "usd", "from": "2025-11-19"}, TODAY)
    assert MetricsRequest.from_query({"currency": "usd", "from": "2025-11-20"}, TODAY).first == date(2025, 11, 20)


def test_a_full_window_of_full_shards_fits_one_query_page():
    """Every day of the window plus tomorrow, every shard, every counter at 15 digits, and the levels: under
    DynamoDB's 1 MB page, so GET /admin/metrics is one Query however busy the year was."""
    from payments.core.config import MAX_METRICS_SHARDS

    big = 10**15 - 1
    values = {name: {"N": str(big)} for name in ("succeeded", "failed", "gross", "refunds", "refunded", "paidOrders",
                                                 "paidOrderValue", "started", "canceled")}
    values |= {"activeChange": {"N": str(-big)}, "mrrChange": {"N": str(-big)}}
    day = item_size({"scope": {"S": "currency#usd"}, "slot": {"S": "2026-11-05#09"}, **values})
    total = day * MAX_METRICS_SHARDS * (WINDOW_DAYS + 1) + day * MAX_METRICS_SHARDS
    assert total < 1024 * 1024, total

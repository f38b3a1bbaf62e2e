"""``GET /admin/metrics?from=&to=&currency=``: the numbers of a range of UTC days, from one Query.

The Query reads the currency's counter items from ``from`` on: every shard of every day up to today, then the
shards of the current levels (``now``). Summing the shards gives each day's counts; the levels at the end of ``to``
are the current levels less the changes recorded after ``to``, and each earlier day's the same way, day by day
back. ``from`` may be at most ``WINDOW_DAYS - 1`` days before today, which bounds what the Query reads (a full
window of full shards stays under DynamoDB's 1 MB page); ``to`` at most one day after today (clients ahead of UTC).
Without ``to`` it is today; without ``from``, the 30 days up to ``to`` (within the window).

Every number is defined in README "The numbers" and in openapi.yaml (``Metrics``). Amounts are integers in the
currency's minor units; one currency per call.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from payments.core import money
from payments.core.clock import utc_now
from payments.core.errors import InvalidField
from payments.data import metrics as metrics_store
from payments.data.models import MetricsCounterRecord

WINDOW_DAYS = 366
DEFAULT_DAYS = 30  # without from: the 30 days up to to (without to: today)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
COUNTERS = ("succeeded", "failed", "gross", "refunds", "refunded", "paid_orders", "paid_order_value", "started",
            "canceled", "active_change", "mrr_change")


@dataclass(frozen=True)
class MetricsRequest:
    first: date
    last: date
    currency: str

    @classmethod
    def from_query(cls, query: Mapping[str, str | None], today: date | None = None) -> MetricsRequest:
        """The query string's ``from``, ``to`` and ``currency``, or a 400 naming the field."""
        today = today or utc_now().date()
        currency = money.parse_currency(query.get("currency"), "currency").code
        earliest, latest = today - timedelta(days=WINDOW_DAYS - 1), today + timedelta(days=1)
        last = _date(query, "to") or today
        if not earliest <= last <= latest:
            raise InvalidField("to", f"must be from {earliest.isoformat()} to {latest.isoformat()}",
                               code="date_out_of_range")
        first = _date(query, "from") or max(last - timedelta(days=DEFAULT_DAYS - 1), earliest)
        if last < first:
            raise InvalidField("to", "must not be before from", code="invalid_date_range")
        if first < earliest:
            raise InvalidField("from", f"must be {earliest.isoformat()} or later (the last {WINDOW_DAYS} days)",
                               code="date_out_of_range")
        return cls(first, last, currency)


def _date(query: Mapping[str, str | None], name: str) -> date | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidField(name, "must be a date as YYYY-MM-DD") from None


def metrics(request: MetricsRequest) -> dict[str, Any]:
    return summarize(request, metrics_store.counters_from(request.currency, request.first.isoformat()))


def summarize(request: MetricsRequest, items: Iterable[MetricsCounterRecord]) -> dict[str, Any]:
    """The answer from the counter items of ``request.first`` on (pure: the shards summed, the levels walked back)."""
    days: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    for item in items:
        period = metrics_store.period_of(item.slot)
        totals = days[period]
        for name in COUNTERS:
            totals[name] += int(getattr(item, name) or 0)
    levels = days.get(metrics_store.LEVELS, dict.fromkeys(COUNTERS, 0))
    last = request.last.isoformat()
    after = [totals for period, totals in days.items() if period != metrics_store.LEVELS and period > last]
    active = levels["active_change"] - sum(t["active_change"] for t in after)
    mrr = levels["mrr_change"] - sum(t["mrr_change"] for t in after)
    by_day = []
    for offset in range((request.last - request.first).days, -1, -1):  # from the last day back
        day = (request.first + timedelta(days=offset)).isoformat()
        totals = days.get(day, dict.fromkeys(COUNTERS, 0))
        by_day.append(_day(day, totals, active, mrr))
        active, mrr = active - totals["active_change"], mrr - totals["mrr_change"]
    by_day.reverse()
    return _answer(request, by_day)


def _day(day: str, totals: Mapping[str, int], active: int, mrr: int) -> dict[str, Any]:
    return {"date": day, "attempted": totals["succeeded"] + totals["failed"], "succeeded": totals["succeeded"],
            "failed": totals["failed"], "gross": totals["gross"], "refunded": totals["refunded"],
            "net": totals["gross"] - totals["refunded"], "paidOrders": totals["paid_orders"],
            "paidOrderValue": totals["paid_order_value"], "started": totals["started"],
            "canceled": totals["canceled"], "active": active, "mrr": mrr}


def _answer(request: MetricsRequest, by_day: list[dict[str, Any]]) -> dict[str, Any]:
    def total(name: str) -> int:
        return sum(int(day[name]) for day in by_day)

    attempted, succeeded, gross, refunded = total("attempted"), total("succeeded"), total("gross"), total("refunded")
    paid_orders, paid_value = total("paidOrders"), total("paidOrderValue")
    last = by_day[-1]
    return {
        "currency": request.currency,
        "from": request.first.isoformat(),
        "to": request.last.isoformat(),
        "payments": {"attempted": attempted, "succeeded": succeeded, "failed": total("failed"),
                     "successRate": round(succeeded / attempted, 4) if attempted else None},
        "revenue": {"gross": gross, "refunded": refunded, "net": gross - refunded},
        "paidOrders": paid_orders,
        "averageOrderValue": (2 * paid_value + paid_orders) // (2 * paid_orders) if paid_orders else None,
        "subscriptions": {"active": last["active"], "started": total("started"), "canceled": total("canceled"),
                          "mrr": last["mrr"]},
        "byDay": [{key: value for key, value in day.items() if key != "paidOrderValue"} for day in by_day],
    }

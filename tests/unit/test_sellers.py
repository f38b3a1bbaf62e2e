"""Sellers, as pure functions: a connected account's state as a seller's status, the platform's fee, and the
Connect rule's ``decide()`` (links not labels, forward only by Stripe's clock, ties read from Stripe)."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stripe_events import stripe_event, stripe_object
from payments.core.clock import now_iso
from payments.core.money import parse_currency
from payments.data.models import SellerRecord
from payments.sellers.events import AccountUpdatedRule
from payments.sellers.orders import platform_fee
from payments.sellers.status import seller_status
from payments.stripe.objects import StripeAccount
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import NotOurs, Records

ACCT, OTHER = "acct_1Ours0000000000", "acct_1Theirs00000000"
T0 = 1_790_000_000
NOW = now_iso()


def account(*, charges: bool, payouts: bool, submitted: bool, reason: str | None = None,
            due: tuple[str, ...] = (), id: str = ACCT) -> dict[str, Any]:  # noqa: A002
    return stripe_object("account", id=id, charges_enabled=charges, payouts_enabled=payouts,
                         details_submitted=submitted,
                         requirements={"currently_due": list(due), "past_due": [], "disabled_reason": reason,
                                       "eventually_due": list(due), "errors": [], "alternatives": [],
                                       "pending_verification": [], "current_deadline": None})


@pytest.mark.parametrize(("fields", "status"), [
    ({"charges": False, "payouts": False, "submitted": False, "reason": "requirements.past_due"}, "onboarding"),
    ({"charges": False, "payouts": False, "submitted": False}, "onboarding"),
    ({"charges": True, "payouts": True, "submitted": True}, "active"),
    ({"charges": True, "payouts": False, "submitted": True, "reason": "requirements.past_due"}, "restricted"),
    ({"charges": False, "payouts": True, "submitted": True}, "restricted"),
    ({"charges": False, "payouts": False, "submitted": False, "reason": "rejected.fraud"}, "restricted"),
    ({"charges": False, "payouts": False, "submitted": False, "reason": "under_review"}, "restricted"),
])
def test_an_accounts_state_is_a_sellers_status(fields, status):
    assert seller_status(StripeAccount.parse(account(**fields))) == status


@pytest.mark.parametrize(("bps", "amount", "currency", "fee"), [
    (0, 1999, "usd", 0), (1000, 1999, "usd", 199), (250, 4000, "usd", 100), (1000, 10050, "bhd", 1000),
    (1000, 19900, "isk", 1900), (10_000, 500, "jpy", 500)])
def test_the_platform_fee_is_rounded_down_to_the_currencys_unit(monkeypatch, bps, amount, currency, fee):
    from tests.support import reset_clients

    monkeypatch.setenv("PLATFORM_FEE_BPS", str(bps))
    reset_clients()
    assert platform_fee(amount, parse_currency(currency)) == fee


def seller(**fields: Any) -> SellerRecord:
    values = {"seller_id": "sel_1", "status": "onboarding", "stripe_account_id": ACCT, "created_at": NOW,
              "updated_at": NOW, "version": 1, **fields}
    return SellerRecord("user-alice", **values)


def updated(obj: dict[str, Any], *, created: int = T0, on: str | None = ACCT) -> StripeEvent:
    payload = stripe_event("account.updated", obj, created=created)
    payload["account"] = on
    return StripeEvent.from_payload(payload)


def decide(event: StripeEvent, record: SellerRecord, fetch: Any = None) -> Any:
    rule = AccountUpdatedRule(fetch=fetch or (lambda _: pytest.fail("Stripe was read")))
    return rule.decide(event, rule.read(event), Records({"seller": record}))


def test_a_completed_onboarding_makes_the_seller_active_stamped_with_stripes_time():
    record = seller()
    decision = decide(updated(account(charges=True, payouts=True, submitted=True)), record)
    assert decision.saved == [record] and decision.metrics == ["SellerActive"]
    assert (record.status, record.charges_enabled, record.last_event_created) == ("active", True, T0)


def test_an_older_event_changes_nothing():
    record = seller(status="active", charges_enabled=True, payouts_enabled=True, last_event_created=T0)
    assert decide(updated(account(charges=False, payouts=False, submitted=False), created=T0 - 1), record) is None
    assert record.status == "active"


def test_an_event_about_another_account_or_on_another_account_is_not_ours():
    with pytest.raises(NotOurs):
        decide(updated(account(charges=True, payouts=True, submitted=True, id=OTHER), on=OTHER), seller())
    with pytest.raises(NotOurs):
        decide(updated(account(charges=True, payouts=True, submitted=True), on=OTHER), seller())
    with pytest.raises(NotOurs):  # the platform's own account.updated carries no account
        decide(updated(account(charges=True, payouts=True, submitted=True), on=None), seller())


def test_two_events_in_one_second_that_disagree_read_the_account_from_stripe():
    record = seller(status="active", charges_enabled=True, payouts_enabled=True, details_submitted=True,
                    last_event_created=T0)
    now = StripeAccount.parse(account(charges=True, payouts=True, submitted=True))
    decision = decide(updated(account(charges=False, payouts=True, submitted=True), created=T0), record,
                      fetch=lambda account_id: now)
    assert decision is None and record.status == "active"  # Stripe says it is still active: nothing new


def test_nothing_new_is_ignored():
    record = seller(status="onboarding", disabled_reason="requirements.past_due", last_event_created=T0)
    assert decide(updated(account(charges=False, payouts=False, submitted=False,
                                  reason="requirements.past_due"), created=T0), record) is None

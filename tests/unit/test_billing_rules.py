"""Billing's pure parts: entitlement summaries, a subscription's hosted Checkout, invoices that become adjustment
orders, what a first invoice should bill, promotion discounts, and the Stripe views they read."""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stripe_events import stripe_event, stripe_object
from payments.billing.entitlements import ENTITLEMENT_RULES, SUMMARY_EVENT, EntitlementSummaryRule
from payments.billing.promotions import discount_on
from payments.checkout.events import PAYMENT_RULES
from payments.core.clock import now_iso
from payments.core.errors import InvalidField
from payments.data.models import (
    CustomerRecord,
    Discount,
    Entitlement,
    EntitlementsRecord,
    OrderRecord,
    RecurringPaymentRecord,
)
from payments.stripe.objects import (
    MalformedObject,
    StripeCoupon,
    StripeEntitlement,
    StripeEntitlementSummary,
    StripeInvoice,
    StripePromotionCode,
)
from payments.subscriptions.renewals import RENEWAL_RULES
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import NotLinkedYet, NotOurs, Records

NOW = now_iso()
T0 = 1_790_000_000
CUS, SUB, SESSION = "cus_ours0001", "sub_ours0001", "cs_test_ours"


def event(event_type: str, obj: dict[str, Any], created: int = T0) -> StripeEvent:
    return StripeEvent.from_payload(stripe_event(event_type, obj, created=created))


def decide(rules: dict[str, Any], stripe: StripeEvent, **records: Any) -> Any:
    rule = rules[stripe.type]
    return rule.decide(stripe, rule.read(stripe), Records(records))


# --- entitlements ---------------------------------------------------------------------------------------------


def summary(*keys: str, customer: str = CUS, created: int = T0, has_more: bool = False) -> StripeEvent:
    data = [{"object": "entitlements.active_entitlement", "id": f"ent_{k}", "feature": f"feat_{k}",
             "lookup_key": k, "livemode": False} for k in keys]
    return event(SUMMARY_EVENT, {"object": "entitlements.active_entitlement_summary", "customer": customer,
                                 "livemode": False, "entitlements": {"object": "list", "data": data,
                                                                     "has_more": has_more}}, created)


def customer(stripe_customer: str = CUS) -> CustomerRecord:
    return CustomerRecord("u1", stripe_customer_id=stripe_customer, created_at=NOW)


def held(*keys: str, created: int = T0) -> EntitlementsRecord:
    return EntitlementsRecord("u1", stripe_customer_id=CUS, last_event_created=created, updated_at=NOW, version=1,
                              entitlements=[Entitlement(lookup_key=k, feature_id=f"feat_{k}") for k in keys])


def keys_of(record: EntitlementsRecord) -> list[str]:
    return [e.lookup_key for e in record.entitlements]


def test_a_first_summary_is_stored_for_the_user_of_the_customer():
    decision = decide(ENTITLEMENT_RULES, summary("reports", "api"), customer=customer(), entitlements=None)
    [record] = decision.saved
    assert (record.user_id, keys_of(record), record.last_event_created) == ("u1", ["reports", "api"], T0)
    assert decision.metrics == ["EntitlementsChanged"]


def test_a_customer_row_holding_another_customer_is_not_ours():
    with pytest.raises(NotOurs):
        decide(ENTITLEMENT_RULES, summary("reports"), customer=customer("cus_other"), entitlements=None)


def test_an_older_summary_changes_nothing_and_an_identical_one_of_the_same_second_too():
    assert decide(ENTITLEMENT_RULES, summary("api", created=T0 - 1), customer=customer(),
                  entitlements=held("reports")) is None
    assert decide(ENTITLEMENT_RULES, summary("reports"), customer=customer(), entitlements=held("reports")) is None


def test_a_newer_identical_summary_moves_the_stamp_forward():
    record = held("reports")
    decide(ENTITLEMENT_RULES, summary("reports", created=T0 + 5), customer=customer(), entitlements=record)
    assert (keys_of(record), record.last_event_created) == (["reports"], T0 + 5)


@pytest.mark.parametrize(("stripe", "reads"), [
    (summary("api"), 1),  # the same second, disagreeing: Stripe decides
    (summary("api", created=T0 + 5, has_more=True), 1),  # not all listed
    (summary("api", created=T0 + 5), 0),  # newer and complete: the payload decides
])
def test_stripe_is_read_only_when_the_payload_cannot_say(stripe, reads):
    asked: list[str] = []

    def fetch(customer_id: str) -> tuple[StripeEntitlement, ...]:
        asked.append(customer_id)
        return (StripeEntitlement("stripe", "feat_stripe"),)

    rule = EntitlementSummaryRule(fetch)
    record = held("reports")
    rule.decide(stripe, rule.read(stripe), Records({"customer": customer(), "entitlements": record}))
    assert len(asked) == reads
    assert keys_of(record) == (["stripe"] if reads else ["api"])


def test_a_summary_parses_expanded_features_and_an_absent_list_as_none_active():
    parsed = StripeEntitlementSummary.parse({
        "object": "entitlements.active_entitlement_summary", "customer": CUS,
        "entitlements": {"object": "list", "has_more": False, "data": [
            {"feature": {"id": "feat_1", "object": "entitlements.feature"}, "lookup_key": "k", "id": "ent_1"}]}})
    assert parsed.entitlements == (StripeEntitlement("k", "feat_1"),)
    assert StripeEntitlementSummary.parse({"customer": CUS}).entitlements == ()
    with pytest.raises(MalformedObject):
        StripeEntitlementSummary.parse({"customer": CUS, "entitlements": {"data": [{"lookup_key": "k"}]}})


# --- a subscription's hosted Checkout -------------------------------------------------------------------------


def web_record(**fields: Any) -> RecurringPaymentRecord:
    values = {"order_id": "ord_1", "user_id": "u1", "price_id": "price_1", "status": "incomplete",
              "mode": "checkout_session", "stripe_checkout_session_id": SESSION, "stripe_customer_id": CUS,
              "created_at": now_iso(), "updated_at": now_iso(), "version": 1, **fields}
    return RecurringPaymentRecord("sub_rec_1", **values)


def session(event_type: str = "checkout.session.completed", *, id: str = SESSION,  # noqa: A002
            subscription: str | None = SUB) -> StripeEvent:
    obj = stripe_object("checkout.session", id=id, mode="subscription", subscription=subscription,
                        customer=CUS, status="complete", payment_status="paid", payment_intent=None,
                        metadata={"orderId": "ord_1", "recurringPaymentId": "sub_rec_1"})
    return event(event_type, obj)


def test_a_completed_session_links_its_record_to_the_subscription_it_made():
    record = web_record()
    decision = decide(PAYMENT_RULES, session(), recurring=record)
    assert (record.stripe_subscription_id, record.status) == (SUB, "incomplete")  # the invoice pays; events move it
    assert decision.saved == [record]


def test_a_session_the_record_does_not_hold_is_not_ours_and_one_not_recorded_yet_is_retried():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, session(id="cs_test_theirs"), recurring=web_record())
    with pytest.raises(NotLinkedYet):
        decide(PAYMENT_RULES, session(), recurring=web_record(stripe_checkout_session_id=None))
    with pytest.raises(NotOurs):  # an old record whose start is gone waits for no event
        decide(PAYMENT_RULES, session(), recurring=web_record(stripe_checkout_session_id=None,
                                                             created_at="2020-01-01T00:00:00.000Z"))


def test_a_record_linked_by_the_subscriptions_events_must_name_the_same_subscription():
    assert decide(PAYMENT_RULES, session(), recurring=web_record(stripe_subscription_id=SUB)) is None
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, session(), recurring=web_record(stripe_subscription_id="sub_other"))


def test_an_expired_session_ends_a_record_without_a_subscription_only():
    record = web_record()
    decide(PAYMENT_RULES, session("checkout.session.expired", subscription=None), recurring=record)
    assert record.status == "incomplete_expired"
    assert decide(PAYMENT_RULES, session("checkout.session.expired", subscription=None),
                  recurring=web_record(stripe_subscription_id=SUB, status="active")) is None


# --- invoices ---------------------------------------------------------------------------------------------------


def sub_order(**fields: Any) -> OrderRecord:
    values = {"user_id": "u1", "kind": "subscription", "amount": 900, "currency": "usd", "status": "pending",
              "price_id": "price_1", "recurring_payment_id": "sub_rec_1", "created_at": NOW, "updated_at": NOW,
              "created_sort": f"{NOW}#ord_1", "version": 1, **fields}
    return OrderRecord("ord_1", **values)


def api_record(**fields: Any) -> RecurringPaymentRecord:
    values = {"order_id": "ord_1", "user_id": "u1", "price_id": "price_1", "status": "active",
              "stripe_subscription_id": SUB, "stripe_customer_id": CUS, "created_at": NOW, "updated_at": NOW,
              "version": 1, **fields}
    return RecurringPaymentRecord("sub_rec_1", **values)


def invoice(reason: str, *, amount: int, lines: list[tuple[str, int, bool]] | None = None,
            discount: int = 0) -> StripeEvent:
    listed = [{"object": "line_item", "description": d, "amount": a,
               "parent": {"type": "subscription_item_details",
                          "subscription_item_details": {"proration": p, "subscription": SUB}},
               "pricing": {"type": "price_details", "price_details": {"price": "price_2"}}}
              for d, a, p in lines or []]
    obj = stripe_object("invoice", id="in_1QADJUST", billing_reason=reason, currency="usd", amount_due=amount,
                        amount_paid=amount, customer=CUS, status="paid",
                        lines={"object": "list", "data": listed, "has_more": False},
                        total_discount_amounts=[{"amount": discount, "discount": "di_1"}] if discount else [],
                        parent={"type": "subscription_details", "subscription_details": {
                            "subscription": SUB, "metadata": {"orderId": "ord_1", "recurringPaymentId": "sub_rec_1"}}})
    return event("invoice.paid", obj)


def test_a_plan_change_invoice_is_an_adjustment_order_of_what_stripe_billed_with_its_lines():
    lines = [("Unused time on Basic", -300, True), ("Remaining time on Plus", 633, True)]
    parent = sub_order(status="paid")
    decision = decide(RENEWAL_RULES, invoice("subscription_update", amount=333, lines=lines), recurring=api_record(),
                      parent=parent, payment=None, invoice_order=None)
    adjustment = next(r for r in decision.saved if isinstance(r, OrderRecord))
    assert (adjustment.order_id, adjustment.kind, adjustment.amount, adjustment.status, adjustment.parent_order_id) == (
        "ord_in_1QADJUST", "adjustment", 333, "paid", "ord_1")
    assert [(line.amount, line.proration, line.price_id) for line in adjustment.lines] == [
        (-300, True, "price_2"), (633, True, "price_2")]
    assert "AdjustmentPaid" in decision.metrics


@pytest.mark.parametrize(("first_amount", "paid", "status"), [
    (0, 0, "paid"),  # a trial: its first invoice is 0
    (675, 675, "paid"),  # 25% off 900
    (675, 900, "amount_mismatch"),  # the code was not applied: what arrived is not what was expected
    (None, 900, "paid"),  # a record from before: the order's amount
])
def test_the_first_invoice_is_expected_to_bill_what_the_subscription_was_started_for(first_amount, paid, status):
    parent = sub_order()
    record = api_record(first_invoice_amount=first_amount,
                        discount=Discount(promotion_code="FALL25", promotion_code_id="promo_1", amount=225))
    decision = decide(RENEWAL_RULES, invoice("subscription_create", amount=paid, discount=900 - paid),
                      recurring=record, parent=parent, payment=None)
    assert parent.status == status
    payment = next(r for r in decision.saved if r.__class__.__name__ == "PaymentRecord")
    assert (payment.discount.amount if payment.discount else 0) == (900 - paid)


def test_an_invoice_of_any_other_reason_is_not_an_order():
    stripe = invoice("manual", amount=500)
    rule = RENEWAL_RULES["invoice.paid"]
    assert rule.locate(stripe, rule.read(stripe)) is None


def test_invoice_lines_parse_negative_credits_and_an_incomplete_list_as_none():
    parsed = StripeInvoice.parse(invoice("subscription_update", amount=0, lines=[("credit", -50, True)]).object)
    assert [(line.amount, line.proration) for line in parsed.lines or ()] == [(-50, True)]
    obj = dict(invoice("subscription_cycle", amount=900).object)
    obj["lines"] = {"object": "list", "data": [], "has_more": True}
    assert StripeInvoice.parse(obj).lines is None


# --- promotion codes --------------------------------------------------------------------------------------------


def code(*, percent: float | None = None, amount_off: int | None = None, currency: str | None = None,
         valid: bool = True, minimum: int | None = None) -> StripePromotionCode:
    coupon = StripeCoupon(id="C1", valid=valid, amount_off=amount_off, percent_off=percent, currency=currency,
                          duration="once")
    return StripePromotionCode(id="promo_1", code="CODE", active=True, coupon=coupon, coupon_id="C1",
                               expires_at=None, customer_id=None, minimum_amount=minimum,
                               minimum_amount_currency="usd" if minimum else None)


@pytest.mark.parametrize(("promotion", "amount", "currency", "off"), [
    (code(percent=25), 900, "usd", 225),
    (code(percent=25.5), 999, "usd", 255),  # 254.745 rounds half up
    (code(percent=10), 1005, "usd", 101),  # 100.5 rounds up
    (code(percent=10), 1230, "bhd", 120),  # 123 to the currency's step of 10
    (code(amount_off=500, currency="usd"), 300, "usd", 300),  # never more than the amount
])
def test_the_discount_is_computed_on_the_server(promotion, amount, currency, off):
    assert discount_on(promotion, amount, currency) == off


@pytest.mark.parametrize("promotion", [code(amount_off=500, currency="eur"), code(percent=10, valid=False),
                                       code(percent=10, minimum=5000)])
def test_a_code_that_does_not_apply_is_a_400_naming_the_field(promotion):
    with pytest.raises(InvalidField) as refused:
        discount_on(promotion, 1000, "usd")
    assert (refused.value.field, refused.value.code) == ("promotionCode", "invalid_promotion_code")


def test_a_promotion_code_parses_the_current_and_the_older_coupon_place():
    current = StripePromotionCode.parse({"id": "promo_1", "code": "A", "active": True,
                                         "promotion": {"type": "coupon", "coupon": {"id": "C1", "percent_off": 25.5,
                                                                                    "valid": True}}})
    assert current.coupon is not None and current.coupon.percent_off == 25.5
    older = StripePromotionCode.parse({"id": "promo_1", "code": "A", "active": True, "coupon": "C1"})
    assert (older.coupon, older.coupon_id) == (None, "C1")

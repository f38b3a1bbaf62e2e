"""Every webhook rule's ``decide()``, as a pure function: records in, writes out, no DynamoDB, no Stripe.

Each case gives the records as the pipeline would read them, and the event as Stripe would send it, and reads the
decision: what is saved (and with which values), what is counted, or that nothing changes (None), or that the
event is not about our records (``NotOurs``), or that Stripe should deliver it again (``NotLinkedYet``).
"""

from __future__ import annotations

from typing import Any

import pytest

from devstack.stripe_events import stripe_event, stripe_object
from payments.checkout.events import PAYMENT_RULES
from payments.core.clock import now_iso
from payments.data.models import OrderRecord, PaymentRecord, RecurringPaymentRecord, RefundRecord
from payments.refunds.events import REFUND_RULES
from payments.stripe.objects import StripeSubscription
from payments.subscriptions.events import SubscriptionEventRule
from payments.subscriptions.renewals import RENEWAL_RULES
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import NotLinkedYet, NotOurs, Records

NOW = now_iso()
PI, OTHER_PI, SESSION = "pi_3QOURS0000000000000001", "pi_3QTHEIRS000000000000001", "cs_test_ours"
T0 = 1_790_000_000


def order(**fields: Any) -> OrderRecord:
    values = {"user_id": "u1", "kind": "one_time", "amount": 1999, "currency": "usd", "status": "pending",
              "payment_ids": ["pay_1"], "open_payment_id": "pay_1", "created_at": NOW, "updated_at": NOW,
              "created_sort": f"{NOW}#ord_1", "version": 1, **fields}
    return OrderRecord("ord_1", **values)


def payment(**fields: Any) -> PaymentRecord:
    now = now_iso()  # when called: a test run minutes after collection must not see a checkout abandoned long ago
    values = {"order_id": "ord_1", "user_id": "u1", "amount": 1999, "currency": "usd", "mode": "payment_intent",
              "status": "pending", "stripe_payment_intent_id": PI, "created_at": now, "updated_at": now,
              "version": 1, **fields}
    return PaymentRecord(values.pop("payment_id", "pay_1"), **values)


def event(event_type: str, obj: dict[str, Any], created: int = T0) -> StripeEvent:
    return StripeEvent.from_payload(stripe_event(event_type, obj, created=created))


def decide(rules: dict[str, Any], stripe: StripeEvent, **records: Any) -> Any:
    rule = rules[stripe.type]
    return rule.decide(stripe, rule.read(stripe), Records(records))


def intent(status: str = "succeeded", *, id: str = PI, amount: int = 1999, currency: str = "usd",  # noqa: A002
           **fields: Any) -> dict[str, Any]:
    return stripe_object("payment_intent", id=id, status=status, amount=amount, currency=currency,
                         amount_received=amount if status == "succeeded" else 0,
                         metadata={"orderId": "ord_1", "paymentId": "pay_1"}, **fields)


# --- payments ------------------------------------------------------------------------------------------------


def test_a_succeeded_intent_pays_a_pending_order():
    o, p = order(), payment()
    decision = decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()), payment=p, order=o)
    assert (p.status, p.amount_received, o.status, o.paid_by_payment_id, o.open_payment_id) == (
        "succeeded", 1999, "paid", "pay_1", None)
    assert p.last_event_created == T0
    assert {id(r) for r in decision.saved} == {id(p), id(o)}
    assert decision.metrics == ["PaymentSucceeded", "OrderPaid"]


@pytest.mark.parametrize(("amount", "currency"), [(999, "usd"), (1999, "eur")])
def test_money_that_differs_from_the_order_flags_it(amount, currency):
    o, p = order(), payment()
    decision = decide(PAYMENT_RULES, event("payment_intent.succeeded", intent(amount=amount, currency=currency)),
                      payment=p, order=o)
    assert (p.status, o.status) == ("succeeded", "amount_mismatch")
    assert "AmountMismatch" in decision.metrics


def test_a_failure_after_the_success_changes_nothing():
    o, p = order(status="paid", paid_by_payment_id="pay_1"), payment(status="succeeded")
    assert decide(PAYMENT_RULES, event("payment_intent.payment_failed", intent("requires_payment_method")),
                  payment=p, order=o) is None


def test_a_decline_keeps_its_reason_and_a_later_success_still_pays():
    o, p = order(), payment()
    declined = intent("requires_payment_method", last_payment_error={"code": "card_declined",
                                                                      "decline_code": "insufficient_funds",
                                                                      "message": "Your card has insufficient funds."})
    decide(PAYMENT_RULES, event("payment_intent.payment_failed", declined), payment=p, order=o)
    assert (p.status, p.failure_code, o.status) == ("failed", "insufficient_funds", "pending")
    decide(PAYMENT_RULES, event("payment_intent.succeeded", intent(), T0 + 5), payment=p, order=o)
    assert (p.status, p.failure_code, o.status) == ("succeeded", None, "paid")


def test_an_intent_we_never_created_is_not_ours_whatever_its_metadata():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent(id=OTHER_PI)), payment=payment(),
               order=order())


def test_an_intent_for_a_payment_still_recording_its_intent_is_delivered_again():
    with pytest.raises(NotLinkedYet):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()),
               payment=payment(stripe_payment_intent_id=None), order=order())


def test_a_payment_unlinked_for_longer_than_a_checkout_takes_waits_for_no_event():
    """Its checkout crashed before recording Stripe's id: events are not retried for Stripe's three days."""
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()),
               payment=payment(stripe_payment_intent_id=None, created_at="2026-01-01T00:00:00.000Z"), order=order())


def test_a_failed_payment_without_an_intent_is_not_waiting_for_one():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()),
               payment=payment(stripe_payment_intent_id=None, status="failed"), order=order())


def test_metadata_naming_a_payment_of_another_order_is_not_ours():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()), payment=payment(order_id="ord_2"),
               order=order())


def test_a_missing_record_is_not_ours():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()), payment=None, order=order())


def test_a_second_success_for_a_paid_order_reserves_an_automatic_refund():
    o = order(status="paid", paid_by_payment_id="pay_0", payment_ids=["pay_0", "pay_1"], open_payment_id=None)
    p = payment(status="failed")
    decision = decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()), payment=p, order=o)
    refund = next(r for r in decision.saved if isinstance(r, RefundRecord))
    assert (refund.refund_id, refund.amount, refund.status, refund.reason, refund.origin) == (
        "ref_auto_1", 1999, "pending", "duplicate", "auto")
    assert (p.status, p.amount_reserved, o.status, o.paid_by_payment_id, o.refund_ids) == (
        "succeeded", 1999, "paid", "pay_0", ["ref_auto_1"])
    assert "DuplicatePayment" in decision.metrics and len(decision.after_commit) == 1


def session(status: str = "complete", payment_status: str = "paid", *, id: str = SESSION,  # noqa: A002
            **fields: Any) -> dict[str, Any]:
    fields = {"payment_intent": PI, **fields}
    return stripe_object("checkout.session", id=id, status=status, payment_status=payment_status,
                         amount_total=1999, currency="usd", metadata={"orderId": "ord_1", "paymentId": "pay_1"},
                         **fields)


def web_payment(**fields: Any) -> PaymentRecord:
    return payment(mode="checkout_session", stripe_payment_intent_id=None, stripe_checkout_session_id=SESSION,
                   **fields)


def test_a_completed_session_pays_and_teaches_us_its_intent():
    o, p = order(), web_payment()
    decide(PAYMENT_RULES, event("checkout.session.completed", session()), payment=p, order=o)
    assert (p.status, p.stripe_payment_intent_id, o.status) == ("succeeded", PI, "paid")


def test_an_unpaid_completed_session_only_records_its_intent():
    o, p = order(), web_payment()
    decision = decide(PAYMENT_RULES, event("checkout.session.completed", session(payment_status="unpaid")),
                      payment=p, order=o)
    assert (p.status, p.stripe_payment_intent_id, o.status) == ("pending", PI, "pending")
    assert decision is not None


def test_a_session_we_never_created_changes_nothing_even_for_a_paid_payment():
    o, p = order(status="paid", paid_by_payment_id="pay_1"), web_payment(status="succeeded")
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("checkout.session.completed", session(id="cs_test_theirs")), payment=p, order=o)


def test_an_intent_event_for_a_web_payment_waits_for_its_session():
    with pytest.raises(NotOurs):
        decide(PAYMENT_RULES, event("payment_intent.succeeded", intent()), payment=web_payment(), order=order())


def test_an_expired_session_cancels_the_payment_and_frees_the_order():
    o, p = order(), web_payment()
    decide(PAYMENT_RULES, event("checkout.session.expired", session("expired", "unpaid", payment_intent=None)),
           payment=p, order=o)
    assert (p.status, o.status, o.open_payment_id) == ("canceled", "pending", None)


# --- refunds --------------------------------------------------------------------------------------------------


def refund_object(status: str = "succeeded", *, id: str = "re_1", amount: int = 500,  # noqa: A002
                  payment_intent: str = PI, refund_id: str | None = "ref_1") -> dict[str, Any]:
    metadata = {"refundId": refund_id, "paymentId": "pay_1", "orderId": "ord_1"} if refund_id else {}
    return stripe_object("refund", id=id, status=status, amount=amount, currency="usd",
                         payment_intent=payment_intent, metadata=metadata)


def paid() -> tuple[OrderRecord, PaymentRecord]:
    return (order(status="paid", paid_by_payment_id="pay_1", open_payment_id=None, refund_ids=["ref_1"]),
            payment(status="succeeded", amount_received=1999, amount_reserved=500))


def our_refund(**fields: Any) -> RefundRecord:
    values = {"payment_id": "pay_1", "order_id": "ord_1", "amount": 500, "currency": "usd", "status": "pending",
              "created_at": NOW, "updated_at": NOW, "version": 1, **fields}
    return RefundRecord("ref_1", **values)


def test_our_refund_succeeding_moves_the_reservation_to_refunded_and_the_order_on():
    o, p = paid()
    r = our_refund()
    decision = decide(REFUND_RULES, event("refund.updated", refund_object()), payment=p, order=o, **{"refund:re_1": r})
    assert (r.status, r.stripe_refund_id, p.amount_reserved, p.amount_refunded, o.status) == (
        "succeeded", "re_1", 0, 500, "partially_refunded")
    assert "RefundSucceeded" in decision.metrics


def test_a_refund_of_another_payment_intent_is_not_ours():
    o, p = paid()
    with pytest.raises(NotOurs):
        decide(REFUND_RULES, event("refund.created", refund_object(payment_intent=OTHER_PI)), payment=p, order=o,
               **{"refund:re_1": our_refund()})


def test_metadata_naming_our_refund_on_another_stripe_refund_is_not_ours():
    o, p = paid()
    with pytest.raises(NotOurs):
        decide(REFUND_RULES, event("refund.updated", refund_object(id="re_2")), payment=p, order=o,
               **{"refund:re_2": our_refund(stripe_refund_id="re_1")})


def test_a_refund_made_in_the_dashboard_becomes_a_record_of_its_own():
    o, p = paid()
    decision = decide(REFUND_RULES, event("refund.created", refund_object(id="re_9", refund_id=None)),
                      payment=p, order=o, **{"refund:re_9": None})
    made = next(r for r in decision.saved if isinstance(r, RefundRecord))
    assert (made.refund_id, made.origin, made.status, o.refund_ids) == ("ref_re_9", "stripe", "succeeded",
                                                                         ["ref_1", "ref_re_9"])
    assert "RefundMadeElsewhere" in decision.metrics


def test_an_older_refund_event_changes_nothing():
    o, p = paid()
    r = our_refund(status="succeeded", stripe_refund_id="re_1", last_event_created=T0 + 10)
    assert decide(REFUND_RULES, event("refund.updated", refund_object("pending"), T0), payment=p, order=o,
                  **{"refund:re_1": r}) is None


def test_a_charge_refunded_lists_every_refund_and_each_is_one_record():
    o, p = paid()
    charge = stripe_object("charge", id="ch_1", payment_intent=PI, refunds={
        "object": "list", "has_more": False, "data": [refund_object(), refund_object(id="re_8", refund_id=None,
                                                                                     amount=300)]})
    decision = decide(REFUND_RULES, event("charge.refunded", charge), payment=p, order=o,
                      **{"refund:re_1": our_refund(), "refund:re_8": None})
    assert sorted(r.refund_id for r in decision.saved if isinstance(r, RefundRecord)) == ["ref_1", "ref_re_8"]
    assert (p.amount_refunded, p.amount_reserved) == (800, 0)


# --- subscriptions --------------------------------------------------------------------------------------------


def recurring(**fields: Any) -> RecurringPaymentRecord:
    values = {"order_id": "ord_1", "user_id": "u1", "price_id": "price_1", "status": "incomplete",
              "stripe_subscription_id": "sub_1", "stripe_customer_id": "cus_1", "created_at": NOW,
              "updated_at": NOW, "version": 1, **fields}
    return RecurringPaymentRecord("sub_rec_1", **values)


def subscription(status: str = "active", *, id: str = "sub_1", customer: str = "cus_1",  # noqa: A002
                 cancel_at_period_end: bool = False) -> dict[str, Any]:
    item = {"id": "si_1", "object": "subscription_item", "current_period_end": T0 + 30 * 86400}
    return stripe_object("subscription", id=id, status=status, customer=customer,
                         cancel_at_period_end=cancel_at_period_end, items={"object": "list", "data": [item]},
                         metadata={"recurringPaymentId": "sub_rec_1", "orderId": "ord_1"})


def sub_decide(stripe: StripeEvent, record: RecurringPaymentRecord, fetched: StripeSubscription | None = None) -> Any:
    reads: list[str] = []

    def fetch(subscription_id: str) -> StripeSubscription:
        reads.append(subscription_id)
        assert fetched is not None, "the rule read Stripe when the payload should have sufficed"
        return fetched

    rule = SubscriptionEventRule(fetch)
    return rule.decide(stripe, rule.read(stripe), Records({"recurring": record})), reads


def test_an_update_moves_the_record_and_stamps_it_with_stripes_time():
    r = recurring()
    decision, reads = sub_decide(event("customer.subscription.updated", subscription()), r)
    assert (r.status, r.last_event_created, reads) == ("active", T0, [])
    assert decision.saved == [r]


def test_an_older_update_changes_nothing():
    r = recurring(status="active", last_event_created=T0 + 60)
    assert sub_decide(event("customer.subscription.updated", subscription("past_due"), T0), r)[0] is None


def test_deleted_is_final():
    r = recurring(status="canceled", last_event_created=T0)
    assert sub_decide(event("customer.subscription.updated", subscription(), T0 + 60), r)[0] is None


def test_two_events_in_one_second_that_disagree_are_settled_by_reading_stripe():
    r = recurring(status="active", last_event_created=T0)
    truth = StripeSubscription("sub_1", "past_due", False, T0 + 86400, "cus_1", {})
    _, reads = sub_decide(event("customer.subscription.updated", subscription("incomplete"), T0), r, truth)
    assert (reads, r.status) == (["sub_1"], "past_due")


def test_a_change_made_through_our_api_is_never_compared_with_our_clock():
    """The subscribe or cancel answer carries no Stripe stamp: the next event, even one Stripe stamped before our
    clock's "now", applies; where it disagrees with what the API wrote, Stripe is read."""
    r = recurring(status="incomplete", changed_by_api=True)
    truth = StripeSubscription("sub_1", "active", False, T0 + 86400, "cus_1", {})
    decision, reads = sub_decide(event("customer.subscription.updated", subscription("active"), T0 - 5), r, truth)
    assert decision is not None and (r.status, r.changed_by_api, r.last_event_created) == ("active", False, T0 - 5)
    assert reads == ["sub_1"]


def test_a_subscription_of_another_customer_naming_our_record_is_not_ours():
    with pytest.raises(NotOurs):
        sub_decide(event("customer.subscription.updated", subscription(id="sub_9", customer="cus_9")),
                   recurring(stripe_subscription_id=None))
    with pytest.raises(NotOurs):
        sub_decide(event("customer.subscription.updated", subscription(id="sub_9")), recurring())


def test_the_first_event_of_our_customers_subscription_links_the_record():
    r = recurring(stripe_subscription_id=None)
    sub_decide(event("customer.subscription.created", subscription("incomplete")), r)
    assert r.stripe_subscription_id == "sub_1"


# --- renewals -------------------------------------------------------------------------------------------------


def invoice(reason: str, *, id: str = "in_1", amount: int = 999,  # noqa: A002
            subscription_id: str = "sub_1") -> dict[str, Any]:
    details = {"subscription": subscription_id, "metadata": {"recurringPaymentId": "sub_rec_1", "orderId": "ord_1"}}
    return stripe_object("invoice", id=id, billing_reason=reason, amount_paid=amount, amount_due=amount,
                         currency="usd", customer="cus_1",
                         parent={"type": "subscription_details", "subscription_details": details})


def subscription_order(**fields: Any) -> OrderRecord:
    return order(kind="subscription", amount=999, payment_ids=[], open_payment_id=None, price_id="price_1",
                 recurring_payment_id="sub_rec_1", **fields)


def test_the_first_invoice_pays_the_subscription_order():
    o, r = subscription_order(), recurring(status="active")
    decision = decide(RENEWAL_RULES, event("invoice.paid", invoice("subscription_create")), recurring=r, parent=o,
                      payment=None)
    made = next(p for p in decision.saved if isinstance(p, PaymentRecord))
    assert (made.payment_id, made.status, o.status, o.paid_by_payment_id) == ("pay_in_1", "succeeded", "paid",
                                                                              "pay_in_1")


def test_a_cycle_invoice_makes_one_paid_renewal_order():
    o, r = subscription_order(status="paid"), recurring(status="active")
    decision = decide(RENEWAL_RULES, event("invoice.paid", invoice("subscription_cycle", id="in_2")), recurring=r,
                      parent=o, payment=None, renewal=None)
    renewal = next(x for x in decision.saved if isinstance(x, OrderRecord))
    assert (renewal.order_id, renewal.kind, renewal.status, renewal.parent_order_id) == (
        "ord_in_2", "renewal", "paid", "ord_1")


def test_an_invoice_of_a_subscription_we_do_not_hold_is_not_ours():
    with pytest.raises(NotOurs):
        decide(RENEWAL_RULES, event("invoice.paid", invoice("subscription_cycle", subscription_id="sub_9")),
               recurring=recurring(status="active"), parent=subscription_order(status="paid"), payment=None,
               renewal=None)


def test_a_failure_after_the_invoice_was_paid_changes_nothing():
    o, r = subscription_order(status="paid"), recurring(status="active")
    p = payment(payment_id="pay_in_1", mode="invoice", status="succeeded", amount=999)
    assert decide(RENEWAL_RULES, event("invoice.payment_failed", invoice("subscription_create")), recurring=r,
                  parent=o, payment=p) is None

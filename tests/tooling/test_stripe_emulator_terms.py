"""The Stripe emulator's billing extensions (14-19), run as a real process: promotion codes, trials, discounts, plan
changes with proration and the invoice preview, SetupIntents and saved cards, the portal, entitlements and
subscription-mode Checkout, each answered as Stripe answers it, with signed webhooks."""

from __future__ import annotations

import time
import urllib.parse
import urllib.request

import pytest
import stripe

from devstack.stripe_emulator import advance_subscription

pytestmark = pytest.mark.emulator


@pytest.fixture
def prices(client: stripe.StripeClient):
    basic = client.v1.prices.create({"currency": "usd", "unit_amount": 900, "recurring": {"interval": "month"},
                                     "product_data": {"name": "Basic"}})
    plus = client.v1.prices.create({"currency": "usd", "unit_amount": 1900, "recurring": {"interval": "month"},
                                    "product_data": {"name": "Plus"}})
    return basic, plus


@pytest.fixture
def customer(client: stripe.StripeClient):
    return client.v1.customers.create({"metadata": {"userId": "u1"}})


def subscribe(client, customer, price, **terms):
    return client.v1.subscriptions.create({
        "customer": customer.id, "items": [{"price": price.id, "quantity": 1}],
        "payment_behavior": "default_incomplete",
        "payment_settings": {"save_default_payment_method": "on_subscription"},
        "expand": ["latest_invoice.confirmation_secret", "pending_setup_intent"], **terms})


def pay(client, subscription, payment_method="pm_card_visa"):
    intent = subscription.latest_invoice.confirmation_secret.client_secret.split("_secret_")[0]
    client.v1.payment_intents.update(intent, {"payment_method": payment_method})
    client.v1.payment_intents.confirm(intent)
    return client.v1.subscriptions.retrieve(subscription.id)


def code(client, name, **coupon):
    created = client.v1.coupons.create({"duration": "once", **coupon})
    return client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": created.id}, "code": name})


def events_of(client, event_type):
    """The events of ``event_type``, oldest first (Stripe lists newest first, as the emulator does: extension 20)."""
    return list(reversed([e for e in client.v1.events.list({"limit": 100}).data if e.type == event_type]))


# --- 14. promotion codes ----------------------------------------------------------------------------------------


def test_promotion_codes_in_the_current_shape(client):
    promo = code(client, "FALL25", percent_off=25)
    assert promo.promotion.type == "coupon" and isinstance(promo.promotion.coupon, str) and promo.active
    found = client.v1.promotion_codes.list({"code": "fall25", "expand": ["data.promotion.coupon"]}).data
    assert [p.id for p in found] == [promo.id] and found[0].promotion.coupon.percent_off == 25
    with pytest.raises(stripe.InvalidRequestError):  # an active code is unique
        client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": promo.promotion.coupon},
                                          "code": "FALL25"})
    expired = client.v1.promotion_codes.create({"promotion": {"type": "coupon", "coupon": promo.promotion.coupon},
                                                "code": "OLD", "expires_at": int(time.time()) - 1})
    assert client.v1.promotion_codes.retrieve(expired.id).active is False
    client.v1.promotion_codes.update(promo.id, {"active": False})
    assert client.v1.promotion_codes.list({"code": "FALL25", "active": True}).data == []


# --- 15. trials, discounts, plan changes ---------------------------------------------------------------------------


def test_a_trial_bills_zero_then_charges_the_saved_card_at_its_end(emulator, client, customer, prices, webhooks):
    basic, _ = prices
    sub = subscribe(client, customer, basic, trial_period_days=14,
                    trial_settings={"end_behavior": {"missing_payment_method": "cancel"}})
    assert sub.status == "trialing" and sub.trial_end - sub.trial_start == 14 * 86400
    first = sub.latest_invoice
    assert (first.billing_reason, first.status, first.total, first.lines.data[0].description) == (
        "subscription_create", "paid", 0, "Trial period for Basic")
    assert sub["items"].data[0].current_period_end == sub.trial_end
    setup = sub.pending_setup_intent
    client.v1.setup_intents.confirm(setup.id, {"payment_method": "pm_card_visa"})
    saved = client.v1.subscriptions.retrieve(sub.id)
    assert saved.default_payment_method and saved.pending_setup_intent is None
    invoice = advance_subscription(emulator, sub.id)
    after = client.v1.subscriptions.retrieve(sub.id)
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == ("subscription_cycle", "paid", 900)
    assert after.status == "active" and after["items"].data[0].current_period_start == sub.trial_end


@pytest.mark.parametrize(("behavior", "status", "event"), [
    ("cancel", "canceled", "customer.subscription.deleted"), ("pause", "paused", "customer.subscription.paused")])
def test_a_trial_without_a_card_ends_as_its_settings_say(emulator, client, customer, prices, behavior, status, event):
    sub = subscribe(client, customer, prices[0], trial_period_days=3,
                    trial_settings={"end_behavior": {"missing_payment_method": behavior}})
    ended = advance_subscription(emulator, sub.id)
    assert ended.status == status
    assert any(e.data.object.id == sub.id for e in events_of(client, event))


def test_a_once_coupon_discounts_the_first_invoice_only(emulator, client, customer, prices):
    promo = code(client, "HALF", percent_off=50)
    sub = subscribe(client, customer, prices[0], discounts=[{"promotion_code": promo.id}])
    first = sub.latest_invoice
    assert (first.subtotal, first.total, first.total_discount_amounts[0].amount) == (900, 450, 450)
    assert sub.discounts and first.discounts == sub.discounts
    pay(client, sub)
    renewal = advance_subscription(emulator, sub.id)
    assert (renewal.total, renewal.total_discount_amounts) == (900, [])
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1


def test_a_code_that_cannot_be_redeemed_is_a_400_on_discounts(client, customer, prices):
    promo = code(client, "EURO", amount_off=100, currency="eur")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        subscribe(client, customer, prices[0], discounts=[{"promotion_code": promo.id}])
    assert refused.value.param == "discounts[0]"


def test_the_preview_is_the_invoice_the_change_makes(client, customer, prices, webhooks):
    basic, plus = prices
    sub = pay(client, subscribe(client, customer, basic))
    item = sub["items"].data[0].id
    at = sub["items"].data[0].current_period_start + 10 * 86400
    details = {"items": [{"id": item, "price": plus.id}], "proration_behavior": "always_invoice",
               "proration_date": at}
    preview = client.v1.invoices.create_preview({"customer": customer.id, "subscription": sub.id,
                                                 "subscription_details": details})
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == basic.id  # changed nothing
    changed = client.v1.subscriptions.update(sub.id, {"items": [{"id": item, "price": plus.id}],
                                                      "proration_behavior": "always_invoice", "proration_date": at})
    invoice = client.v1.invoices.retrieve(changed.latest_invoice)
    assert (invoice.billing_reason, invoice.status) == ("subscription_update", "paid")
    assert invoice.amount_due == preview.amount_due > 0
    assert [(line.amount, line.parent.subscription_item_details.proration) for line in invoice.lines.data] == [
        (line.amount, True) for line in preview.lines.data]
    assert preview.lines.data[0].amount < 0 < preview.lines.data[1].amount
    assert changed["items"].data[0].price.id == plus.id


def test_prorations_created_for_later_go_on_the_next_cycle_and_none_makes_none(emulator, client, customer, prices):
    basic, plus = prices
    sub = pay(client, subscribe(client, customer, basic))
    item = sub["items"].data[0].id
    changed = client.v1.subscriptions.update(sub.id, {"items": [{"id": item, "price": plus.id}]})
    assert client.v1.invoices.retrieve(changed.latest_invoice).billing_reason == "subscription_create"
    renewal = advance_subscription(emulator, sub.id)
    assert sorted(line.parent.subscription_item_details.proration for line in renewal.lines.data) == [
        False, True, True]
    back = client.v1.subscriptions.update(sub.id, {"items": [{"id": item, "price": basic.id}],
                                                   "proration_behavior": "none"})
    assert client.v1.invoices.retrieve(back.latest_invoice).id == renewal.id
    assert [line.amount for line in advance_subscription(emulator, sub.id).lines.data] == [900]


def test_a_change_of_interval_or_currency_is_refused(client, customer, prices):
    sub = pay(client, subscribe(client, customer, prices[0]))
    yearly = client.v1.prices.create({"currency": "usd", "unit_amount": 9000, "recurring": {"interval": "year"},
                                      "product_data": {"name": "Yearly"}})
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.update(sub.id, {"items": [{"id": sub["items"].data[0].id, "price": yearly.id}]})
    assert refused.value.param == "items[0][price]"


# --- 16. SetupIntents and saved cards ------------------------------------------------------------------------------


def test_a_confirmed_setup_intent_attaches_the_card_and_detaching_the_default_unsets_it(client, customer, webhooks):
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.setup_intents.create({"customer": customer.id, "payment_method_types": ["card"]})
    assert refused.value.param == "payment_method_types"
    setup = client.v1.setup_intents.create({"customer": customer.id, "automatic_payment_methods": {"enabled": True}})
    assert setup.automatic_payment_methods.enabled is True
    done = client.v1.setup_intents.confirm(setup.id, {"payment_method": "pm_card_visa"})
    assert done.status == "succeeded"
    cards = client.v1.payment_methods.list({"customer": customer.id, "type": "card"}).data
    assert [c.id for c in cards] == [done.payment_method]
    client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": done.payment_method}})
    client.v1.payment_methods.detach(done.payment_method)
    assert client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method is None
    with pytest.raises(stripe.InvalidRequestError):  # not attached any more
        client.v1.payment_methods.detach(done.payment_method)
    types = {e.type for e in client.v1.events.list({"limit": 100}).data}
    assert {"setup_intent.succeeded", "payment_method.attached", "payment_method.detached"} <= types


def test_a_customer_default_must_be_the_customers_card_and_an_unknown_card_is_a_404(client, customer):
    other = client.v1.customers.create({})
    theirs = client.v1.setup_intents.confirm(
        client.v1.setup_intents.create({"customer": other.id}).id, {"payment_method": "pm_card_visa"}).payment_method
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.update(customer.id, {"invoice_settings": {"default_payment_method": theirs}})
    assert refused.value.param == "invoice_settings[default_payment_method]"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_methods.retrieve("pm_nosuchcard")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")


# --- 17. the portal ---------------------------------------------------------------------------------------------


def test_the_portal_page_cancels_and_switches_plans(client, customer, prices):
    basic, plus = prices
    sub = pay(client, subscribe(client, customer, basic))
    session = client.v1.billing_portal.sessions.create({"customer": customer.id,
                                                        "return_url": "https://shop.example/account"})
    assert session.url.endswith(f"/billing_portal/{session.id}") and session.return_url

    def act(**form):
        data = urllib.parse.urlencode({"subscription": sub.id, **form}).encode()
        with urllib.request.urlopen(urllib.request.Request(session.url, data=data), timeout=10) as page:  # noqa: S310
            return page.read().decode()

    assert "Switch to Plus" in act()
    act(price=plus.id)
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == plus.id
    act(action="cancel")
    assert client.v1.subscriptions.retrieve(sub.id).cancel_at_period_end is True


# --- 18. entitlements ---------------------------------------------------------------------------------------------


def test_active_entitlements_follow_the_subscription_and_a_summary_is_sent_on_each_change(client, customer, prices):
    basic, _ = prices
    feature = client.v1.entitlements.features.create({"name": "Reports", "lookup_key": "reports"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.entitlements.features.create({"name": "Again", "lookup_key": "reports"})
    client.raw_request("post", f"/v1/products/{basic.product}/features", entitlement_feature=feature.id)
    sub = subscribe(client, customer, basic)
    assert client.v1.entitlements.active_entitlements.list({"customer": customer.id}).data == []  # incomplete
    pay(client, sub)
    active = client.v1.entitlements.active_entitlements.list({"customer": customer.id}).data
    assert [(e.lookup_key, e.feature) for e in active] == [("reports", feature.id)]
    client.v1.subscriptions.cancel(sub.id)
    assert client.v1.entitlements.active_entitlements.list({"customer": customer.id}).data == []
    summaries = [e.data.object for e in events_of(client, "entitlements.active_entitlement_summary.updated")
                 if e.data.object.customer == customer.id]
    assert [[x.lookup_key for x in s.entitlements.data] for s in summaries] == [["reports"], []]


# --- 19. subscription-mode Checkout -----------------------------------------------------------------------------


def test_a_subscription_checkout_makes_the_subscription_when_paid(emulator, client, customer, prices):
    basic, _ = prices
    params = {"mode": "subscription", "customer": customer.id, "line_items": [{"price": basic.id, "quantity": 1}],
              "success_url": "https://shop.example/ok", "cancel_url": "https://shop.example/no",
              "metadata": {"a": "b"}, "subscription_data": {"metadata": {"orderId": "ord_1"}}}
    session = client.v1.checkout.sessions.create(params)
    assert (session.mode, session.amount_total, session.subscription) == ("subscription", 900, None)
    with pytest.raises(stripe.CardError):
        emulator.complete_checkout_session(session.id, "pm_card_chargeCustomerFail")
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    done = emulator.complete_checkout_session(session.id)
    sub = client.v1.subscriptions.retrieve(done.subscription)
    assert (done.status, done.payment_status, sub.status, sub.metadata.orderId) == ("complete", "paid", "active",
                                                                                   "ord_1")
    assert sub.default_payment_method and client.v1.invoices.retrieve(done.invoice).status == "paid"


def test_a_payment_checkout_with_a_code_charges_the_discounted_amount(emulator, client):
    one_time = client.v1.prices.create({"currency": "usd", "unit_amount": 2000, "product_data": {"name": "Mug"}})
    promo = code(client, "TENOFF", percent_off=10)
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "line_items": [{"price": one_time.id, "quantity": 1}], "discounts": [
            {"promotion_code": promo.id}], "success_url": "https://shop.example/ok", "cancel_url": "https://x.example/"})
    assert (session.amount_subtotal, session.amount_total, session.total_details.amount_discount) == (2000, 1800, 200)
    done = emulator.complete_checkout_session(session.id)
    assert client.v1.payment_intents.retrieve(done.payment_intent).amount == 1800

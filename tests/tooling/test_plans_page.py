"""The demo page's plans view (``devstack/demo_page/plans.js``) in a real browser against the local stack: subscribe
to a plan with a card, see its entitlement appear, preview a plan change and confirm it (its adjustment order shows
in the orders table), save a card, and start a trial. Needs Chromium, as ``test_checkout_page.py`` does."""

from __future__ import annotations

import re

import pytest

from tests.tooling.test_checkout_page import VISA, WEBHOOK_TIMEOUT_MS, browser, page, stack

pytestmark = pytest.mark.emulator
__all__ = ["browser", "page", "stack"]  # the browser and the local stack, shared with the checkout page's tests


def enter_card(page, number: str) -> None:
    """The plans view's own card form (Stripe.js's card Element)."""
    card = "#plan-card-element input[placeholder={}]"
    for field, value in (("number", number), ("exp_month", "12"), ("exp_year", "34"), ("cvc", "123"),
                         ("postal_code", "10115")):
        page.fill(card.format(field), value)


def sign_in(page, user: str) -> None:
    from playwright.sync_api import expect

    page.fill("#user", user)
    page.click("#sign-in")
    expect(page.locator("#signed-in")).to_have_text(f"signed in as {user}")
    expect(page.locator("#plan-list li")).to_have_count(2)


def test_subscribe_see_the_entitlement_then_change_plan_after_the_preview(page, stack):
    from playwright.sync_api import expect

    sign_in(page, "browser-plans")
    enter_card(page, VISA)
    # When the user subscribes to the first plan with a card
    page.locator("#plan-list li").first.locator("button.subscribe").click()
    # Then it is paid, the subscription active, and its feature is what the user may use
    expect(page.locator("#plan-message")).to_have_text(re.compile(r"active, order paid"), timeout=WEBHOOK_TIMEOUT_MS)
    expect(page.locator("#entitlements")).to_have_text("club-newsletter", timeout=WEBHOOK_TIMEOUT_MS)
    # When the user previews the other plan
    expect(page.locator("#subscriptions tbody tr")).to_have_count(1)
    page.locator("#subscriptions button.change-plan").click()
    # Then the preview shows what changing now bills, and its lines (a credit and a charge)
    expect(page.locator("#change-preview")).to_be_visible()
    expect(page.locator("#preview-amount")).to_have_text(re.compile(r"\d"))
    expect(page.locator("#preview-lines li")).to_have_count(2)
    # When the user confirms it
    page.click("#confirm-change")
    # Then the plan change is paid as an adjustment order, shown in the orders, and the new feature appears
    expect(page.locator("#plan-message")).to_have_text(re.compile(r"plan change is paid"), timeout=WEBHOOK_TIMEOUT_MS)
    expect(page.locator("#entitlements")).to_have_text(re.compile("club-events"), timeout=WEBHOOK_TIMEOUT_MS)
    expect(page.locator("#orders .status-paid")).to_have_count(2)


def test_save_a_card_and_start_a_trial(page, stack):
    from playwright.sync_api import expect

    sign_in(page, "browser-trial")
    enter_card(page, VISA)
    # Saving the card: it is listed, with its brand and last four digits
    page.click("#save-card")
    expect(page.locator("#saved-cards li")).to_have_count(1)
    expect(page.locator("#saved-cards li")).to_contain_text("visa ending 4242")
    # A 14-day trial: the card is saved for the trial's end; the order is paid with nothing charged
    page.fill("#trial-days", "14")
    page.locator("#plan-list li").first.locator("button.subscribe").click()
    expect(page.locator("#plan-message")).to_have_text(re.compile(r"trialing, order paid"),
                                                       timeout=WEBHOOK_TIMEOUT_MS)

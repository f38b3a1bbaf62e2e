"""The checkout page (``/demo/``) in a real browser: headless Chromium, driven by Playwright, against the
local stack with the Stripe emulator. It pays with Stripe.js as a real integration does
(``confirmCardPayment(clientSecret, {payment_method: {card}})``) and watches the order turn paid as the
webhook lands, without a reload.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``; ``.ci/run`` installs it).
Without it the tests are skipped, except in CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack.stack_process import StackProcess
from tests.support.local_stack import request, stack_process

pytestmark = pytest.mark.emulator

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VISA = "4242 4242 4242 4242"
DECLINED = "4000 0000 0000 0341"
THREE_D_SECURE = "4000 0025 0000 3155"
WEBHOOK_TIMEOUT_MS = 20_000


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (make venv)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the browser tests must run in CI, but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, browser) -> Iterator[StackProcess]:
    # the reconciler runs only when the page asks (not every minute): what it recovers is the page's doing
    with stack_process(tmp_path_factory.mktemp("browser-stack"), None, "--schedule-seconds", "3600") as running:
        yield running


@pytest.fixture
def page(browser, stack):
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.api}/demo/")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def sign_in_and_order(page, user: str) -> str:
    """Sign in as ``user``, create an order of the catalog T-shirt; returns its id."""
    from playwright.sync_api import expect

    page.fill("#user", user)
    page.click("#sign-in")
    expect(page.locator("#signed-in")).to_have_text(f"signed in as {user}")
    page.click("#create-order")
    expect(page.locator("#paying-order")).to_have_text(re.compile(r"^ord_"))  # created, and up for payment
    order_id = page.locator("#paying-order").text_content()
    expect(status_cell(page, order_id)).to_have_text("pending")
    return order_id


def status_cell(page, order_id: str):
    return page.locator(f'#orders tr[data-order-id="{order_id}"] .status')


def enter_card(page, number: str) -> None:
    card = "#card-element input[placeholder={}]"
    page.fill(card.format("number"), number)
    page.fill(card.format("exp_month"), "12")
    page.fill(card.format("exp_year"), "34")
    page.fill(card.format("cvc"), "123")
    page.fill(card.format("postal_code"), "10115")


def order_from_api(stack: StackProcess, user: str, order_id: str) -> dict[str, Any]:
    token = request("GET", f"{stack.api}/_local/token?user={user}")[1]["token"]
    status, body, _ = request("GET", f"{stack.api}/orders/{order_id}", token=token)
    assert status == 200, body
    return body


def test_paying_with_a_test_card_turns_the_order_paid_without_a_reload(page, stack):
    from playwright.sync_api import expect

    # Given a new order on the page
    order_id = sign_in_and_order(page, "browser-visa")
    page.evaluate("window.__sameDocument = true")
    # When the customer pays it with 4242 4242 4242 4242
    enter_card(page, VISA)
    page.click("#pay")
    # Then the order's status on the page turns paid once the webhook has landed
    expect(status_cell(page, order_id)).to_have_text("paid", timeout=WEBHOOK_TIMEOUT_MS)
    expect(page.locator("#payment-message")).to_have_text(f"Order {order_id} is paid.")
    assert page.evaluate("window.__sameDocument") is True, "the page must not reload"
    # And the backend agrees: one succeeded payment, the order paid
    order = order_from_api(stack, "browser-visa", order_id)
    assert order["status"] == "paid"
    assert [(p["status"], p["amount"]) for p in order["payments"]] == [("succeeded", order["amount"])]


def test_a_declined_card_is_shown_and_the_order_stays_pending(page, stack):
    from playwright.sync_api import expect

    # Given a new order on the page
    order_id = sign_in_and_order(page, "browser-declined")
    # When the customer pays with a card that is declined (4000 0000 0000 0341)
    enter_card(page, DECLINED)
    page.click("#pay")
    # Then the page shows Stripe's decline
    expect(page.locator("#payment-message")).to_have_text(re.compile("declined", re.I))
    expect(page.locator("#payment-message")).to_have_attribute("data-outcome", "error")
    # And once Stripe's payment_failed webhook has landed, the payment is failed and the order still pending
    deadline = time.monotonic() + WEBHOOK_TIMEOUT_MS / 1000
    order = order_from_api(stack, "browser-declined", order_id)
    while order["payments"][0]["status"] != "failed" and time.monotonic() < deadline:
        time.sleep(0.2)
        order = order_from_api(stack, "browser-declined", order_id)
    assert order["payments"][0]["status"] == "failed"
    assert order["status"] == "pending"
    page.click("#sign-in")  # the page reads the orders again
    expect(status_cell(page, order_id)).to_have_text("pending")


def test_a_card_asking_for_3d_secure_completes_the_challenge_and_is_paid(page, stack):
    from playwright.sync_api import expect

    # Given a new order on the page
    order_id = sign_in_and_order(page, "browser-3ds")
    # When the customer pays with a card that asks for 3-D Secure (4000 0025 0000 3155)
    enter_card(page, THREE_D_SECURE)
    page.click("#pay")
    # Then Stripe.js shows the challenge, and completing it pays the order
    challenge = page.get_by_role("button", name="Complete authentication")
    expect(challenge).to_be_visible()
    expect(status_cell(page, order_id)).to_have_text("pending")
    challenge.click()
    expect(status_cell(page, order_id)).to_have_text("paid", timeout=WEBHOOK_TIMEOUT_MS)
    assert order_from_api(stack, "browser-3ds", order_id)["status"] == "paid"


def test_a_payment_whose_webhook_is_lost_turns_paid_once_the_reconciler_runs(page, stack):
    from playwright.sync_api import expect

    # Given the payment webhooks are being lost (the page's "Never out of sync" panel)
    page.click("#lose-webhooks")
    expect(page.locator("#reconcile-message")).to_contain_text("down for 60 s")
    order_id = sign_in_and_order(page, "browser-lost")
    # When the customer pays: Stripe takes the money, the webhook never arrives
    enter_card(page, VISA)
    page.click("#pay")
    expect(page.locator("#payment-message")).to_contain_text("Waiting", timeout=WEBHOOK_TIMEOUT_MS)
    page.wait_for_timeout(2500)  # Stripe's delivery (about 1 s later) is lost
    assert order_from_api(stack, "browser-lost", order_id)["status"] == "pending"
    request("POST", f"{stack.api}/_local/webhooks/payment/up")
    # Then running the reconciler from the page pays it, and the page shows it without a reload
    page.click("#reconcile-now")
    expect(page.locator("#reconcile-message")).to_contain_text("applied 1 that no webhook had delivered")
    expect(status_cell(page, order_id)).to_have_text("paid", timeout=WEBHOOK_TIMEOUT_MS)

# --- selling and the user's data (devstack/demo_page/account.js) -------------------------------------------------


def test_a_user_becomes_a_seller_onboards_at_stripe_and_comes_back_active(page, stack):
    from playwright.sync_api import expect

    page.fill("#user", "browser-seller")
    page.click("#sign-in")
    expect(page.locator("#seller-status")).to_have_text("Not a seller yet.")
    page.click("#become-seller")
    expect(page.locator("#seller-status")).to_have_attribute("data-status", "onboarding")
    expect(page.locator("#seller-onboarding")).to_be_visible()
    # The link opens Stripe's onboarding (the emulator's page); completing it comes back to the page
    page.click("#onboarding-link")
    page.click("#complete")
    page.wait_for_url(re.compile(r"/demo/\?user=browser-seller&onboarded=1$"))
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#signed-in")).to_have_text("signed in as browser-seller")
    expect(page.locator("#seller-status")).to_have_attribute("data-status", "active", timeout=WEBHOOK_TIMEOUT_MS)


def test_a_user_exports_their_data_and_erases_it(page, stack):
    from playwright.sync_api import expect

    order_id = sign_in_and_order(page, "browser-privacy")
    page.click("#export-data")
    expect(page.locator("#export")).to_contain_text(order_id)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#erase-me")
    expect(page.locator("#data-message")).to_have_text("Erased. Your orders list is now empty.")
    expect(page.locator(f'#orders tr[data-order-id="{order_id}"]')).to_have_count(0)


def test_an_admin_reports_usage_for_a_customer_and_the_same_report_again_counts_once(page, stack):
    from playwright.sync_api import expect

    # A user with a Stripe customer (saving a card makes one) and one without
    token = request("GET", f"{stack.api}/_local/token?user=browser-metered")[1]["token"]
    assert request("POST", f"{stack.api}/payment-methods/setup", token=token)[0] == 201
    page.fill("#user", "browser-usage-admin")
    page.check("#admin")
    page.click("#sign-in")
    expect(page.locator("#usage")).to_be_visible()
    page.fill("#usage-user", "browser-unknown")
    page.click("#report-usage")
    expect(page.locator("#usage-message")).to_contain_text("no_billing_customer")
    page.fill("#usage-user", "browser-metered")
    page.click("#report-usage")
    expect(page.locator("#usage-message")).to_contain_text("202: report")
    first = page.locator("#usage-message").text_content()
    page.click("#report-usage-again")
    expect(page.locator("#usage-message")).to_have_text(first)  # the same report, the same identifier
    events = request("GET", f"{stack.config['stripe']}/_test/billing/meter_events?event_name=api_calls",
                     token="sk_test_stripe_emulator")[1]["data"]
    identifier = first.rsplit("identifier ", 1)[1]
    assert [e["identifier"] for e in events].count(identifier) == 1  # counted once at Stripe


def test_the_usage_panel_is_for_admins_only(page, stack):
    from playwright.sync_api import expect

    page.fill("#user", "browser-not-admin")
    page.click("#sign-in")
    expect(page.locator("#signed-in")).to_have_text("signed in as browser-not-admin")
    expect(page.locator("#usage")).to_be_hidden()

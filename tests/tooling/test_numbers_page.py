"""The numbers on the demo page (headless Chromium against the local stack, as tests/tooling/test_checkout_page.py):
an admin who pays an order sees it counted in the chart's summary; Chart.js comes from the stack itself (no CDN);
a user who is not an admin never sees the section."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.stack_process import StackProcess
from tests.support.local_stack import stack_process
from tests.tooling.test_checkout_page import VISA, browser, enter_card, sign_in_and_order, status_cell  # noqa: F401

pytestmark = pytest.mark.emulator
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory, browser) -> Iterator[StackProcess]:  # noqa: F811 (the browser fixture, imported)
    with stack_process(tmp_path_factory.mktemp("numbers-stack")) as running:
        yield running


@pytest.fixture
def page(browser, stack) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    requested: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{stack.api}/demo/")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    page.requested = requested
    yield page
    context.close()
    assert not errors, f"the page threw: {errors}"


def test_an_admin_sees_a_payment_counted_in_the_chart_and_chart_js_is_served_locally(page, stack):
    from playwright.sync_api import expect

    page.check("#admin")
    order_id = sign_in_and_order(page, "numbers-admin")
    expect(page.locator("#numbers")).to_be_visible()
    expect(page.locator("#numbers[data-loaded=true]")).to_have_count(1, timeout=WAIT_MS)
    before = int(page.locator("#numbers-summary").get_attribute("data-succeeded") or 0)
    enter_card(page, VISA)
    page.click("#pay")
    expect(status_cell(page, order_id)).to_have_text("paid", timeout=WAIT_MS)
    expect(page.locator("#numbers-summary")).to_have_attribute("data-succeeded", str(before + 1), timeout=WAIT_MS)
    expect(page.locator("#numbers-summary")).to_have_text(re.compile(r"payments succeeded .* MRR"))
    assert page.evaluate("typeof Chart === 'function' && Chart.version.startsWith('4.')")
    assert page.evaluate("Chart.getChart('numbers-chart').data.datasets.length") == 3
    chart_js = [url for url in page.requested if "chart" in url.lower() and url.endswith(".js")]
    assert chart_js == [f"{stack.api}/demo/vendor/chartjs/chart.umd.min.js"]
    local = (stack.api, stack.config["stripe"] or "", "ws://")
    assert all(url.startswith(local) for url in page.requested), [u for u in page.requested
                                                                  if not u.startswith(local)]


def test_a_user_who_is_not_an_admin_does_not_see_the_numbers(page):
    from playwright.sync_api import expect

    sign_in_and_order(page, "numbers-user")
    expect(page.locator("#numbers")).to_be_hidden()

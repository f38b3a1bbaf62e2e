"""Events out and live status in the local stack (``make dev``), from outside as a client sees them: the WebSocket
API (tokens refused at connect, each user told about their own orders only, a gone connection removed), the
template's consumers invoked by the local bus, and the demo page turning paid from the WebSocket with polling off
(headless Chromium, as tests/tooling/test_checkout_page.py)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import aiohttp
import boto3
import pytest

from devstack.stack_process import StackProcess
from tests.support.local_stack import request, stack_process
from tests.tooling.test_checkout_page import browser, enter_card, status_cell  # noqa: F401 (the browser fixture)

pytestmark = pytest.mark.emulator
WAIT = 20.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[StackProcess]:
    with stack_process(tmp_path_factory.mktemp("live-stack")) as running:
        yield running


def token(stack: StackProcess, user: str, admin: bool = False) -> str:
    query = urllib.parse.urlencode({"user": user, **({"admin": "1"} if admin else {})})
    return request("GET", f"{stack.api}/_local/token?{query}")[1]["token"]


class Client:
    """A WebSocket client of the stack's live API in a thread of its own; ``messages`` as they arrive."""

    def __init__(self, url: str):
        self.url, self.messages, self.status = url, [], None
        self.ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._socket: Any = None
        threading.Thread(target=self._loop.run_until_complete, args=(self._run(),), daemon=True).start()
        self.ready.wait(WAIT)

    async def _run(self) -> None:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(self.url) as socket:
                    self._socket, self.status = socket, 101
                    self.ready.set()
                    async for message in socket:
                        self.messages.append(json.loads(message.data))
            except aiohttp.WSServerHandshakeError as refused:
                self.status = refused.status
            finally:
                self.ready.set()

    def send(self, payload: dict[str, Any]) -> None:
        asyncio.run_coroutine_threadsafe(self._socket.send_str(json.dumps(payload)), self._loop).result(5)

    def close(self) -> None:
        if self._socket is not None:
            asyncio.run_coroutine_threadsafe(self._socket.close(), self._loop).result(5)

    def wait_for(self, predicate, timeout: float = WAIT) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((m for m in list(self.messages) if predicate(m)), None)
            if found is not None:
                return found
            time.sleep(0.05)
        return None


def pay(stack: StackProcess, user: str) -> dict[str, Any]:
    """An order of the catalog T-shirt, paid with a test card the way a mobile app pays it."""
    auth = token(stack, user)
    price = next(p for p in stack.config["catalog"] if not p["recurring"])
    order = request("POST", f"{stack.api}/orders", token=auth, body={"items": [{"priceId": price["priceId"]}]})[1]
    checkout = request("POST", f"{stack.api}/checkout", token=auth, body={"orderId": order["orderId"]})[1]
    intent = checkout["clientSecret"].split("_secret_")[0]
    form = urllib.parse.urlencode({"key": stack.config["publishableKey"], "client_secret": checkout["clientSecret"],
                                   "payment_method": "pm_card_visa"}).encode()
    status, body, _ = request("POST", f"{stack.config['stripe']}/v1/payment_intents/{intent}/confirm", body=form,
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert status == 200 and body["status"] == "succeeded", body
    return order


@pytest.mark.parametrize("case", ["missing", "garbage", "expired"])
def test_a_bad_expired_or_missing_token_is_refused_at_connect(stack, case):
    from devstack.local_auth import load_signing_key, mint_token

    key = load_signing_key(stack.command[stack.command.index("--state-dir") + 1])
    tokens = {"missing": None, "garbage": "not-a-token", "expired": mint_token(key, "eve", now=1_000_000_000)}
    url = stack.config["live"] + ("" if tokens[case] is None else f"?token={tokens[case]}")
    assert Client(url).status == 401


def test_two_users_connected_one_pays_only_that_user_hears_of_it_and_ping_pongs(stack):
    alice = Client(f"{stack.config['live']}?token={token(stack, 'live-alice')}")
    bob = Client(f"{stack.config['live']}?token={token(stack, 'live-bob')}")
    assert (alice.status, bob.status) == (101, 101)
    bob.send({"action": "ping"})
    assert bob.wait_for(lambda m: m == {"type": "pong"})
    order = pay(stack, "live-alice")
    paid = alice.wait_for(lambda m: m.get("type") == "OrderPaid")
    assert paid is not None, stack.output[-3000:]
    assert paid["order"]["orderId"] == order["orderId"] and paid["order"]["status"] == "paid"
    assert paid["causedBy"]["stripeEventId"].startswith("evt_") and paid["eventId"]
    # each table's stream is published on its own: the payment's event may come after the order's
    assert alice.wait_for(lambda m: m.get("type") == "PaymentSucceeded"), stack.output[-3000:]
    assert {m["type"] for m in alice.messages} >= {"OrderCreated", "PaymentSucceeded", "OrderPaid"}
    assert [m for m in bob.messages if m.get("type") != "pong"] == []
    assert all(m["order"]["userId"] == "live-alice" for m in alice.messages)
    alice.close()
    bob.close()


def test_a_gone_connection_is_removed_when_an_event_finds_it_gone(stack):
    dynamodb = boto3.resource("dynamodb", endpoint_url=stack.config["dynamodb"], region_name="us-east-1",
                              aws_access_key_id="local", aws_secret_access_key="local")  # noqa: S106
    table = dynamodb.Table("LiveConnectionsTable")
    table.put_item(Item={"userId": "live-carol", "connectionId": "GoneAway0000000=", "connectedAt": "x",
                         "expiresAt": int(time.time()) + 3600})
    pay(stack, "live-carol")
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline and table.get_item(
            Key={"userId": "live-carol", "connectionId": "GoneAway0000000="}).get("Item"):
        time.sleep(0.1)
    assert not table.get_item(Key={"userId": "live-carol", "connectionId": "GoneAway0000000="}).get("Item")
    assert stack.wait_for_output(r"WS POST /@connections/GoneAway0000000= 410")


def test_the_example_consumer_runs_when_order_paid_is_published_and_each_event_is_one_line(stack):
    order = pay(stack, "live-dave")
    found = stack.wait_for_output(rf"EVENT OrderPaid {order['orderId']} eventId=\S+ -> OnOrderPaidFunction, "
                                  rf"LiveNotifyFunction", timeout=WAIT)
    assert found, stack.output[-3000:]
    assert stack.wait_for_output(rf"DELIVER OrderPaid -> OnOrderPaidFunction ok \d+ms .*receipt-{order['orderId']}",
                                 timeout=WAIT)
    assert stack.wait_for_output(r"STREAM OrdersTable \d+ record\(s\) -> EventPublisherFunction ok")


@pytest.fixture
def page(browser, stack):  # noqa: F811 (the browser fixture, imported)
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    order_reads: list[str] = []
    page.on("request", lambda r: order_reads.append(r.url) if re.search(r"/orders/ord_", r.url) else None)
    page.goto(f"{stack.api}/demo/")
    page.wait_for_selector("body[data-ready=true]", timeout=15_000)
    yield page, order_reads
    context.close()
    assert not errors, f"the page threw: {errors}"


def test_the_demo_page_turns_paid_from_the_websocket_with_polling_off_and_an_admin_watches_a_refund_land(page):
    from playwright.sync_api import expect

    page, order_reads = page
    page.fill("#user", "browser-live-ada")
    page.check("#admin")
    page.click("#sign-in")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "open")
    page.click("#create-order")
    expect(page.locator("#paying-order")).to_have_text(re.compile(r"^ord_"))
    order_id = page.locator("#paying-order").text_content()
    # The card form's fields are labelled for a person
    payment = page.get_by_role("region", name="Payment")
    payment.get_by_label("Card number").fill("4242 4242 4242 4242")
    payment.get_by_label("Expiry month (MM)").fill("12")
    payment.get_by_label("Expiry year (YY)").fill("34")
    payment.get_by_label("CVC").fill("123")
    payment.get_by_label("Postal code").fill("10115")
    page.click("#pay")
    expect(status_cell(page, order_id)).to_have_text("paid", timeout=20_000)
    expect(page.locator("#payment-message")).to_have_text(f"Order {order_id} is paid.")
    assert order_reads == [], "the page polled GET /orders/{id}: it must learn it from the WebSocket"
    expect(page.locator("#events li[data-type=OrderPaid]")).to_have_count(1)
    # An admin refunds part of it and watches the refund land
    page.locator(f'#orders tr[data-order-id="{order_id}"] .refund-order').click()
    expect(status_cell(page, order_id)).to_have_text("partially_refunded", timeout=20_000)
    expect(page.locator("#events li[data-type=RefundSucceeded]")).to_have_count(1)
    assert order_reads == []

"""``make demo``: the whole product, walked through against the local stack, with a readable account of it.

It uses the stack that ``make dev`` runs (``--api``, default http://127.0.0.1:3000) when one answers there,
and otherwise starts its own on free ports (``devstack.stack_process``) and stops it at the end. Everything
goes through the HTTP API and the Function URLs the way clients and Stripe use them: tokens from the stack's
local issuer, payments confirmed with the publishable key and the client secret (as Stripe.js and the mobile
SDKs do), webhooks delivered by Stripe to the callbacks.

Sections (each checks the state it should end in; the exit code is 1 if any step does not):

1. a one-time payment: order -> checkout -> card payment -> webhook -> paid; another user cannot see it;
   a repeated webhook delivery is applied once;
2. a declined card, then another card on the same order -> paid;
3. a web checkout (Stripe Checkout Session, paid on the emulator's hosted page) -> paid;
4. a partial refund by an admin -> partially_refunded (a user may not refund; no refund over what is left);
5. a subscription: order -> subscribe -> first payment -> paid; a renewal -> a new paid renewal order;
   cancel. Skipped, with a note, while ``SubscribeFunction`` is not in template.yaml.
6. a marketplace: Bob becomes a seller (Stripe Connect), onboards, turns active; Alice's order from him is
   paid by a destination charge with the platform's fee; a partial refund takes back part of his share;
7. usage billing: the same usage report sent twice, one meter event at Stripe;
8. the payment attempt limit: ten attempts, then the 11th is refused with ``Retry-After``;
9. privacy: a user with a paid order and an active subscription exports their data, is erased (the Stripe
   customer deleted, the subscription ended), and erased again.

A section needing what only the emulator can do (play a customer on the hosted page, sign a replayed
event, end a billing period) says so and skips that part when the stack runs against Stripe's test mode.
Add a section: write ``def section_x(demo)`` and list it in :data:`SECTIONS`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS
from devstack.local_stack import EMULATOR_SECRET_KEY, STACK_NAME
from devstack.stack_process import StackProcess
from devstack.stripe_events import encode_event, sign_payload

DEFAULT_API = "http://127.0.0.1:3000"
WAIT_SECONDS = 20.0
ALICE, BOB, ADA = "alice", "bob", "ada"


class DemoFailed(Exception):
    """A step did not end in the expected state."""


class Skip(Exception):
    """This part cannot run here (the message says why); the demo goes on."""


def _unique(name: str) -> str:
    """A user of this run only (the stack may have served earlier runs within the attempt window)."""
    return f"{name}-{int(time.time() * 1000) % 10**9}"


# ------------------------------------------------------------------------------------------ HTTP


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]


def http(method: str, url: str, *, json_body: Any = None, form: dict[str, str] | None = None,
         headers: dict[str, str] | None = None, follow: bool = True, timeout: float = 30) -> Answer:
    data, all_headers = None, dict(headers or {})
    if json_body is not None:
        data, all_headers["content-type"] = json.dumps(json_body).encode(), "application/json"
    elif form is not None:
        data, all_headers["content-type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    opener = urllib.request.build_opener() if follow else urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            raw, status, got = response.read(), response.status, dict(response.headers.items())
    except urllib.error.HTTPError as error:
        raw, status, got = error.read(), error.code, dict(error.headers.items())
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    return Answer(status, body, {k.lower(): v for k, v in got.items()})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# ------------------------------------------------------------------------------------------ the stack


def running_stack(api: str) -> dict[str, Any] | None:
    """The config of a local stack answering at ``api``, or None."""
    try:
        answer = http("GET", f"{api}/_local/config", timeout=2)
    except (OSError, urllib.error.URLError):
        return None
    ok = answer.status == 200 and isinstance(answer.body, dict) and answer.body.get("stack") == STACK_NAME
    return answer.body if ok else None


@contextmanager
def own_stack(startup_timeout: float = 60) -> Iterator[dict[str, Any]]:
    """Start a local stack on free ports (``devstack.stack_process``); yield its config; stop it (Ctrl-C)."""
    stack = StackProcess(startup_timeout=startup_timeout)
    try:
        stack.start()
    except RuntimeError:
        raise DemoFailed("the local stack did not start:\n" + "".join(stack.lines[-40:])) from None
    try:
        yield stack.config
    finally:
        code = stack.stop(timeout=15)
        if code != 0:
            print("".join(stack.lines[-40:]))
            print(f"(the local stack exited with {code})")


# ------------------------------------------------------------------------------------------ the demo


class Demo:
    """The steps' vocabulary: ``say`` a step, ``expect`` its outcome, ``wait_until`` a webhook's effect."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.api = config["api"]
        self.emulator = config["mode"] == "emulator"
        self.step_number = 0
        self._tokens: dict[tuple[str, bool], str] = {}
        self.notes: list[str] = []
        self.shared: dict[str, Any] = {}  # what one section leaves for a later one (the paid order)
        # Alice and Bob are users of this run: payment attempts are limited per user and window, and a stack may
        # serve several runs within one window (the page's own "alice" is left alone).
        self.run_users = {ALICE: _unique(ALICE), BOB: _unique(BOB)}

    # ---------------------------------------------------------------- telling

    def say(self, text: str) -> None:
        self.step_number += 1
        print(f"\n{self.step_number:>3}. {text}")

    @staticmethod
    def show(text: str) -> None:
        print(f"       {text}")

    @staticmethod
    def expect(condition: bool, what: str) -> None:
        print(f"       {'ok' if condition else 'FAILED'}  {what}")
        if not condition:
            raise DemoFailed(what)

    def note(self, text: str) -> None:
        print(f"       note: {text}")
        self.notes.append(text)

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if check():
                self.expect(True, what)
                return
            if time.monotonic() > deadline:
                self.expect(False, f"{what} (waited {timeout:.0f} s)")
            time.sleep(0.25)

    # ---------------------------------------------------------------- calling

    def token(self, user: str, admin: bool = False) -> str:
        user = self.run_users.get(user, user)
        if (user, admin) not in self._tokens:
            query = urllib.parse.urlencode({"user": user, **({"admin": "1"} if admin else {})})
            self._tokens[(user, admin)] = http("GET", f"{self.api}/_local/token?{query}").body["token"]
        return self._tokens[(user, admin)]

    def call(self, method: str, path: str, body: Any = None, *, user: str | None = ALICE,
             admin: bool = False) -> Answer:
        headers = {"authorization": f"Bearer {self.token(user, admin)}"} if user else {}
        return http(method, f"{self.api}{path}", json_body=body, headers=headers)

    def order(self, order_id: str, user: str = ALICE) -> dict[str, Any]:
        return self.call("GET", f"/orders/{order_id}", user=user).body

    def price(self, recurring: bool) -> dict[str, Any]:
        return next(p for p in self.config["catalog"] if bool(p.get("recurring")) == recurring)

    def new_order(self, price: dict[str, Any], quantity: int = 1, user: str = ALICE) -> dict[str, Any]:
        answer = self.call("POST", "/orders", {"items": [{"priceId": price["priceId"], "quantity": quantity}],
                                               "description": f"{quantity} x {price['name']}"}, user=user)
        order = answer.body or {}
        self.expect(answer.status == 201, f"POST /orders -> {answer.status}: {order.get('orderId')}, "
                    f"{order.get('kind')}, {order.get('amount')} {order.get('currency')} (priced by the server), "
                    f"{order.get('status')}")
        return order

    def confirm_card(self, client_secret: str, payment_method: str) -> Answer:
        """What Stripe.js or a mobile SDK does with a client secret: confirm with the publishable key."""
        intent = client_secret.split("_secret_")[0]
        base = self.config["stripe"] or "https://api.stripe.com"
        return http("POST", f"{base}/v1/payment_intents/{intent}/confirm",
                    form={"key": self.config["publishableKey"], "client_secret": client_secret,
                          "payment_method": payment_method})

    def stripe_admin(self) -> Any:
        """A Stripe client with the emulator's key, for what only a test may do (emulator mode only)."""
        if not self.emulator:
            raise Skip("needs the emulator (the stack runs against Stripe's test mode)")
        import stripe

        return stripe.StripeClient(EMULATOR_SECRET_KEY, base_addresses={"api": self.config["stripe"]})


# ------------------------------------------------------------------------------------------ sections


def section_one_time_payment(demo: Demo) -> None:
    tshirt = demo.price(recurring=False)
    demo.say(f"Alice orders two {tshirt['name']}s (catalog price {tshirt['priceId']}, "
             f"{tshirt['unitAmount']} {tshirt['currency']} each)")
    order = demo.new_order(tshirt, quantity=2)
    demo.expect(order.get("amount") == 2 * tshirt["unitAmount"], "the amount is two unit prices")

    demo.say("Without a token the API Gateway JWT authorizer answers first")
    answer = demo.call("GET", "/orders", user=None)
    demo.expect(answer.status == 401 and answer.body == {"message": "Unauthorized"}, 'GET /orders -> 401 '
                '{"message":"Unauthorized"}')

    demo.say("Alice checks out in the mobile app (a PaymentIntent)")
    answer = demo.call("POST", "/checkout", {"orderId": order["orderId"], "amount": order["amount"]})
    pay = answer.body or {}
    demo.expect(answer.status == 201 and str(pay.get("clientSecret", "")).startswith("pi_"),
                f"POST /checkout -> {answer.status}: payment {pay.get('paymentId')}, a client secret for the app")

    demo.say("The app confirms it with test card 4242 4242 4242 4242 (publishable key + client secret)")
    confirmed = demo.confirm_card(pay["clientSecret"], "pm_card_visa")
    demo.expect(confirmed.status == 200 and confirmed.body.get("status") == "succeeded",
                f"Stripe: PaymentIntent {confirmed.body.get('id')} succeeded")

    demo.say("Stripe sends payment_intent.succeeded to the payment callback's Function URL")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "paid", "the order reads paid")
    paid = demo.order(order["orderId"])
    for payment in paid["payments"]:
        demo.show(f"payment {payment['paymentId']}: {payment['status']}, {payment['amount']} {payment['currency']}")
    demo.shared["paid_order"] = paid

    demo.say("Bob asks for Alice's order")
    answer = demo.call("GET", f"/orders/{order['orderId']}", user=BOB)
    demo.expect(answer.status == 404, f"GET /orders/{{orderId}} as bob -> {answer.status} (not his)")

    demo.say("Stripe delivers the same event again (it retries on any doubt)")
    try:
        client = demo.stripe_admin()
    except Skip as skip:
        demo.note(f"replaying a signed event {skip}")
        return
    events = client.v1.events.list({"type": "payment_intent.succeeded", "limit": 100}).data
    event = next(e for e in events if e.data.object.id == confirmed.body["id"]).to_dict()
    url = demo.config["functionUrls"]["PaymentCallbackFunction"]
    answer = _post_signed(url, encode_event(event), LOCAL_WEBHOOK_SECRETS["payment"])
    demo.expect(answer.status == 200 and (answer.body or {}).get("result") == "duplicate",
                f"the callback answers {answer.status} {answer.body}: applied once")


def _post_signed(url: str, raw: bytes, secret: str) -> Answer:
    """POST ``raw`` signed with ``secret`` now, as Stripe delivers a webhook."""
    headers = {"content-type": "application/json; charset=utf-8",
               "stripe-signature": sign_payload(raw, secret, int(time.time()))}
    request = urllib.request.Request(url, data=raw, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, json.loads(response.read() or b"null"), {})
    except urllib.error.HTTPError as error:
        return Answer(error.code, json.loads(error.read() or b"null"), {})


def section_decline_and_retry(demo: Demo) -> None:
    tshirt = demo.price(recurring=False)
    demo.say("Alice's next order: her card is declined (test card 4000 0000 0000 0341)")
    order = demo.new_order(tshirt)
    pay = demo.call("POST", "/checkout", {"orderId": order["orderId"]}).body
    declined = demo.confirm_card(pay["clientSecret"], "pm_card_chargeCustomerFail")
    error = (declined.body or {}).get("error") or {}
    demo.expect(declined.status == 402 and error.get("code") == "card_declined",
                f"Stripe: {declined.status} {error.get('code')} ({error.get('message')})")
    demo.wait_until(lambda: demo.order(order["orderId"])["payments"][0]["status"] == "failed",
                    "payment_intent.payment_failed arrives: the payment reads failed")
    demo.expect(demo.order(order["orderId"])["status"] == "pending", "the order is still pending")

    demo.say("She tries another card on the same PaymentIntent")
    retried = demo.confirm_card(pay["clientSecret"], "pm_card_visa")
    demo.expect(retried.body.get("status") == "succeeded", "Stripe: the PaymentIntent succeeded")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "paid", "the order reads paid")


def section_checkout_session(demo: Demo) -> None:
    tshirt = demo.price(recurring=False)
    demo.say("Checkout on the web: a Stripe Checkout Session")
    order = demo.new_order(tshirt)
    success = f"{demo.api}/demo/?paid={order['orderId']}"
    answer = demo.call("POST", "/checkout", {"orderId": order["orderId"], "mode": "checkout_session",
                                             "successUrl": success, "cancelUrl": f"{demo.api}/demo/"})
    url = str((answer.body or {}).get("checkoutUrl") or "")
    demo.expect(answer.status == 201 and bool(url), f"POST /checkout -> {answer.status}: a hosted page {url}")
    if not demo.emulator:
        demo.note("paying on Stripe's hosted page takes a browser: open the URL above to finish")
        return
    demo.say("Alice pays on the hosted page (the emulator's, like checkout.stripe.com)")
    paid = http("POST", url, form={"payment_method": "pm_card_visa"}, follow=False)
    demo.expect(paid.status == 303 and paid.headers.get("location") == success,
                f"the page sends her back to the success URL ({paid.status})")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "paid",
                    "checkout.session.completed arrives: the order reads paid")


def section_partial_refund(demo: Demo) -> None:
    order = demo.shared.get("paid_order")
    if order is None:
        raise Skip("no paid order from the first section")
    payment = next(p for p in order["payments"] if p["status"] == "succeeded")
    demo.say(f"Alice asks for a refund herself (order {order['orderId']}, paid {payment['amount']})")
    answer = demo.call("POST", "/refunds", {"paymentId": payment["paymentId"], "refundAmount": 1000})
    demo.expect(answer.status == 403, f"POST /refunds as a user -> {answer.status} (admins only)")

    demo.say("Ada, an admin, refunds 10.00 of it")
    answer = demo.call("POST", "/refunds", {"paymentId": payment["paymentId"], "refundAmount": 1000,
                                            "reason": "requested_by_customer"}, user=ADA, admin=True)
    refund = answer.body or {}
    demo.expect(answer.status == 202 and refund.get("status") == "pending",
                f"POST /refunds -> {answer.status}: refund {refund.get('refundId')} of {refund.get('amount')}, "
                f"{refund.get('status')}")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "partially_refunded",
                    "refund.created / charge.refunded arrive: the order reads partially_refunded")
    for item in demo.order(order["orderId"])["refunds"]:
        demo.show(f"refund {item['refundId']}: {item['status']}, {item['amount']}")

    demo.say("Ada tries to refund more than is left")
    left = payment["amount"] - 1000
    answer = demo.call("POST", "/refunds", {"paymentId": payment["paymentId"], "refundAmount": left + 1},
                       user=ADA, admin=True)
    code = ((answer.body or {}).get("error") or {}).get("code")
    demo.expect(answer.status == 422 and code == "refund_exceeds_remaining",
                f"POST /refunds of {left + 1} (only {left} left) -> {answer.status} {code}")


def section_subscription(demo: Demo) -> None:
    if "SubscribeFunction" not in demo.config.get("functions", []):
        raise Skip("SubscribeFunction is not in template.yaml yet: subscriptions are being built")
    membership = demo.price(recurring=True)
    demo.say(f"Alice subscribes to the {membership['name']} ({membership['unitAmount']} {membership['currency']} "
             f"a {membership['recurring']})")
    order = demo.new_order(membership)
    demo.expect(order.get("kind") == "subscription", "one recurring price makes a subscription order")
    answer = demo.call("POST", "/subscriptions", {"orderId": order["orderId"], "priceId": membership["priceId"]})
    sub = answer.body or {}
    demo.expect(answer.status == 201 and bool(sub.get("clientSecret")),
                f"POST /subscriptions -> {answer.status}: {sub.get('recurringPaymentId')} "
                f"({sub.get('stripeSubscriptionId')}, {sub.get('status')}), a client secret for the first payment")

    demo.say("The app pays the first invoice with test card 4242 4242 4242 4242")
    confirmed = demo.confirm_card(sub["clientSecret"], "pm_card_visa")
    demo.expect(confirmed.body.get("status") == "succeeded", "Stripe: the first invoice's PaymentIntent succeeded")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "paid",
                    "invoice.paid arrives at the renewal callback: the order reads paid")
    demo.wait_until(lambda: (demo.order(order["orderId"]).get("subscription") or {}).get("status") == "active",
                    "customer.subscription.updated arrives: the subscription reads active")

    demo.say("A month later Stripe bills the next period (the emulator ends the period on request)")
    try:
        client = demo.stripe_admin()
    except Skip as skip:
        demo.note(f"the renewal {skip}")
    else:
        client.raw_request("post", f"/_test/subscriptions/{sub['stripeSubscriptionId']}/advance")

        def renewal() -> dict[str, Any] | None:
            orders = demo.call("GET", "/orders?limit=100").body["orders"]
            return next((o for o in orders if o.get("parentOrderId") == order["orderId"]), None)

        demo.wait_until(lambda: (renewal() or {}).get("status") == "paid",
                        "invoice.paid (subscription_cycle) arrives: a new renewal order, paid")
        found = renewal() or {}
        demo.show(f"renewal order {found.get('orderId')}: {found.get('kind')}, {found.get('amount')} "
                  f"{found.get('currency')}, parent {found.get('parentOrderId')}")

    demo.say("Alice cancels the subscription now")
    answer = demo.call("POST", f"/subscriptions/{sub['recurringPaymentId']}/cancel", {"atPeriodEnd": False})
    demo.expect(answer.status == 200, f"POST /subscriptions/{{id}}/cancel -> {answer.status}: "
                f"{(answer.body or {}).get('status')}")
    demo.wait_until(lambda: (demo.order(order["orderId"]).get("subscription") or {}).get("status") == "canceled",
                    "the subscription reads canceled")


def section_marketplace(demo: Demo) -> None:
    if "SellersFunction" not in demo.config.get("functions", []):
        raise Skip("SellersFunction is not in template.yaml")
    bob = _unique("bob")
    demo.say(f"{bob} becomes a seller: an Express account at Stripe and an onboarding link")
    answer = demo.call("POST", "/sellers", {"returnUrl": f"{demo.api}/demo/?onboarded=1"}, user=bob)
    seller = answer.body or {}
    demo.expect(answer.status == 201 and seller.get("status") == "onboarding",
                f"POST /sellers -> {answer.status}: {seller.get('sellerId')}, account "
                f"{seller.get('stripeAccountId')}, {seller.get('status')}")
    if not demo.emulator:
        demo.note("onboarding at Stripe takes a browser: open the onboardingUrl to finish")
        return
    demo.say("He completes Stripe's onboarding form (the emulator's page)")
    done = http("POST", seller["onboardingUrl"], form={"outcome": "complete"}, follow=False)
    demo.expect(done.status == 303, f"the page sends him back to the app ({done.status})")
    demo.wait_until(lambda: demo.call("GET", "/sellers/me", user=bob).body.get("status") == "active",
                    "account.updated arrives at the Connect callback: the seller reads active")

    tshirt = demo.price(recurring=False)
    demo.say(f"Alice orders a {tshirt['name']} from {bob}'s shop")
    answer = demo.call("POST", "/orders", {"items": [{"priceId": tshirt["priceId"]}],
                                           "sellerId": seller["sellerId"]})
    order = answer.body or {}
    demo.expect(answer.status == 201 and order.get("sellerId") == seller["sellerId"],
                f"POST /orders -> {answer.status}: {order.get('amount')} {order.get('currency')}, platform fee "
                f"{order.get('applicationFeeAmount')}")
    pay = demo.call("POST", "/checkout", {"orderId": order["orderId"]}).body
    confirmed = demo.confirm_card(pay["clientSecret"], "pm_card_visa")
    demo.expect(confirmed.body.get("status") == "succeeded",
                f"a destination charge to {seller['stripeAccountId']} succeeded")
    demo.wait_until(lambda: (demo.order(order["orderId"])["payments"][0].get("stripeTransferId") or "") != "",
                    "the order reads paid, with the transfer to the seller recorded")
    payment = demo.order(order["orderId"])["payments"][0]
    demo.show(f"payment {payment['paymentId']}: fee {payment['applicationFeeAmount']}, seller's share "
              f"{payment['transferAmount']}, transfer {payment['stripeTransferId']}")

    demo.say("Ada refunds a quarter: the seller gives back a quarter of his share, the platform of its fee")
    quarter = payment["amount"] // 4
    answer = demo.call("POST", "/refunds", {"paymentId": payment["paymentId"], "refundAmount": quarter},
                       user=ADA, admin=True)
    demo.expect(answer.status == 202, f"POST /refunds of {quarter} -> {answer.status}")
    demo.wait_until(lambda: demo.order(order["orderId"])["status"] == "partially_refunded",
                    "the refund lands: partially_refunded")
    client = demo.stripe_admin()
    transfer = client.v1.transfers.retrieve(payment["stripeTransferId"])
    demo.expect(transfer.amount_reversed > 0 and transfer.amount_reversed <= payment["transferAmount"] // 4 + 1,
                f"Stripe reversed {transfer.amount_reversed} of the {transfer.amount} transferred")


def section_usage(demo: Demo) -> None:
    if "UsageFunction" not in demo.config.get("functions", []):
        raise Skip("UsageFunction is not in template.yaml")
    client = demo.stripe_admin()
    meters = [m for m in client.v1.billing.meters.list({"limit": 100}).data if m.event_name == "api_calls"]
    meter = meters[0] if meters else client.v1.billing.meters.create(
        {"display_name": "API calls", "event_name": "api_calls", "default_aggregation": {"formula": "sum"}})
    erin = _unique("erin")
    _subscribed(demo, erin)  # a Stripe customer to bill
    key = f"{erin}-usage-1"
    demo.say(f"The app's backend reports 42 API calls for {erin}, then sends the same report again")
    first = demo.call("POST", "/usage", {"userId": erin, "meter": "api_calls", "value": 42, "idempotencyKey": key},
                      user=ADA, admin=True)
    again = demo.call("POST", "/usage", {"userId": erin, "meter": "api_calls", "value": 42, "idempotencyKey": key},
                      user=ADA, admin=True)
    demo.expect(first.status == again.status == 202 and first.body == again.body,
                f"POST /usage twice -> {first.status}, {again.status}: one report, identifier "
                f"{(first.body or {}).get('identifier')}")
    received = http("GET", f"{demo.config['stripe']}/_test/billing/meter_events?event_name=api_calls",
                    headers={"authorization": f"Bearer {EMULATOR_SECRET_KEY}"}).body
    mine = [e for e in received["data"] if e["identifier"] == first.body["identifier"]]
    demo.expect(len(mine) == 1 and mine[0]["counted"], f"Stripe's meter {meter.id} counted it once")


def _subscribed(demo: Demo, user: str) -> dict[str, Any]:
    """``user`` subscribed to the membership with its first invoice paid (a Stripe customer, an active
    subscription)."""
    membership = demo.price(recurring=True)
    order = demo.call("POST", "/orders", {"items": [{"priceId": membership["priceId"]}]}, user=user).body
    sub = demo.call("POST", "/subscriptions", {"orderId": order["orderId"], "priceId": membership["priceId"]},
                    user=user).body
    demo.confirm_card(sub["clientSecret"], "pm_card_visa")
    demo.wait_until(lambda: (demo.order(order["orderId"], user=user).get("subscription") or {}).get("status")
                    == "active", f"{user}'s subscription is active")
    return order


def section_attempt_limit(demo: Demo) -> None:
    dave = _unique("dave")
    demo.say(f"{dave} tries ten payments in a row (a card tester would try hundreds)")
    statuses = [demo.call("POST", "/checkout", {"orderId": "ord_guess"}, user=dave).status for _ in range(10)]
    demo.expect(statuses == [404] * 10, "ten attempts answered (404: no such order), each counted")
    demo.say("The 11th attempt within the window")
    answer = demo.call("POST", "/checkout", {"orderId": "ord_guess"}, user=dave)
    code = ((answer.body or {}).get("error") or {}).get("code")
    demo.expect(answer.status == 429 and code == "too_many_attempts" and answer.headers.get("retry-after"),
                f"POST /checkout -> {answer.status} {code}, Retry-After: {answer.headers.get('retry-after')} s")
    demo.expect(demo.call("POST", "/checkout", {"orderId": "ord_guess"}).status != 429,
                "Alice, another user, is not affected")


def section_privacy(demo: Demo) -> None:
    if "PrivacyFunction" not in demo.config.get("functions", []):
        raise Skip("PrivacyFunction is not in template.yaml")
    frank = _unique("frank")
    demo.say(f"{frank} has a paid order and an active subscription")
    tshirt = demo.price(recurring=False)
    order = demo.call("POST", "/orders", {"items": [{"priceId": tshirt["priceId"]}],
                                          "description": "a gift for my sister"}, user=frank).body
    pay = demo.call("POST", "/checkout", {"orderId": order["orderId"]}, user=frank).body
    demo.confirm_card(pay["clientSecret"], "pm_card_visa")
    demo.wait_until(lambda: demo.order(order["orderId"], user=frank)["status"] == "paid", "the order reads paid")
    subscription_order = _subscribed(demo, frank)

    demo.say(f"{frank} asks for his data")
    export = demo.call("GET", "/me/export", user=frank).body or {}
    demo.expect(len(export.get("orders", [])) == 2 and len(export.get("subscriptions", [])) == 1,
                f"GET /me/export: {len(export.get('orders', []))} orders, {len(export.get('subscriptions', []))} "
                f"subscription, cards {[(m['brand'], m['last4']) for m in export.get('paymentMethods', [])]}")

    demo.say(f"{frank} asks to be erased")
    answer = demo.call("DELETE", "/me", user=frank)
    demo.expect(answer.status == 204, f"DELETE /me -> {answer.status}")
    demo.expect(demo.call("GET", "/orders", user=frank).body == {"orders": [], "nextCursor": None},
                "his GET /orders is empty")
    kept = demo.call("GET", f"/orders/{order['orderId']}", user=ADA, admin=True).body
    anonymous = kept["userId"].startswith("erased_") and kept["description"] == ""
    demo.expect(anonymous and kept["amount"] == order["amount"],
                f"the order stays for the accounts: {kept['amount']} {kept['currency']}, {kept['status']}, "
                f"user {kept['userId'][:20]}..., no description")
    demo.wait_until(lambda: (demo.call("GET", f"/orders/{subscription_order['orderId']}", user=ADA, admin=True)
                             .body.get("subscription") or {}).get("status") == "canceled",
                    "his Stripe customer is deleted, which ended the subscription")
    demo.expect(demo.call("DELETE", "/me", user=frank).status == 204, "DELETE /me again -> 204 (nothing left)")


@dataclass(frozen=True)
class Section:
    title: str
    run: Callable[[Demo], None]


SECTIONS: tuple[Section, ...] = (
    Section("A one-time payment (mobile app: PaymentIntent)", section_one_time_payment),
    Section("A declined card, then another card", section_decline_and_retry),
    Section("A web checkout (Stripe Checkout Session)", section_checkout_session),
    Section("A partial refund by an admin", section_partial_refund),
    Section("A subscription: first payment, a renewal, cancel", section_subscription),
    Section("A marketplace: a seller, a destination charge with the platform's fee, a refund", section_marketplace),
    Section("Usage billing: one report sent twice, counted once", section_usage),
    Section("The payment attempt limit", section_attempt_limit),
    Section("Privacy: export and erasure", section_privacy),
)


def run(config: dict[str, Any]) -> int:
    demo = Demo(config)
    mode = "the Stripe emulator" if demo.emulator else "Stripe's test mode"
    print(f"The payments backend, against the local stack at {demo.api} (Stripe: {mode}).")
    for number, section in enumerate(SECTIONS, start=1):
        print(f"\n== {number}. {section.title} ==")
        try:
            section.run(demo)
        except Skip as skip:
            demo.note(f"skipped: {skip}")
        except DemoFailed as failure:
            print(f"\nDemo FAILED at: {failure}")
            return 1
    skipped = f" ({len(demo.notes)} note(s) above)" if demo.notes else ""
    print(f"\nDemo passed: every step ended in the expected state{skipped}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--api", default=DEFAULT_API, help="the local stack to use if it runs (default %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="always start a stack of its own")
    args = parser.parse_args(argv)
    started = time.monotonic()
    config = None if args.fresh else running_stack(args.api.rstrip("/"))
    if config is not None:
        print(f"Using the local stack running at {config['api']} (make dev).")
        code = run(config)
    else:
        print("No local stack answers at " + args.api + ": starting one on free ports (make dev runs it for good) ...")
        try:
            with own_stack() as own:
                print(f"Local stack up in {time.monotonic() - started:.1f}s.")
                code = run(own)
        except DemoFailed as failure:
            print(f"Demo FAILED: {failure}")
            return 1
    print(f"({time.monotonic() - started:.1f}s in all)")
    return code


if __name__ == "__main__":
    sys.exit(main())

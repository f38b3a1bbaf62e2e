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
   cancel. Skipped, with a note, while ``SubscribeFunction`` is not in template.yaml;
6. billing: a subscription whose plan grants a feature (an entitlement appears), a plan change previewed then
   made (its adjustment order is the previewed amount, and the new plan's feature appears), a saved card, the
   customer portal, a trial.
7. a payment whose webhook was lost (the payment endpoint is down): the order stays pending until the reconciler
   (``POST /admin/reconcile``) applies Stripe's event; the late webhook is then a duplicate.
8. a marketplace: Bob becomes a seller (Stripe Connect), onboards, turns active; Alice's order from him is
   paid by a destination charge with the platform's fee; a partial refund takes back part of his share;
9. usage billing: the same usage report sent twice, one meter event at Stripe;
10. the payment attempt limit: ten attempts, then the 11th is refused with ``Retry-After``;
11. privacy: a user with a paid order and an active subscription exports their data, is erased (the Stripe
    customer deleted, the subscription ended), and erased again.
12. the numbers (``GET /admin/metrics``, admins only), read before the first section and again after the fifth:
    what those payments, the refund and the subscription did is counted, each change once, and printed (the
    later sections' flows go on counting, for the demo page's chart).

After each step it prints the domain events that step produced (``event  OrderPaid order ... (by evt_...) ->
the functions the local bus invoked``), from the local stack's bus.

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

from devstack.local_stack import EMULATOR_SECRET_KEY, STACK_NAME
from devstack.stack_process import StackProcess

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
        self.events_since = time.time()
        # Alice and Bob are users of this run: payment attempts are limited per user and window, and a stack may
        # serve several runs within one window (the page's own "alice" is left alone).
        self.run_users = {ALICE: _unique(ALICE), BOB: _unique(BOB)}

    # ---------------------------------------------------------------- telling

    def say(self, text: str) -> None:
        self.show_events()
        self.step_number += 1
        print(f"\n{self.step_number:>3}. {text}")

    def show_events(self, quiet: float = 0.5, most: float = 4.0) -> None:
        """The domain events the last step produced (the local bus's, from ``/_local/events``), once they stop
        coming for ``quiet`` seconds."""
        if "eventBus" not in self.config:
            return
        deadline, last_new = time.monotonic() + most, time.monotonic()
        while time.monotonic() < deadline and time.monotonic() - last_new < quiet:
            answer = http("GET", f"{self.api}/_local/events?since={self.events_since}")
            events = (answer.body or {}).get("events") or [] if answer.status == 200 else []
            for event in events:
                self.events_since = max(self.events_since, event["receivedAt"])
                detail = event["detail"]
                cause = (detail.get("causedBy") or {}).get("stripeEventId") or "the API"
                print(f"       event  {event['detail-type']:<24} {_event_subject(detail)}"
                      f" (by {cause}) -> {', '.join(event.get('targets') or []) or 'no consumer'}")
                last_new = time.monotonic()
            time.sleep(0.1)

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

    def resend(self, event_id: str, endpoint: str) -> dict[str, Any]:
        """Stripe delivering ``event_id`` again to the callback ``endpoint`` (the emulator's helper, as ``stripe
        events resend`` does): what the callback answered."""
        endpoint_id = self.config["webhooks"][endpoint]["id"]
        answer = http("POST", f"{self.config['stripe']}/_test/events/{event_id}/resend",
                      form={"webhook_endpoint": endpoint_id},
                      headers={"authorization": f"Bearer {EMULATOR_SECRET_KEY}"})
        deliveries = (answer.body or {}).get("deliveries") or [{}]
        return dict(deliveries[0])

    def stripe_admin(self) -> Any:
        """A Stripe client with the emulator's key, for what only a test may do (emulator mode only)."""
        if not self.emulator:
            raise Skip("needs the emulator (the stack runs against Stripe's test mode)")
        import stripe

        return stripe.StripeClient(EMULATOR_SECRET_KEY, base_addresses={"api": self.config["stripe"]})


# ------------------------------------------------------------------------------------------ sections


def _event_subject(detail: dict[str, Any]) -> str:
    """What a domain event is about, in a few words: its order, or a seller, or a user's entitlements."""
    if isinstance(detail.get("seller"), dict):
        seller = detail["seller"]
        return f"seller {seller.get('sellerId')} {seller.get('status')}"
    if isinstance(detail.get("entitlements"), list):
        keys = ", ".join(str(e.get("lookupKey")) for e in detail["entitlements"]) or "nothing"
        return f"{detail.get('userId')} may use {keys}"
    order = detail.get("order") or {}
    return f"order {order.get('orderId')} {order.get('status')}"


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
    answer = demo.resend(_event_about(client, "payment_intent.succeeded", confirmed.body["id"]), "payment")
    demo.expect(answer.get("status") == 200 and (answer.get("body") or {}).get("result") == "duplicate",
                f"the callback answers {answer.get('status')} {answer.get('body')}: applied once")


def _event_about(client: Any, event_type: str, object_id: str) -> str:
    """The id of the newest ``event_type`` event about Stripe object ``object_id``."""
    events = client.v1.events.list({"type": event_type, "limit": 100}).data
    return next(e.id for e in events if e.data.object.id == object_id)


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


def section_billing(demo: Demo) -> None:
    """Plans: an entitlement appearing, a plan change with its adjustment order, a saved card, the portal, a trial."""
    if "BillingFunction" not in demo.config.get("functions", []):
        raise Skip("BillingFunction is not in template.yaml")
    user = "erin"
    plans = [p for p in demo.config["catalog"] if p.get("recurring")]
    if len(plans) < 2:
        raise Skip("the catalog has fewer than two plans")
    basic, plus = plans[0], plans[1]

    def entitlements() -> list[str]:
        return [e["lookupKey"] for e in demo.call("GET", "/entitlements", user=user).body["entitlements"]]

    demo.say(f"Erin subscribes to the {basic['name']}, which grants {', '.join(basic.get('features') or [])}")
    order = demo.new_order(basic, user=user)
    sub = demo.call("POST", "/subscriptions", {"orderId": order["orderId"], "priceId": basic["priceId"]},
                    user=user).body or {}
    confirmed = demo.confirm_card(sub["clientSecret"], "pm_card_visa")
    demo.expect(confirmed.body.get("status") == "succeeded", "Stripe: the first invoice is paid")
    demo.wait_until(lambda: demo.order(order["orderId"], user=user)["status"] == "paid", "the order reads paid")
    demo.wait_until(lambda: set(basic.get("features") or []) <= set(entitlements()),
                    "entitlements.active_entitlement_summary.updated arrives: GET /entitlements lists "
                    f"{', '.join(basic.get('features') or [])} (one DynamoDB read)")

    demo.say(f"She previews a move to the {plus['name']}, invoiced now (always_invoice)")
    path = f"/subscriptions/{sub['recurringPaymentId']}/change"
    body = {"priceId": plus["priceId"], "proration": "always_invoice"}
    preview = demo.call("POST", f"{path}/preview", body, user=user)
    shown = preview.body or {}
    demo.expect(preview.status == 200, f"POST .../change/preview -> {preview.status}: {shown.get('amountDue')} "
                f"{shown.get('currency')} now, changing nothing")
    for line in shown.get("lines", []):
        demo.show(f"{line['description']}: {line['amount']}")

    demo.say("She confirms it, with the preview's proration date")
    changed = demo.call("POST", path, {**body, "prorationDate": shown["prorationDate"]}, user=user)
    demo.expect(changed.status == 200 and (changed.body or {}).get("priceId") == plus["priceId"],
                f"POST .../change -> {changed.status}: the subscription is on {plus['name']}")

    def adjustment() -> dict[str, Any] | None:
        orders = demo.call("GET", "/orders?limit=100", user=user).body["orders"]
        return next((o for o in orders if o["kind"] == "adjustment" and o["status"] == "paid"), None)

    demo.wait_until(lambda: adjustment() is not None,
                    "invoice.paid (subscription_update) arrives: one adjustment order, paid")
    found = adjustment() or {}
    demo.expect(found.get("amount") == shown.get("amountDue"),
                f"adjustment order {found.get('orderId')}: {found.get('amount')}, the previewed amount, "
                f"parent {found.get('parentOrderId')}")
    demo.wait_until(lambda: set(plus.get("features") or []) <= set(entitlements()),
                    f"the new plan's features appear: {', '.join(entitlements())}")

    demo.say("She saves a card for later (a SetupIntent, confirmed as Stripe.js's confirmCardSetup does)")
    setup = demo.call("POST", "/payment-methods/setup", user=user).body or {}
    base = demo.config["stripe"] or "https://api.stripe.com"
    saved = http("POST", f"{base}/v1/setup_intents/{setup['setupIntentId']}/confirm",
                 form={"key": demo.config["publishableKey"], "client_secret": setup["clientSecret"],
                       "payment_method": "pm_card_visa"})
    demo.expect(saved.status == 200 and saved.body.get("status") == "succeeded", "Stripe: the SetupIntent succeeded")
    cards = demo.call("GET", "/payment-methods", user=user).body["paymentMethods"]
    demo.expect(len(cards) >= 1, "GET /payment-methods: " + ", ".join(f"{c['brand']} {c['last4']}" for c in cards))
    answer = demo.call("GET", "/payment-methods", user=BOB)
    demo.expect(answer.status == 200 and all(c["id"] not in {x["id"] for x in cards}
                                             for c in answer.body["paymentMethods"]), "Bob sees none of hers")

    demo.say("She opens the Stripe customer portal")
    portal = demo.call("POST", "/billing-portal", {"returnUrl": f"{demo.api}/demo/"}, user=user)
    demo.expect(portal.status == 201, f"POST /billing-portal -> {portal.status}: {(portal.body or {}).get('url')}")

    demo.say(f"Finn starts a 14-day trial of the {basic['name']} (no charge until it ends)")
    trial_order = demo.new_order(basic, user="finn")
    trial = demo.call("POST", "/subscriptions", {"orderId": trial_order["orderId"], "priceId": basic["priceId"],
                                                 "trialDays": 14}, user="finn").body or {}
    demo.expect(trial.get("status") == "trialing" and trial.get("clientSecretType") == "setup_intent",
                f"POST /subscriptions -> {trial.get('status')} until {trial.get('trialEnd')}, "
                "a SetupIntent's secret to save the card for its end")
    demo.wait_until(lambda: demo.order(trial_order["orderId"], user="finn")["status"] == "paid",
                    "the trial's first invoice (0) pays the order")


def section_lost_webhook(demo: Demo) -> None:
    client = demo.stripe_admin()  # taking an endpoint down and sending an event again are the emulator's
    tshirt = demo.price(recurring=False)
    demo.say("The payment callback's endpoint goes down (a bad deploy, a wrong URL): Stripe's deliveries are lost")
    answer = http("POST", f"{demo.api}/_local/webhooks/payment/down")
    demo.expect(answer.status == 200, f"POST /_local/webhooks/payment/down -> {answer.status}")
    try:
        demo.say("Alice orders and pays as before")
        order = demo.new_order(tshirt)
        pay = demo.call("POST", "/checkout", {"orderId": order["orderId"]}).body
        confirmed = demo.confirm_card(pay["clientSecret"], "pm_card_visa")
        demo.expect(confirmed.body.get("status") == "succeeded", "Stripe: the PaymentIntent succeeded")
        event_id = _event_about(client, "payment_intent.succeeded", confirmed.body["id"])
        endpoint_id = demo.config["webhooks"]["payment"]["id"]
        deliveries = f"{demo.config['stripe']}/_test/webhook_endpoints/{endpoint_id}/deliveries"

        def lost() -> bool:
            found = http("GET", deliveries, headers={"authorization": f"Bearer {EMULATOR_SECRET_KEY}"}).body
            return any(d["event"] == event_id and d["status"] == "down" for d in found["deliveries"])

        demo.wait_until(lost, f"Stripe's {event_id} (payment_intent.succeeded) never reached the callback")
        demo.expect(demo.order(order["orderId"])["status"] == "pending", "so the order still reads pending")
    finally:
        http("POST", f"{demo.api}/_local/webhooks/payment/up")

    demo.say("Alice may not run the reconciler")
    answer = demo.call("POST", "/admin/reconcile")
    demo.expect(answer.status == 403, f"POST /admin/reconcile as a user -> {answer.status}")
    demo.say("The reconciler runs (every 15 minutes in AWS, every minute under make dev; Ada runs it now)")
    answer = demo.call("POST", "/admin/reconcile", user=ADA, admin=True)
    summary = answer.body or {}
    demo.expect(answer.status == 200, f"POST /admin/reconcile -> {answer.status} {summary}")
    if summary.get("eventsApplied"):
        demo.show(f"it listed Stripe's events since its checkpoint and applied {summary['eventsApplied']} that no "
                  "webhook had delivered (EventsRecovered, alarmed)")
    else:
        demo.show("the scheduled run had already applied it")
    demo.expect(demo.order(order["orderId"])["status"] == "paid",
                "the order reads paid: the lost payment landed through the reconciler")

    demo.say("The endpoint is back, and Stripe delivers the lost event late")
    answer = demo.resend(event_id, "payment")
    demo.expect(answer.get("status") == 200 and (answer.get("body") or {}).get("result") == "duplicate",
                f"the callback answers {answer.get('status')} {answer.get('body')}: applied once, by the reconciler")


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

# ------------------------------------------------------------------------------------------ the numbers


def _metrics(demo: Demo, user: str = ADA, admin: bool = True) -> Answer:
    """GET /admin/metrics from yesterday to tomorrow (UTC) in the catalog's currency: today, whatever the time."""
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()
    query = urllib.parse.urlencode({"from": (today - timedelta(days=1)).isoformat(),
                                    "to": (today + timedelta(days=1)).isoformat(),
                                    "currency": demo.price(recurring=False)["currency"]})
    return demo.call("GET", f"/admin/metrics?{query}", user=user, admin=admin)


def _flat(body: dict[str, Any]) -> dict[str, int]:
    return {"succeeded": body["payments"]["succeeded"], "failed": body["payments"]["failed"],
            "refunded": body["revenue"]["refunded"], "paidOrders": body["paidOrders"],
            "started": body["subscriptions"]["started"], "canceled": body["subscriptions"]["canceled"]}


def section_numbers_before(demo: Demo) -> None:
    demo.say("Ada, an admin, reads today's numbers before anything happens (GET /admin/metrics)")
    answer = _metrics(demo)
    demo.expect(answer.status == 200, f"GET /admin/metrics -> {answer.status}")
    demo.shared["numbers_before"] = _flat(answer.body)
    demo.show(f"so far: {demo.shared['numbers_before']}")


def section_numbers(demo: Demo) -> None:
    before = demo.shared.get("numbers_before")
    if before is None:
        raise Skip("the numbers were not read before the demo")
    demo.say("Alice asks for the numbers")
    answer = _metrics(demo, user=ALICE, admin=False)
    demo.expect(answer.status == 403, f"GET /admin/metrics as a user -> {answer.status} (admins only)")

    subscribed = "SubscribeFunction" in demo.config.get("functions", [])
    # What the sections did: paid 1 + 1 (after a decline) + 1 (web) + the subscription's first invoice and, on the
    # emulator, its renewal; one refund of 10.00; one subscription started and canceled.
    renewal = 1 if subscribed and demo.emulator else 0
    did = {"succeeded": 3 + (1 if subscribed else 0) + renewal, "failed": 1, "refunded": 1000,
           "paidOrders": 3 + (1 if subscribed else 0) + renewal, "started": 1 if subscribed else 0,
           "canceled": 1 if subscribed else 0}
    demo.say(f"Ada reads them again: what this demo did is counted, once ({did})")

    def counted() -> bool:
        now = _flat(_metrics(demo).body)
        return all(now[name] - before[name] == value for name, value in did.items())

    demo.wait_until(counted, "every change of this demo is in the numbers, each once")
    body = _metrics(demo).body
    payments, revenue, subscriptions = body["payments"], body["revenue"], body["subscriptions"]
    rate = "-" if payments["successRate"] is None else f"{payments['successRate']:.0%}"
    demo.show(f"{body['from']} .. {body['to']} ({body['currency']}, UTC days):")
    demo.show(f"payments   {payments['succeeded']} of {payments['attempted']} succeeded ({rate}), "
              f"{payments['failed']} failed")
    demo.show(f"revenue    gross {revenue['gross']}, refunded {revenue['refunded']}, net {revenue['net']} "
              f"(minor units)")
    demo.show(f"orders     {body['paidOrders']} paid, average {body['averageOrderValue']}")
    demo.show(f"subscriptions  {subscriptions['active']} active, {subscriptions['started']} started, "
              f"{subscriptions['canceled']} canceled, MRR {subscriptions['mrr']}")
    demo.show("the demo page draws them for admins: sign in there with 'admin' ticked")


@dataclass(frozen=True)
class Section:
    title: str
    run: Callable[[Demo], None]


SECTIONS: tuple[Section, ...] = (
    Section("The numbers before", section_numbers_before),
    Section("A one-time payment (mobile app: PaymentIntent)", section_one_time_payment),
    Section("A declined card, then another card", section_decline_and_retry),
    Section("A web checkout (Stripe Checkout Session)", section_checkout_session),
    Section("A partial refund by an admin", section_partial_refund),
    Section("A subscription: first payment, a renewal, cancel", section_subscription),
    Section("The numbers after: what these payments did, counted once", section_numbers),
    Section("Billing: entitlements, a plan change and its adjustment order, a saved card, the portal, a trial",
            section_billing),
    Section("A lost webhook, recovered by the reconciler", section_lost_webhook),
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
            demo.show_events()
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

"""``make trigger EVENT=payment_intent.succeeded``: make the emulator of the running local stack emit an event, the
way ``stripe trigger`` does, and show what the callback answered; ``make trigger EVENT=evt_...`` sends an event
again (``stripe events resend``).

A triggered event is about objects made for it, with no metadata of ours, as ``stripe trigger``'s fixtures are:
the callbacks answer ``ignored`` (a Stripe object we never created). Sent again, an event the callbacks already
applied answers ``duplicate``. Against Stripe's test mode (the stack started with ``STRIPE_SECRET_KEY``), use
``stripe trigger`` itself, with ``stripe listen --forward-to <api>/_local/stripe-events``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

DEFAULT_API = "http://127.0.0.1:3000"
KEY = "sk_test_stripe_emulator"


def _intent(client: Any, payment_method: str = "pm_card_visa", confirm: bool = True) -> Any:
    intent = client.v1.payment_intents.create({"amount": 2000, "currency": "usd", "payment_method": payment_method})
    if confirm:
        import stripe

        with contextlib.suppress(stripe.CardError):  # a declined card is the point of payment_failed
            client.v1.payment_intents.confirm(intent.id)
    return intent


def _refund(client: Any) -> Any:
    return client.v1.refunds.create({"payment_intent": _intent(client).id})


def _canceled(client: Any) -> Any:
    return client.v1.payment_intents.cancel(_intent(client, confirm=False).id)


def _session(client: Any, emulator: str, expire: bool) -> Any:
    session = client.v1.checkout.sessions.create({
        "mode": "payment", "success_url": "https://example.com/ok", "cancel_url": "https://example.com/no",
        "line_items": [{"quantity": 1, "price_data": {"currency": "usd", "unit_amount": 2000,
                                                      "product_data": {"name": "Triggered"}}}]})
    if expire:
        return client.v1.checkout.sessions.expire(session.id)
    request = urllib.request.Request(f"{emulator}/_test/checkout/sessions/{session.id}/complete", data=b"",
                                     method="POST", headers={"Authorization": f"Bearer {KEY}"})
    urllib.request.urlopen(request, timeout=30).close()
    return session


def _subscription(client: Any, price_id: str) -> Any:
    customer = client.v1.customers.create({"payment_method": "pm_card_visa",
                                           "invoice_settings": {"default_payment_method": "pm_card_visa"}})
    return client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price_id}],
                                           "payment_behavior": "allow_incomplete"})


def triggers(client: Any, emulator: str, recurring_price: str | None) -> dict[str, Callable[[], Any]]:
    """Event type -> what makes the emulator emit it (the object the event is about)."""
    table: dict[str, Callable[[], Any]] = {
        "payment_intent.succeeded": lambda: _intent(client),
        "payment_intent.payment_failed": lambda: _intent(client, "pm_card_chargeCustomerFail"),
        "payment_intent.canceled": lambda: _canceled(client),
        "refund.created": lambda: _refund(client),
        "charge.refunded": lambda: _refund(client),
        "checkout.session.completed": lambda: _session(client, emulator, expire=False),
        "checkout.session.expired": lambda: _session(client, emulator, expire=True),
    }
    if recurring_price:
        for event_type in ("customer.subscription.created", "invoice.paid"):
            table[event_type] = lambda: _subscription(client, recurring_price)
    return table


def _get(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _post(url: str, form: dict[str, str] | None = None) -> Any:
    data = "&".join(f"{k}={v}" for k, v in (form or {}).items()).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def show(delivery: dict[str, Any], names: dict[str, str]) -> str:
    body = delivery.get("body")
    answer = body.get("result") or (body.get("error") or {}).get("code") if isinstance(body, dict) else body
    return f"{names.get(delivery['endpoint'], delivery['endpoint'])}: {delivery['status']} {answer}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.trigger", description=__doc__.split("\n")[0])
    parser.add_argument("event", help="an event type (payment_intent.succeeded, ...) or an event id (evt_...)")
    parser.add_argument("--api", default=DEFAULT_API, help="the local stack (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        config = _get(f"{args.api.rstrip('/')}/_local/config")
    except (urllib.error.URLError, OSError):
        print(f"error: no local stack answers at {args.api}: start one with make dev", file=sys.stderr)
        return 1
    if config.get("mode") != "emulator":
        print("error: the stack runs against Stripe's test mode: use `stripe trigger EVENT` (with stripe listen "
              f"--forward-to {config.get('stripeListenUrl')})", file=sys.stderr)
        return 2
    emulator = config["stripe"]
    names = {hook["id"]: name for name, hook in config["webhooks"].items()}
    if args.event.startswith("evt_"):
        try:
            answer = _post(f"{emulator}/_test/events/{args.event}/resend")
        except urllib.error.HTTPError as error:
            print(f"error: {error.code} {error.read().decode(errors='replace')}", file=sys.stderr)
            return 1
        print(f"{answer['id']} ({answer['type']}) sent again:")
        for delivery in answer["deliveries"]:
            print(f"  {show(delivery, names)}")
        return 0 if answer["deliveries"] else 1

    import stripe

    client = stripe.StripeClient(KEY, base_addresses={"api": emulator})
    recurring = next((p["priceId"] for p in config.get("catalog", []) if p.get("recurring")), None)
    table = triggers(client, emulator, recurring)
    if args.event not in table:
        print(f"error: cannot trigger {args.event}; these can: {', '.join(sorted(table))} (or an evt_ id to send "
              "again)", file=sys.stderr)
        return 2
    since = int(time.time()) - 1
    table[args.event]()
    found = client.v1.events.list({"type": args.event, "created": {"gte": since}, "limit": 1}).data
    if not found:
        print(f"error: the emulator emitted no {args.event}", file=sys.stderr)
        return 1
    event = found[0]
    print(f"{event.id} ({event.type}) emitted; the callback's answer:")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for endpoint_id in names:
            deliveries = _get(f"{emulator}/_test/webhook_endpoints/{endpoint_id}/deliveries")["deliveries"]
            done = [d for d in deliveries if d["event"] == event.id]
            if done:
                for delivery in done:
                    print(f"  {show(delivery, names)}")
                print(f"send it again: make trigger EVENT={event.id}")
                return 0
        time.sleep(0.3)
    print("  no callback received it (is its endpoint down? POST /_local/webhooks/<name>/up)")
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""``make smoke API_URL=https://... TOKEN=<an admin's token>``: walk one payment through a deployed stack (or the
local one) end to end, and say what is wrong when a step does not end as it should.

Steps: the token is accepted (``GET /orders``); an admin order of 1.00 usd for the caller; checkout (a
PaymentIntent); the payment confirmed with test card ``pm_card_visa`` the way Stripe.js does (the publishable key
and the client secret the API answered: Stripe test mode only); the payment webhook lands (the order reads
``paid``); an admin's full refund lands (``refunded``). Each failure names its likely cause: the authorizer, the
Stripe keys in ``StripeSecretArn``, the webhook endpoints or their signing secrets. Exit 0 when every step passed.

Against ``make dev`` (``API_URL`` on loopback) it mints its own admin token; against AWS give one from
``make deploy-user USER=... ADMIN=1``.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

WAIT_SECONDS = 60.0


class SmokeFailed(Exception):
    """A step did not end as it should; the message says what to check."""


def http(method: str, url: str, *, token: str | None = None, body: Any = None, form: dict[str, str] | None = None,
         timeout: float = 30) -> tuple[int, Any]:
    headers: dict[str, str] = {}
    data = None
    if body is not None:
        data, headers["content-type"] = json.dumps(body).encode(), "application/json"
    elif form is not None:
        data, headers["content-type"] = urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise SmokeFailed(f"{method} {url}: cannot connect ({error}). Is API_URL the stack's ApiUrl output?") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def claims_of(token: str) -> dict[str, Any]:
    """The token's claims, unverified (only to learn its ``sub``; the API verifies it)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        raise SmokeFailed("TOKEN is not a JWT") from None


def error_code(body: Any) -> str:
    return str(((body or {}).get("error") or {}).get("code")) if isinstance(body, dict) else str(body)[:200]


def diagnose(step: str, status: int, body: Any) -> str:
    code = error_code(body)
    hints = {
        "configuration_error": "a Stripe key is missing: put {\"secretKey\", \"publishableKey\"} in the secret "
                               "StripeSecretArn names",
        "stripe_misconfigured": "Stripe rejected the secret key in StripeSecretArn (revoked, or another account's)",
        "admin_only": "the token is not an admin's: make deploy-user USER=... ADMIN=1",
        "stripe_unavailable": "the function cannot reach Stripe (try again; check the function's network)",
    }
    if status == 401:
        hint = "the JWT authorizer refused the token: expired (an hour), or JwtIssuer/JwtAudience do not match it"
    else:
        hint = hints.get(code, "see the function's log group")
    return f"{step} -> {status} {code}: {hint}"


def wait_for(check: Any, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return bool(check())


def smoke(api: str, token: str, *, stripe_api: str = "https://api.stripe.com", say: Any = print) -> None:
    api = api.rstrip("/")
    status, body = http("GET", f"{api}/orders?limit=1", token=token)
    if status != 200:
        raise SmokeFailed(diagnose("GET /orders", status, body))
    say("ok  the token is accepted (GET /orders)")
    user = claims_of(token).get("sub")
    status, order = http("POST", f"{api}/orders", token=token,
                         body={"userId": user, "amount": 100, "currency": "usd", "description": "smoke test"})
    if status != 201:
        raise SmokeFailed(diagnose("POST /orders (admin form)", status, order))
    say(f"ok  order {order['orderId']}: 100 usd, pending")
    status, pay = http("POST", f"{api}/checkout", token=token, body={"orderId": order["orderId"]})
    if status != 201:
        raise SmokeFailed(diagnose("POST /checkout", status, pay))
    if not str(pay.get("publishableKey", "")).startswith("pk_test_") and "127.0.0.1" not in api:
        raise SmokeFailed("the stack's publishable key is not a test key: the smoke test pays only in test mode")
    intent = pay["clientSecret"].split("_secret_")[0]
    say(f"ok  checkout: PaymentIntent {intent}")
    form = {"key": pay["publishableKey"], "client_secret": pay["clientSecret"], "payment_method": "pm_card_visa"}
    if stripe_api.startswith("https://api.stripe.com"):
        form["return_url"] = "https://example.com/smoke"
    status, confirmed = http("POST", f"{stripe_api}/v1/payment_intents/{intent}/confirm", form=form)
    if status != 200 or (confirmed or {}).get("status") != "succeeded":
        raise SmokeFailed(f"Stripe did not take test card pm_card_visa: {status} {confirmed}")
    say("ok  Stripe: the payment succeeded")

    def order_status() -> str:
        return str(http("GET", f"{api}/orders/{order['orderId']}", token=token)[1].get("status"))

    if not wait_for(lambda: order_status() == "paid"):
        raise SmokeFailed(
            "the order is still pending: Stripe's payment_intent.succeeded did not land at the payment callback. "
            "Check that the endpoint exists (RegisterStripeWebhooks=true, or the Dashboard's endpoint at "
            "PaymentCallbackUrl), that PaymentWebhookSecretArn holds its signing secret (the callback's logs say "
            "'webhook rejected' otherwise), and the alarms. The reconciler applies it within ReconcileRateMinutes.")
    say("ok  the payment webhook landed: the order reads paid")
    payment_id = http("GET", f"{api}/orders/{order['orderId']}", token=token)[1]["payments"][0]["paymentId"]
    status, refund = http("POST", f"{api}/refunds", token=token, body={"paymentId": payment_id})
    if status != 202:
        raise SmokeFailed(diagnose("POST /refunds", status, refund))
    if not wait_for(lambda: order_status() == "refunded"):
        raise SmokeFailed("the refund was accepted but the order never read refunded: the refund callback's "
                          "endpoint or its signing secret (RefundWebhookSecretArn)")
    say("ok  the refund webhook landed: the order reads refunded")


def local_token(api: str) -> str | None:
    """An admin token from a local stack (``make dev``), or None when ``api`` is not one."""
    try:
        status, body = http("GET", f"{api.rstrip('/')}/_local/token?user=smoke-admin&admin=1", timeout=3)
    except SmokeFailed:
        return None
    return str(body["token"]) if status == 200 and isinstance(body, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.smoke", description=__doc__.split("\n")[0])
    parser.add_argument("--api", required=True, help="the stack's ApiUrl (or a local stack's URL)")
    parser.add_argument("--token", default="", help="an admin's token (make deploy-user USER=... ADMIN=1)")
    args = parser.parse_args(argv)
    token, stripe_api = args.token, "https://api.stripe.com"
    if not token:
        token = local_token(args.api) or ""
        if not token:
            print("error: give TOKEN=<an admin's token> (make deploy-user USER=... ADMIN=1)", file=sys.stderr)
            return 2
    config = http("GET", f"{args.api.rstrip('/')}/_local/config", timeout=3)[1] if "//127." in args.api else None
    if isinstance(config, dict) and config.get("stripe"):
        stripe_api = config["stripe"]  # the local stack's emulator
    print(f"Smoke test of {args.api}")
    try:
        smoke(args.api, token, stripe_api=stripe_api)
    except SmokeFailed as failure:
        print(f"FAILED  {failure}")
        return 1
    print("Smoke test passed: a payment and its refund went through end to end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

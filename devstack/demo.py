"""A scripted one-time payment against the local emulators: ``make demo`` (or ``python -m devstack.demo``).

No AWS account, no Stripe account, no Docker: DynamoDB is moto (tables built from template.yaml), Stripe
is the project's emulator (localstripe plus extensions) in a child process, and its signed webhooks reach
the real payment callback through a loopback Function URL. The HTTP API functions are called with the
events API Gateway would send. Prints an account of each step; exits 1 if any step ends wrong.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from devstack.handlers import load_handler, mount_layer
from devstack.lambda_context import LambdaContext
from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS, http_api_event, signed_webhook_event, user_claims

USER = "user-alice"


class DemoFailed(Exception):
    pass


def _env_for(emulator: Any) -> None:
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_SERVICE_NAME": "payments-demo",
        "STRIPE_API_BASE": emulator.url, "STRIPE_SECRET_KEY": emulator.api_key,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_local", "STRIPE_WEBHOOK_SECRET": LOCAL_WEBHOOK_SECRETS["payment"],
    })


class Demo:
    def __init__(self, emulator: Any, urls: Any):
        self.emulator, self.urls = emulator, urls
        self.orders, self.checkout = load_handler("orders"), load_handler("checkout")
        self.stripe = emulator.client()
        self.step_number = 0

    def say(self, text: str) -> None:
        self.step_number += 1
        print(f"\n{self.step_number:>2}. {text}")

    @staticmethod
    def show(text: str) -> None:
        print(f"    {text}")

    @staticmethod
    def expect(condition: bool, what: str) -> None:
        print(f"    {'ok ' if condition else 'FAILED'} {what}")
        if not condition:
            raise DemoFailed(what)

    def api(self, module: Any, method: str, route: str, body: Any = None,
            path: dict[str, str] | None = None) -> tuple[int, Any]:
        event = http_api_event(method, route, body=body, path_params=path, claims=user_claims(USER))
        response = module.lambda_handler(event, LambdaContext(function_name=module.__name__))
        return response["statusCode"], json.loads(response["body"])

    def order(self, order_id: str) -> dict[str, Any]:
        return self.api(self.orders, "GET", "/orders/{orderId}", path={"orderId": order_id})[1]

    def wait_until(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if check():
                self.expect(True, what)
                return
            self.urls.wait_for(lambda _: False, timeout=0.2)
        self.expect(False, what)

    def new_order(self, price_id: str, quantity: int = 1) -> dict[str, Any]:
        status, order = self.api(self.orders, "POST", "/orders",
                                 {"items": [{"priceId": price_id, "quantity": quantity}], "description": "Demo"})
        self.expect(status == 201, f"POST /orders -> 201, order {order.get('orderId')} for "
                                   f"{order.get('amount')} {order.get('currency')} (priced by the server), "
                                   f"status {order.get('status')}")
        return order

    def confirm(self, client_secret: str, payment_method: str) -> Any:
        intent_id = client_secret.split("_secret_")[0]
        self.stripe.v1.payment_intents.update(intent_id, {"payment_method": payment_method})
        try:
            return self.stripe.v1.payment_intents.confirm(intent_id)
        except Exception as error:  # a decline is part of the story
            return error

    def run(self) -> None:
        self.say("A catalog price at Stripe: a T-shirt for 19.99 USD")
        price = self.stripe.v1.prices.create({"currency": "usd", "unit_amount": 1999,
                                              "product_data": {"name": "T-shirt"}})
        self.show(f"price {price.id}")

        self.say("Alice orders two T-shirts")
        order = self.new_order(price.id, quantity=2)
        self.expect(order["amount"] == 3998, "the amount is 2 x 1999 = 3998 cents")

        self.say("Alice checks out in the mobile app (PaymentIntent)")
        status, pay = self.api(self.checkout, "POST", "/checkout", {"orderId": order["orderId"], "amount": 3998})
        self.expect(status == 201 and pay["clientSecret"].startswith("pi_"),
                    f"POST /checkout -> 201, payment {pay.get('paymentId')}, a client secret for the app")

        self.say("The app confirms the payment with test card 4242 4242 4242 4242")
        intent = self.confirm(pay["clientSecret"], "pm_card_visa")
        self.expect(getattr(intent, "status", None) == "succeeded", "Stripe: PaymentIntent succeeded")

        self.say("Stripe sends the signed payment_intent.succeeded webhook to the payment callback")
        self.wait_until(lambda: self.order(order["orderId"])["status"] == "paid", "the order reads paid")
        paid = self.order(order["orderId"])
        self.show(f"payments: {[(p['paymentId'], p['status'], p['amount']) for p in paid['payments']]}")

        self.say("Stripe delivers the same event again (it retries): applied once")
        events = self.stripe.v1.events.list({"type": "payment_intent.succeeded"}).data
        event = next(e for e in events if e.data.object.id == intent.id).to_dict()
        callback = load_handler("payment_callback")
        response = callback.lambda_handler(signed_webhook_event(event, LOCAL_WEBHOOK_SECRETS["payment"]),
                                           LambdaContext(function_name="payment_callback"))
        self.expect(json.loads(response["body"]).get("result") == "duplicate", "the callback answers duplicate")

        self.say("Alice's next order: her card is declined (test card 4000 0000 0000 0341), then she uses another")
        order2 = self.new_order(price.id)
        _, pay2 = self.api(self.checkout, "POST", "/checkout", {"orderId": order2["orderId"]})
        declined = self.confirm(pay2["clientSecret"], "pm_card_chargeCustomerFail")
        self.expect(getattr(declined, "code", None) == "card_declined", "Stripe: card_declined")
        self.wait_until(lambda: self.order(order2["orderId"])["payments"][0]["status"] == "failed",
                        "the payment reads failed")
        self.expect(self.order(order2["orderId"])["status"] == "pending", "the order is still pending")
        retried = self.confirm(pay2["clientSecret"], "pm_card_visa")
        self.expect(getattr(retried, "status", None) == "succeeded", "the same PaymentIntent succeeds with a new card")
        self.wait_until(lambda: self.order(order2["orderId"])["status"] == "paid", "the order reads paid")

        self.say("Checkout on the web (Stripe Checkout Session)")
        order3 = self.new_order(price.id)
        status, pay3 = self.api(self.checkout, "POST", "/checkout", {
            "orderId": order3["orderId"], "mode": "checkout_session",
            "successUrl": "https://shop.example/thanks", "cancelUrl": "https://shop.example/cart"})
        self.expect(status == 201 and bool(pay3.get("checkoutUrl")),
                    f"a hosted checkout page: {pay3.get('checkoutUrl')}")
        self.emulator.complete_checkout_session(pay3["checkoutUrl"].rstrip("/").rsplit("/", 1)[-1])
        self.wait_until(lambda: self.order(order3["orderId"])["status"] == "paid", "the order reads paid")

        self.say("Alice lists her orders, newest first")
        status, listing = self.api(self.orders, "GET", "/orders")
        for item in listing["orders"]:
            self.show(f"{item['orderId']}  {item['amount']:>6} {item['currency']}  {item['status']}")
        self.expect(status == 200 and len(listing["orders"]) == 3, "three orders, all paid")


def main() -> int:
    mount_layer()
    import boto3
    from moto import mock_aws

    from devstack.function_urls import FunctionUrlServer
    from devstack.stripe_emulator import StripeEmulator
    from devstack.template import create_tables

    print("Starting the Stripe emulator and an in-memory DynamoDB (moto) with the tables of template.yaml ...")
    with StripeEmulator() as emulator, mock_aws():
        _env_for(emulator)
        create_tables(boto3.client("dynamodb"))
        callback = load_handler("payment_callback")
        with FunctionUrlServer({"/payment": callback.lambda_handler}) as urls:
            emulator.register_webhook("payment", urls.url("/payment"), LOCAL_WEBHOOK_SECRETS["payment"])
            print(f"Stripe emulator: {emulator.url}   payment callback URL: {urls.url('/payment')}")
            try:
                Demo(emulator, urls).run()
            except DemoFailed as failure:
                print(f"\nDemo FAILED at: {failure}")
                return 1
    print("\nDemo passed: every step ended in the expected state.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

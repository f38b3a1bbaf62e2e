"""Shared fixtures: AWS through moto (tables built from template.yaml), handlers loaded by function name,
the Stripe emulator as a real process, and a counter of DynamoDB calls."""

from __future__ import annotations

import os

# Settings every test starts from; set before any handler module is imported.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "payments-tests",
    "POWERTOOLS_METRICS_NAMESPACE": "PaymentsTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_local",
    "STRIPE_SECRET_KEY": "sk_test_local",
    "STRIPE_WEBHOOK_SECRET": "whsec_local_payment",
    "STRIPE_WEBHOOK_SECRET_REFUND": "whsec_local_refund",
    "STRIPE_WEBHOOK_SECRET_SUBSCRIPTION": "whsec_local_subscription",
    "STRIPE_WEBHOOK_SECRET_RENEWAL": "whsec_local_renewal",
    "STRIPE_WEBHOOK_SECRET_CONNECT": "whsec_local_connect",
    "STRIPE_WEBHOOK_SECRET_USAGE": "whsec_local_usage",
    "PSEUDONYM_KEY": "test-pseudonym-key-0123456789abcdef-not-a-secret",
    "ALLOWED_REDIRECT_ORIGINS": "https://shop.example,https://example.com",
})
os.environ.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

from collections.abc import Iterator  # noqa: E402

import boto3  # noqa: E402
import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from devstack.template import REPO_ROOT, create_tables  # noqa: E402
from tests.support import reset_clients  # noqa: E402
from tests.support.calls import DynamoDBCalls, SerializedRequests  # noqa: E402
from tests.support.handlers import load_handler  # noqa: E402


@pytest.fixture
def aws() -> Iterator[None]:
    """Moto's in-process AWS with every table of template.yaml, fresh for each test."""
    with mock_aws():
        reset_clients()
        # without streams (tests/support/events.py turns them on where a test reads them)
        create_tables(boto3.client("dynamodb", region_name="us-east-1"), streams=False)
        yield
    reset_clients()


@pytest.fixture
def ddb_calls() -> Iterator[DynamoDBCalls]:
    with DynamoDBCalls() as calls:
        yield calls


@pytest.fixture(scope="session")
def stripe_emulator() -> Iterator[object]:
    """localstripe with the project's extensions, as a real process on a free loopback port."""
    from devstack.stripe_emulator import StripeEmulator

    with StripeEmulator() as emulator:
        yield emulator


@pytest.fixture
def stripe_env(stripe_emulator, monkeypatch) -> Iterator[object]:
    """Point the product at the emulator, with its data wiped."""
    stripe_emulator.reset()
    monkeypatch.setenv("STRIPE_API_BASE", stripe_emulator.url)
    monkeypatch.setenv("STRIPE_SECRET_KEY", stripe_emulator.api_key)
    reset_clients()
    yield stripe_emulator
    reset_clients()


class Catalog:
    """Prices at the emulator that the app sells: each one created is added to ``SELLABLE_PRICES``."""

    def __init__(self, emulator, monkeypatch):
        self.emulator, self.monkeypatch, self.ids = emulator, monkeypatch, []

    def price(self, amount: int = 1999, currency: str = "usd", *, name: str = "T-shirt",
              interval: str | None = None, sellable: bool = True):
        params = {"currency": currency, "unit_amount": amount, "product_data": {"name": name}}
        if interval:
            params["recurring"] = {"interval": interval}
        price = self.emulator.client().v1.prices.create(params)
        if sellable:
            self.ids.append(price.id)
            self.monkeypatch.setenv("SELLABLE_PRICES", ",".join(self.ids))
            reset_clients()
        return price


@pytest.fixture
def catalog(stripe_env, monkeypatch) -> Catalog:
    return Catalog(stripe_env, monkeypatch)


def _handler_fixture(folder: str):
    @pytest.fixture(scope="session", name=f"{folder}_handler")
    def handler():
        """``functions/<folder>/app.py``, loaded as Lambda loads it."""
        return load_handler(folder)

    return handler


# One fixture per function, ``<folder>_handler`` (``orders_handler``, ``payment_callback_handler``, ...): a function
# added under functions/ gets its fixture with no change here.
for _folder in sorted(p.name for p in (REPO_ROOT / "functions").iterdir() if (p / "app.py").exists()):
    globals()[f"{_folder}_handler"] = _handler_fixture(_folder)


PAYMENT_EVENTS = ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
                  "checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.async_payment_failed", "checkout.session.expired"]
REFUND_EVENTS = ["refund.created", "refund.updated", "refund.failed", "charge.refunded"]
SUBSCRIPTION_EVENTS = [f"customer.subscription.{n}" for n in ("created", "updated", "deleted", "paused", "resumed")] + [
    "entitlements.active_entitlement_summary.updated"]
RENEWAL_EVENTS = ["invoice.paid", "invoice.payment_failed"]
CONNECT_EVENTS = ["account.updated"]  # a Connect endpoint: the connected accounts' events
USAGE_EVENTS = ["v1.billing.meter.error_report_triggered"]  # an event destination with thin payloads


@pytest.fixture
def live(aws, stripe_env, payment_callback_handler, refund_callback_handler, subscription_callback_handler,
         renewal_callback_handler, connect_callback_handler, usage_callback_handler):
    """The product wired as in AWS: moto tables, the Stripe emulator, and the emulator's webhooks
    delivered to the real callbacks through loopback Function URLs, each endpoint with its own secret.

    The emulator delivers webhooks concurrently, and in-process moto is not isolated between threads (a
    failed transaction puts back copies of the tables it touched, undoing other threads' commits): each
    AWS request holds one lock, as DynamoDB applies each request atomically."""
    from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS
    from tests.support.function_urls import FunctionUrlServer

    endpoints = {"payment": (payment_callback_handler, PAYMENT_EVENTS),
                 "refund": (refund_callback_handler, REFUND_EVENTS),
                 "subscription": (subscription_callback_handler, SUBSCRIPTION_EVENTS),
                 "renewal": (renewal_callback_handler, RENEWAL_EVENTS),
                 "connect": (connect_callback_handler, CONNECT_EVENTS),
                 "usage": (usage_callback_handler, USAGE_EVENTS)}
    routes = {f"/{name}": handler.lambda_handler for name, (handler, _) in endpoints.items()}
    with SerializedRequests(), FunctionUrlServer(routes) as urls:
        for name, (_, events) in endpoints.items():
            stripe_env.register_webhook(name, urls.url(f"/{name}"), LOCAL_WEBHOOK_SECRETS[name], events,
                                        connect=name == "connect", thin=name == "usage")
        yield urls

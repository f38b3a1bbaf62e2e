"""The tooling's tests: the local stack, the Stripe emulator, the Lambda-event builders and sample events,
the handler runtime, local auth, env.local.json, the checkout page in a browser, the demo.

Every test under this folder is marked ``tooling``, so ``make test`` reports them apart from the product's
(``pytest -m tooling``, after ``pytest -m "not tooling"``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from devstack.stripe_emulator import StripeEmulator
from tests.support.webhook_receiver import WebhookReceiver

TOOLING = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by marker (-m)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TOOLING in item.path.resolve().parents:
            item.add_marker(pytest.mark.tooling)


@pytest.fixture(scope="module")
def emulator() -> Iterator[StripeEmulator]:
    """An emulator of the test module's own (the emulator's tests register webhooks, which a reset keeps)."""
    with StripeEmulator() as running:
        yield running


@pytest.fixture
def client(emulator: StripeEmulator) -> stripe.StripeClient:
    """A client of the module's emulator, its data wiped first."""
    emulator.reset()
    return emulator.client()


@pytest.fixture
def webhooks(emulator: StripeEmulator) -> Iterator[WebhookReceiver]:
    """An endpoint registered with the module's emulator for every event, keeping what it receives."""
    receiver = WebhookReceiver("whsec_tooling_tests")
    emulator.register_webhook("tooling-tests", receiver.url, receiver.secret)
    yield receiver
    receiver.close()

"""The Stripe API version is written once (``payments.stripe.client.STRIPE_API_VERSION``), and it is the one the
product speaks: the SDK's pinned version (whose shapes ``payments.stripe.objects`` reads), what the client sends,
and what the sample events say they were sent with."""

from __future__ import annotations

import stripe

from devstack import make_sample_events
from payments.stripe import client
from payments.stripe.client import STRIPE_API_VERSION


def test_the_pinned_version_is_the_sdks():
    # Upgrading stripe-python moves its pinned version: read its changelog, then move the constant on purpose.
    assert stripe.api_version == STRIPE_API_VERSION


def test_the_client_sends_it(monkeypatch):
    from tests.support import reset_clients

    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_version")
    reset_clients()
    try:
        assert client.client()._requestor._options.stripe_version == STRIPE_API_VERSION
    finally:
        reset_clients()


def test_the_sample_events_were_sent_with_it():
    assert make_sample_events.SAMPLE_API_VERSION == STRIPE_API_VERSION

"""Test support: loading and calling handlers, counting and serializing AWS calls, races, given records,
stand-in servers (a failing Stripe, a webhook receiver, Function URLs for the emulator's webhooks), and the
local stack as a process. Everything here is for tests only; what the local stack runs lives in devstack/."""

from __future__ import annotations


def reset_clients() -> None:
    """Forget every cached setting, binding and client, so the next call sees the current environment."""
    import payments

    payments.reset_caches()

"""Test support: loading handlers, counting calls, building requests, driving the emulator."""

from __future__ import annotations


def reset_clients() -> None:
    """Forget every cached setting, binding and client, so the next call sees the current environment."""
    import payments

    payments.reset_caches()

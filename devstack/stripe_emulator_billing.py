"""The billing test helpers by the path tests imported them from; they live in ``devstack.stripe_emulator``."""

from devstack.stripe_emulator.process import advance_subscription, pay_invoice

__all__ = ["advance_subscription", "pay_invoice"]

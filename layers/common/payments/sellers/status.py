"""A seller's status, from what Stripe says about their connected account (pure; unit tested).

- ``active``: the account can take charges and receive payouts (``charges_enabled`` and ``payouts_enabled``):
  orders naming the seller can be paid by destination charges.
- ``restricted``: onboarding is done (``details_submitted``) but Stripe has disabled charges or payouts
  (a document past due, a verification failed), or Stripe disabled the account for another reason than the
  onboarding it still waits for (``rejected.*``, ``listed``, ``under_review``, ``platform_paused``, ...).
- ``onboarding``: neither: the seller has not finished Stripe's onboarding form.

The mapping is a function of the account alone, so any ``account.updated`` (the newest by Stripe's ``created``)
says where the seller is: a seller may go from ``active`` to ``restricted`` and back as Stripe's requirements
change. "Forward only" is by time: an event older than the one applied changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # an annotation only: reading orders (which asks for ACTIVE) loads no Stripe code
    from payments.stripe.objects import StripeAccount

ONBOARDING, ACTIVE, RESTRICTED = "onboarding", "active", "restricted"
STATUSES = (ONBOARDING, ACTIVE, RESTRICTED)
# Why Stripe holds back an account that has simply not finished onboarding yet
_WAITING_FOR_ONBOARDING = frozenset({None, "requirements.past_due", "requirements.pending_verification",
                                     "action_required.requested_capabilities"})


def seller_status(account: StripeAccount) -> str:
    if account.charges_enabled and account.payouts_enabled:
        return ACTIVE
    if account.details_submitted or account.disabled_reason not in _WAITING_FOR_ONBOARDING:
        return RESTRICTED
    return ONBOARDING

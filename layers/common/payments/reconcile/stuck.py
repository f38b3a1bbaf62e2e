"""The reconciler's second pass: what is still ``pending`` after Stripe's events were applied, settled from what
Stripe says about it now (``payments.checkout.stuck``, ``payments.refunds.stuck``).

Found through the sparse ``byPendingSince`` index (never a table scan): pending since before now minus
``StuckAfterMinutes``, our clock against our own stamps. At most ``LIMIT`` of each kind per run, oldest first.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from payments.checkout.stuck import settle_stuck_payment
from payments.core.clock import iso, utc_now
from payments.core.config import get_settings
from payments.core.errors import TransientFailure, UpstreamUnavailable
from payments.core.observability import count, logger
from payments.data import pending
from payments.data.models import PaymentRecord, RefundRecord
from payments.reconcile.settling import SETTLED
from payments.refunds.stuck import settle_stuck_refund

LIMIT = 25


def settle_stuck(time_left: Callable[[], float]) -> int:
    """How many stuck payments and refunds were settled."""
    cutoff = iso(utc_now() - timedelta(minutes=get_settings().stuck_after_minutes))
    settled = 0
    kinds: tuple[tuple[type[Any], Callable[[Any], str]], ...] = (
        (PaymentRecord, settle_stuck_payment), (RefundRecord, settle_stuck_refund))
    for model, settle in kinds:
        for found in pending.stuck(model, cutoff, LIMIT):
            if time_left() <= 0:
                return settled
            try:
                outcome = settle(found)
            except (TransientFailure, UpstreamUnavailable) as error:
                logger.warning("a stuck record could not be settled now", extra={"detail": str(error)})
                continue
            if outcome == SETTLED:
                settled += 1
    if settled:
        count("StuckSettled", settled)
    return settled

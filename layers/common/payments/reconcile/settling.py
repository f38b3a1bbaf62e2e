"""What settling one stuck record ends in, and the retry around it (``payments.checkout.stuck``,
``payments.refunds.stuck``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments.core.errors import TransientFailure
from payments.core.observability import logger
from payments.core.retry import retry_on_conflict

SETTLED, STILL_PENDING, SKIPPED = "settled", "pending", "skipped"


def settle(attempt: Callable[[], str], what: str, **keys: Any) -> str:
    """``attempt`` (read, decide, write conditioned on what was read) again after a lost race; logs a settled
    ``what`` with ``keys``."""
    result = retry_on_conflict(attempt, lambda: TransientFailure(f"the {what} kept changing while being settled"))
    if result == SETTLED:
        logger.warning(f"a stuck {what} settled from Stripe's state", extra=keys)
    return result

"""A brake on card testing: at most ``PAYMENT_ATTEMPTS_PER_WINDOW`` payment attempts per user per
``PAYMENT_ATTEMPT_WINDOW_MINUTES`` (template parameters ``PaymentAttemptsPerWindow``, default 10, and
``PaymentAttemptWindowMinutes``, default 15), shared by every route that starts a payment (``POST /checkout``,
``POST /subscriptions``, ``POST /payment-methods/setup``). Each handler calls :func:`count_payment_attempt` first,
right after the caller is known: every request that passes authentication counts, whatever its body says.

The count is one DynamoDB ``UpdateItem`` per attempt on the counter ``<userId>#<window start>``:
``ADD attempts 1`` conditioned on ``attempts < limit`` (or no counter yet). DynamoDB applies each update
atomically, so concurrent requests are counted exactly: of 16 at once with a limit of 10, exactly 10 pass. A
refused attempt writes nothing (the condition failed), so a 429 does not count. The answer is
``429 too_many_attempts`` with ``Retry-After``: the seconds until the window ends.

Windows are fixed (they start at multiples of the window's length, UTC), so the whole check is one write with no
read. The price: a user may fit up to twice the limit into a short time across a window's edge. The window's end
comes from our clock and is compared only with our clock. Counters expire by TTL an hour after their window.
"""

from __future__ import annotations

import math

from payments.core import clock
from payments.core.config import get_settings
from payments.core.errors import TooManyRequests, WriteConflict
from payments.core.identity import Caller
from payments.core.observability import count, logger
from payments.data import attempts as attempt_store


def count_payment_attempt(caller: Caller) -> int:
    """Count one payment attempt of ``caller``: the attempts in the current window, this one included. Past the
    limit, a 429 ``too_many_attempts`` with ``Retry-After`` (and nothing counted)."""
    settings = get_settings()
    length = settings.payment_attempt_window_minutes * 60
    now = clock.utc_now().timestamp()
    start = int(now // length) * length
    ends = start + length
    try:
        return attempt_store.add_attempt(caller.user_id, window_start=start, window_ends=ends,
                                         limit=settings.payment_attempts_per_window)
    except WriteConflict:
        retry_after = max(1, math.ceil(ends - now))
        count("PaymentAttemptsRefused")
        logger.warning("payment attempts over the limit", extra={"retry_after": retry_after})
        raise TooManyRequests(f"too many payment attempts; try again in {retry_after} seconds",
                              code="too_many_attempts", headers={"Retry-After": str(retry_after)}) from None

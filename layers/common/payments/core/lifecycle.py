"""Which way state may move. Everything that changes a status asks here first, so state only moves forward.

A payment that Stripe reports failed can still succeed later (the customer retries on the same
PaymentIntent), so ``failed`` is not final; ``succeeded`` and ``canceled`` are. A failed payment whose
PaymentIntent is later canceled stays ``failed``: the failure is what happened to it. An order is paid (or
flagged ``amount_mismatch``) once, then may only move towards refunded.
"""

from __future__ import annotations

PAYMENT_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed", "canceled"}),
    "failed": frozenset({"succeeded"}),  # a failed payment keeps its failure on record
    "succeeded": frozenset(),
    "canceled": frozenset(),
}

REFUND_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"succeeded", "failed", "canceled"}),
    "succeeded": frozenset({"failed"}),  # Stripe can fail a refund after reporting it succeeded
    "failed": frozenset(),
    "canceled": frozenset(),
}

ORDER_MOVES: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "amount_mismatch"}),
    "paid": frozenset({"partially_refunded", "refunded"}),
    "amount_mismatch": frozenset({"partially_refunded", "refunded"}),
    "partially_refunded": frozenset({"refunded"}),
    "refunded": frozenset(),
}


# A subscription in one of these states is over: nothing moves it again, and its order may be subscribed anew.
SUBSCRIPTION_ENDED = frozenset({"canceled", "incomplete_expired", "failed"})


def payment_may_move(current: str, new: str) -> bool:
    return new in PAYMENT_MOVES.get(current, frozenset())


def refund_may_move(current: str, new: str) -> bool:
    return new in REFUND_MOVES.get(current, frozenset())


def order_may_move(current: str, new: str) -> bool:
    return new in ORDER_MOVES.get(current, frozenset())

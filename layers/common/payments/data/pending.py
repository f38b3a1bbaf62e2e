"""Records still ``pending`` that the reconciler watches (payments, refunds): the sparse ``byPendingSince`` index.

"Stuck" is our clock against our own stamp: pending since before now minus ``StuckAfterMinutes``. Stripe's clock
never enters it. See ``payments.data.models.WatchedWhilePending``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from payments.core.clock import now_iso
from payments.core.errors import WriteConflict
from payments.data import store
from payments.data.models import PaymentRecord, RefundRecord

R = TypeVar("R", PaymentRecord, RefundRecord)


def stuck(model: type[R], cutoff: str, limit: int) -> list[R]:
    """Up to ``limit`` records of ``model`` pending since before ``cutoff``, oldest first: one Query on the index
    (which holds their keys and ``orderId`` / ``paymentId`` only)."""
    index: Any = model.by_pending_since
    return store.query_before(index, "pending", model.pending_since < cutoff, limit=limit)


def look_again_later(record: R) -> None:
    """Stripe says ``record`` is legitimately still in progress: its clock restarts, and after
    ``MAX_PENDING_CHECKS`` looks it leaves the index. One conditional write; a lost race changes nothing (the
    record moved on meanwhile)."""
    record.pending_since = now_iso()
    record.pending_checks = int(record.pending_checks or 0) + 1
    try:
        store.put(record)
    except WriteConflict:
        pass

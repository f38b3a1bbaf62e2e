"""The reconciler's checkpoint: Stripe's ``created`` of the newest event it has gone through (``ReconcileTable``)."""

from __future__ import annotations

from payments.core.clock import now_iso
from payments.core.errors import WriteConflict
from payments.data import store
from payments.data.models import ReconcileCheckpointRecord

EVENTS = "events"


def get() -> int | None:
    """The checkpoint (a Stripe stamp), or None before the first run."""
    record = store.get(ReconcileCheckpointRecord, EVENTS)
    return int(record.created) if record is not None else None


def advance(created: int) -> None:
    """Move the checkpoint forward to ``created`` (one conditional UpdateItem; never backwards: when a concurrent
    run got further, its checkpoint stays)."""
    item = ReconcileCheckpointRecord.created
    try:
        store.update(ReconcileCheckpointRecord(EVENTS), [item.set(created), ReconcileCheckpointRecord.updated_at.set(
            now_iso())], condition=item.does_not_exist() | (item < created))
    except WriteConflict:
        pass

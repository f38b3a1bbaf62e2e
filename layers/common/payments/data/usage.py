"""The usage repository: what was sent to a Billing Meter, by a hash of the caller's idempotency key."""

from __future__ import annotations

from payments.core.clock import now_iso
from payments.data import store
from payments.data.models import UsageRecord


def get(usage_id: str) -> UsageRecord | None:
    return store.get(UsageRecord, usage_id)


def create(record: UsageRecord) -> None:
    """Write a new report (``WriteConflict`` when one with this key exists: a retry, or a racing request)."""
    store.put(record)


def mark(usage_id: str, status: str, *, failure_code: str | None = None) -> None:
    """The report was sent (``sent``) or refused by Stripe (``failed``, with Stripe's code): one UpdateItem."""
    now = now_iso()
    actions = [UsageRecord.status.set(status), UsageRecord.updated_at.set(now)]
    if status == "sent":
        actions += [UsageRecord.sent_at.set(now), UsageRecord.failure_code.remove()]
    elif failure_code:
        actions.append(UsageRecord.failure_code.set(failure_code[:100]))
    store.update(UsageRecord(usage_id), actions, condition=UsageRecord.usage_id.exists())

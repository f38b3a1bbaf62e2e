"""What subscription events do: the recurring payment record follows Stripe's subscription, forward only.

- ``customer.subscription.deleted`` is final: nothing moves a canceled subscription again.
- An event older than the last one applied (by Stripe's ``created``) changes nothing.
- Two events of one subscription in the same second cannot be ordered from their payloads (``created``
  has one-second resolution): then the subscription is read from Stripe and its current state applied,
  rather than guessing which of the two came last.

A subscription carries our metadata ``{orderId, recurringPaymentId, userId}``; one without it is looked
up by its Stripe id, and one we never created is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from payments import store, stripe_gateway
from payments.models import RecurringPaymentRecord
from payments.observability import count, logger
from payments.stripe_gateway import SubscriptionState
from payments.subscriptions import apply_state
from payments.webhooks import Decision, EventRule, StripeEvent


@dataclass(frozen=True)
class SubscriptionReport:
    event: StripeEvent
    state: SubscriptionState
    recurring_payment_id: str


def recurring_payment_for(subscription_id: str | None) -> tuple[str, str] | None:
    """(recurringPaymentId, orderId) of a Stripe subscription we created, from the index."""
    hit = store.first_in_index(RecurringPaymentRecord.by_stripe_subscription, subscription_id)
    return (hit.recurring_payment_id, hit.order_id) if hit is not None else None


class SubscriptionEventRule(EventRule):
    def prepare(self, event: StripeEvent) -> SubscriptionReport | None:
        state = SubscriptionState.from_payload(event.object)
        ours = state.metadata.get("recurringPaymentId", "")
        if not ours.startswith("sub_rec_"):
            found = recurring_payment_for(state.id)
            if found is None:
                logger.info("a subscription we did not create", extra={"subscription": state.id})
                return None
            ours = found[0]
        return SubscriptionReport(event, state, ours)

    def keys(self, report: SubscriptionReport) -> list[store.Key]:
        return [(RecurringPaymentRecord, report.recurring_payment_id)]

    def decide(self, report: SubscriptionReport, records: Sequence[Any]) -> Decision | None:
        (record,) = records
        if record is None:
            return None
        event, state = report.event, report.state
        if record.status == "canceled":
            return None  # deleted is final
        last = int(record.last_event_created or 0)
        if event.created < last:
            return None  # older than what we applied
        if event.type == "customer.subscription.deleted":
            state = SubscriptionState(state.id, "canceled", state.cancel_at_period_end, state.current_period_end,
                                      state.customer_id, state.metadata)
        elif event.created == last and not _same(record, state):
            logger.info("two subscription events in one second: reading the subscription from Stripe",
                        extra={"subscription": state.id})
            state = stripe_gateway.retrieve_subscription(state.id)
        if not apply_state(record, state, event.created) and event.created == last:
            return None  # nothing new: not even a later stamp that would fence off older events
        decision = Decision()
        decision.transaction.save(record)
        if record.status == "canceled":
            decision.after_commit.append(lambda: count("SubscriptionEnded"))
        return decision


def _same(record: RecurringPaymentRecord, state: SubscriptionState) -> bool:
    return record.status == state.status and bool(record.cancel_at_period_end) == state.cancel_at_period_end


SUBSCRIPTION_RULES: dict[str, EventRule] = {
    f"customer.subscription.{name}": SubscriptionEventRule()
    for name in ("created", "updated", "deleted", "paused", "resumed")}

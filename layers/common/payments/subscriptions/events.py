"""What subscription events do: the recurring payment record follows Stripe's subscription, forward only.

- **Links, not labels**: an event changes the record only when its subscription is the one the record holds.
  A record not linked yet (Stripe's first events can arrive before the subscribe call recorded Stripe's
  answer) is linked when the subscription belongs to the record's own Stripe customer; any other subscription
  naming our record in its metadata is ``ignored``.
- ``customer.subscription.deleted`` is final: nothing moves a canceled subscription again.
- **One clock**: an event older than the newest applied (by Stripe's ``created``) changes nothing. Two events in
  one second cannot be ordered from their payloads, and a change our API made carries no Stripe stamp at all:
  in either case, when the event disagrees with the record, the subscription is read from Stripe and its current
  state applied, rather than guessing.

A subscription carries our metadata ``{orderId, recurringPaymentId, userId}``; one without it is looked up by
its Stripe id on the ``byStripeSubscription`` index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from payments.core.observability import logger
from payments.data import store
from payments.data import subscriptions as recurring_store
from payments.data.models import RecurringPaymentRecord
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeSubscription
from payments.subscriptions.api import ENDED, apply_state
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, EventRule, Records, hinted_ids, is_stale, newest, require_link


def link_subscription(record: RecurringPaymentRecord, subscription_id: str | None, customer_id: str | None) -> None:
    """``NotOurs`` unless the record holds this subscription, or holds none yet and this one is its customer's."""
    if record.stripe_subscription_id is None and record.stripe_customer_id and record.status not in ENDED:
        require_link(record.stripe_customer_id, customer_id, "subscription's customer")
        return
    require_link(record.stripe_subscription_id, subscription_id, "subscription")


class SubscriptionEventRule(EventRule[StripeSubscription]):
    def __init__(self, fetch: Callable[[str], StripeSubscription] | None = None):
        # reading Stripe when the payloads cannot say which state is newer (injected in unit tests)
        self.fetch = fetch or (lambda subscription_id: stripe_api.retrieve_subscription(subscription_id))

    def read(self, event: StripeEvent) -> StripeSubscription:
        subscription = StripeSubscription.parse(event.object)
        if event.type == "customer.subscription.deleted":
            subscription = replace(subscription, status="canceled")
        return subscription

    def locate(self, event: StripeEvent, subject: StripeSubscription) -> dict[str, store.Key] | None:
        ids = hinted_ids(subject.metadata, recurring=("recurringPaymentId", "sub_rec_"))
        if ids is None:
            found = recurring_store.find_by_subscription(subject.id)
            if found is None:
                logger.info("a subscription we did not create", extra={"subscription": subject.id})
                return None
            ids = {"recurring": found.recurring_payment_id}
        return {"recurring": (RecurringPaymentRecord, ids["recurring"])}

    def decide(self, event: StripeEvent, subject: StripeSubscription, records: Records) -> Decision | None:
        record = records.require("recurring", RecurringPaymentRecord)
        link_subscription(record, subject.id, subject.customer_id)
        if record.status == "canceled" or is_stale(record.last_event_created, event):
            return None  # deleted is final; an older event changes nothing
        state = subject
        unordered = event.created == int(record.last_event_created or 0) or bool(record.changed_by_api)
        if unordered and not _same(record, state):
            logger.info("the subscription's events cannot be ordered: reading it from Stripe",
                        extra={"subscription": subject.id})
            state = self.fetch(subject.id)
        changed = apply_state(record, state)
        stamp = newest(record.last_event_created, event)
        if not changed and stamp == record.last_event_created and not record.changed_by_api:
            return None  # nothing new: not even a later stamp that would fence off older events
        record.last_event_created, record.changed_by_api = stamp, False
        decision = Decision().save(record)
        if record.status == "canceled":
            decision.count("SubscriptionEnded")
        return decision


def _same(record: RecurringPaymentRecord, state: StripeSubscription) -> bool:
    return (record.status == state.status and bool(record.cancel_at_period_end) == state.cancel_at_period_end
            and (state.price_id is None or record.price_id == state.price_id))


_RULE = SubscriptionEventRule()
SUBSCRIPTION_RULES: dict[str, EventRule[StripeSubscription]] = {
    f"customer.subscription.{name}": _RULE for name in ("created", "updated", "deleted", "paused", "resumed")}


"""What a subscription-mode Checkout Session's events do (through the payment callback, which receives every
``checkout.session.*`` event and hands a ``mode: subscription`` Session here).

- ``checkout.session.completed``: the customer paid (or started a trial). The Session is the one our record holds
  (links, not labels: ``require_link`` on the Session id), and the Session's own ``subscription`` is the Stripe
  subscription it created: the record is linked to it. The order is not paid here: the subscription's first
  ``invoice.paid`` pays it (renewal callback), whichever of the two arrives first. When a subscription event
  linked the record already (by its customer), the Session must name that same subscription.
- ``checkout.session.expired``: the customer never paid; the record (still without a subscription) is
  ``incomplete_expired``, and the order can be subscribed again.
- ``checkout.session.async_payment_*``: the invoice events say what the payment did: nothing here.

Our metadata on the Session (``{orderId, recurringPaymentId, userId}``) only finds the record.
"""

from __future__ import annotations

from payments.core.clock import now_iso, parse_iso, utc_now
from payments.core.lifecycle import SUBSCRIPTION_ENDED
from payments.data import store
from payments.data.models import RecurringPaymentRecord
from payments.stripe.objects import StripeCheckoutSession
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, NotLinkedYet, NotOurs, Records, hinted_ids, require_link


def session_keys(subject: StripeCheckoutSession) -> dict[str, store.Key] | None:
    ids = hinted_ids(subject.metadata, recurring=("recurringPaymentId", "sub_rec_"))
    return {"recurring": (RecurringPaymentRecord, ids["recurring"])} if ids else None


def _recording(record: RecurringPaymentRecord) -> bool:
    """Its start is still recording Stripe's Session: incomplete, and made within the payment callback's link wait
    (our clock against our own stamp); older, its start is gone and it waits for no event."""
    from payments.checkout.events import LINK_WAIT

    return record.status == "incomplete" and utc_now() - parse_iso(record.created_at) < LINK_WAIT


def decide_session(event: StripeEvent, subject: StripeCheckoutSession, records: Records) -> Decision | None:
    record = records.require("recurring", RecurringPaymentRecord)
    if record.mode != "checkout_session":
        raise NotOurs("the record was not started with a Checkout Session")
    if record.stripe_checkout_session_id is None and _recording(record):
        raise NotLinkedYet(f"subscription {record.recurring_payment_id} is still recording its Checkout Session")
    require_link(record.stripe_checkout_session_id, subject.id, "Checkout Session")
    if event.type == "checkout.session.completed":
        if subject.subscription_id is None:
            return None
        if record.stripe_subscription_id is not None:
            require_link(record.stripe_subscription_id, subject.subscription_id, "Session's subscription")
            return None  # linked already, by the subscription's own events
        record.stripe_subscription_id = subject.subscription_id
    elif event.type == "checkout.session.expired":
        if record.stripe_subscription_id is not None or record.status in SUBSCRIPTION_ENDED:
            return None
        record.status = "incomplete_expired"
    else:
        return None
    record.updated_at = now_iso()
    return Decision().save(record).count("SubscriptionCheckout" + event.type.rsplit(".", 1)[-1].capitalize())

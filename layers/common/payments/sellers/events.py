"""What Connect events do: ``account.updated`` moves the seller whose account it is to the status the account
now has (``payments.sellers.status``), by time: the newest event (by Stripe's ``created``) wins.

- **Finding** the seller: by the Stripe account's id, on the sellers' ``byStripeAccount`` index (the account's
  metadata ``sellerId`` is not needed, nor trusted).
- **Links, not labels**: the event changes the seller only when its account is the one the seller holds, and
  the event is about that account: a Connect event's ``account`` must be the seller's linked account. An
  ``account.updated`` of the platform's own account, or one whose object and ``account`` disagree, is
  ``ignored``.
- **One clock**: an event older than the newest applied (Stripe's ``created``, never ours) changes nothing. Two
  events of one account in the same second cannot be ordered from their payloads: when the later one disagrees
  with the seller, the account is read from Stripe and its current state applied.
"""

from __future__ import annotations

from collections.abc import Callable

from payments.core.clock import now_iso
from payments.core.observability import logger
from payments.data import sellers as seller_store
from payments.data import store
from payments.data.models import SellerRecord
from payments.sellers.status import seller_status
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeAccount
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, EventRule, Records, is_stale, newest, require_link


def apply_account(seller: SellerRecord, account: StripeAccount) -> bool:
    """Copy what the account says onto the seller; True when something changed."""
    before = (seller.status, seller.charges_enabled, seller.payouts_enabled, seller.details_submitted,
              list(seller.requirements_due or []), seller.disabled_reason)
    seller.status = seller_status(account)
    seller.charges_enabled, seller.payouts_enabled = account.charges_enabled, account.payouts_enabled
    seller.details_submitted = account.details_submitted
    seller.requirements_due = list(account.requirements_due)
    seller.disabled_reason = account.disabled_reason
    return before != (seller.status, seller.charges_enabled, seller.payouts_enabled, seller.details_submitted,
                      list(seller.requirements_due), seller.disabled_reason)


class AccountUpdatedRule(EventRule[StripeAccount]):
    def __init__(self, fetch: Callable[[str], StripeAccount] | None = None):
        # reading Stripe when two events cannot be ordered from their payloads (injected in unit tests)
        self.fetch = fetch or stripe_api.retrieve_account

    def read(self, event: StripeEvent) -> StripeAccount:
        return StripeAccount.parse(event.object)

    def locate(self, event: StripeEvent, subject: StripeAccount) -> dict[str, store.Key] | None:
        user_id = seller_store.user_of_account(subject.id)
        if user_id is None:
            logger.info("an account that is no seller of ours", extra={"account": subject.id})
            return None
        return {"seller": (SellerRecord, user_id)}

    def decide(self, event: StripeEvent, subject: StripeAccount, records: Records) -> Decision | None:
        seller = records.require("seller", SellerRecord)
        require_link(seller.stripe_account_id, subject.id, "connected account")
        require_link(seller.stripe_account_id, event.account, "event's account")
        if is_stale(seller.last_event_created, event):
            return None  # older than what we applied
        state = subject
        if event.created == int(seller.last_event_created or 0) and seller_status(subject) != seller.status:
            logger.info("two events of the account in one second: reading it from Stripe",
                        extra={"account": subject.id})
            state = self.fetch(subject.id)
        previous = seller.status
        changed = apply_account(seller, state)
        stamp = newest(seller.last_event_created, event)
        if not changed and stamp == seller.last_event_created:
            return None
        seller.last_event_created, seller.updated_at = stamp, now_iso()
        decision = Decision().save(seller)
        if seller.status != previous:
            decision.count(f"Seller{seller.status.capitalize()}")
        return decision


CONNECT_RULES: dict[str, EventRule[StripeAccount]] = {"account.updated": AccountUpdatedRule()}

"""Entitlements: what a user may use now, as Stripe's entitlements say, read in one DynamoDB call.

Stripe grants a product's features (``entitlements.feature``, each with a ``lookup_key``) to every customer with a
running subscription to it, and reports a customer's whole set whenever it changes:
``entitlements.active_entitlement_summary.updated`` (subscription callback). The app checks access with
``GET /entitlements`` -> ``{"entitlements": [{"lookupKey", "featureId"}]}``: one GetItem on ``EntitlementsTable``,
no Stripe call (a user with no row has none).

The summary event's rule (``EntitlementSummaryRule``):

- **Finding** the user: the summary names only the Stripe customer; the user is the one whose ``CustomersTable``
  row holds that customer (our own link, found on the ``byStripeCustomer`` index and read again consistently with
  the ledger). The index lags its table by a moment: a customer it does not know yet is read from Stripe, and its
  ``metadata.userId`` names the row to read, a hint only: the row must hold that customer (``require_link``).
  A customer no user of ours has is ``ignored``.
- **Forward only**, by Stripe's clock: the record keeps the ``created`` of the summary it holds; an older summary
  changes nothing. Two summaries in the same second cannot be ordered from their payloads: when they disagree, the
  customer's active entitlements are read from Stripe instead of guessing. So is a summary that does not list
  them all (``has_more``).
- The record: ``userId``, ``stripeCustomerId``, ``entitlements`` (``lookupKey``, ``featureId``), ``lastEventCreated``
  (Stripe's stamp), ``version``, ``updatedAt``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from payments.billing.views import entitlement_pairs, entitlements_view
from payments.core.clock import now_iso
from payments.core.identity import MAX_SUBJECT_LENGTH, Caller
from payments.core.observability import logger
from payments.core.validation import is_clean_text
from payments.data import customers as customer_store
from payments.data import store
from payments.data.models import CustomerRecord, Entitlement, EntitlementsRecord
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeCustomer, StripeEntitlement, StripeEntitlementSummary
from payments.webhooks.event import StripeEvent
from payments.webhooks.pipeline import Decision, EventRule, Records, is_stale, require_link

SUMMARY_EVENT = "entitlements.active_entitlement_summary.updated"


def get_entitlements(caller: Caller) -> dict[str, Any]:
    """The caller's active entitlements: one GetItem."""
    record = store.get(EntitlementsRecord, caller.user_id)
    entitlements = record.entitlements if record is not None else []
    return {"entitlements": entitlements_view(entitlements)}


class EntitlementSummaryRule(EventRule[StripeEntitlementSummary]):
    def __init__(self, fetch: Callable[[str], tuple[StripeEntitlement, ...]] | None = None,
                 customer: Callable[[str], StripeCustomer] | None = None):
        # reading Stripe when the payload cannot say, and a customer the index does not know yet (injectable)
        self.fetch = fetch or stripe_api.list_active_entitlements
        self.customer = customer or stripe_api.retrieve_customer

    def read(self, event: StripeEvent) -> StripeEntitlementSummary:
        return StripeEntitlementSummary.parse(event.object)

    def locate(self, event: StripeEvent, subject: StripeEntitlementSummary) -> dict[str, store.Key] | None:
        user_id = customer_store.find_user(subject.customer_id)
        if user_id is None:  # not on the index (yet): the customer's own metadata names the row to check
            hint = self.customer(subject.customer_id).metadata.get("userId")
            user_id = hint if hint and is_clean_text(hint) and len(hint) <= MAX_SUBJECT_LENGTH else None
        if user_id is None:
            logger.info("entitlements of a customer no user of ours has", extra={"customer": subject.customer_id})
            return None
        return {"customer": (CustomerRecord, user_id), "entitlements": (EntitlementsRecord, user_id)}

    def decide(self, event: StripeEvent, subject: StripeEntitlementSummary, records: Records) -> Decision | None:
        customer = records.require("customer", CustomerRecord)
        require_link(customer.stripe_customer_id, subject.customer_id, "customer")
        record = records.get("entitlements", EntitlementsRecord)
        if record is not None and is_stale(record.last_event_created, event):
            return None  # an older summary than the one applied
        listed = subject.entitlements
        tie = record is not None and event.created == int(record.last_event_created or 0)
        if listed is None or (tie and record is not None
                              and entitlement_pairs(listed) != entitlement_pairs(record.entitlements)):
            logger.info("reading the customer's entitlements from Stripe", extra={"customer": subject.customer_id})
            listed = self.fetch(subject.customer_id)
        if record is None:
            record = EntitlementsRecord(customer.user_id, stripe_customer_id=subject.customer_id, last_event_created=0)
        elif (entitlement_pairs(listed) == entitlement_pairs(record.entitlements)
              and event.created == int(record.last_event_created or 0)):
            return None  # nothing new
        record.stripe_customer_id = subject.customer_id
        record.entitlements = [Entitlement(lookup_key=e.lookup_key, feature_id=e.feature_id) for e in listed]
        record.last_event_created = event.created
        record.updated_at = now_iso()
        return Decision().save(record).count("EntitlementsChanged")


ENTITLEMENT_RULES: dict[str, EventRule[StripeEntitlementSummary]] = {SUMMARY_EVENT: EntitlementSummaryRule()}

"""Privacy requests: a user's data as one document (``GET /me/export``), and erasure (``DELETE /me``, and
``DELETE /users/{userId}`` for admins).

**Export**: ``{"userId", "orders", "subscriptions", "paymentMethods", "seller", "usage", "entitlements"}``: every
order with its payments, refunds and subscription (the Order JSON), every subscription record (also those no order
points at any more), the saved cards of the user's Stripe customer as summaries (brand, last 4 digits, expiry:
read from Stripe, never stored here), the seller, the usage reports, and what the user may use now. Everything is
found from the user id through indexes (``payments.data.privacy``); nothing of anyone else's is read.

**Erasure** keeps what accounting must keep and removes what identifies the person:

1. Everything stored under the user is found. A payment or refund still ``pending`` (money may still move) is a
   409 ``erasure_pending``, and nothing changes: erase once it has settled.
2. The Stripe customer is deleted (Stripe then ends its subscriptions and forgets its cards, email and name).
3. Every record moves to a pseudonymous user id, ``erased_<HMAC-SHA256(key, sub)>`` (the key is the secret
   ``PseudonymSecret``, readable by this function alone): orders lose their description, payments their return
   URLs; amounts, currencies, dates, statuses and Stripe ids stay (see the README: accounting and tax law
   require them). The user's ``GET /orders`` is then empty: the ``byUser`` indexes follow the pseudonym. The
   entitlements are deleted (they were what the deleted customer could use).
4. One log line ``UserErased``: the pseudonym and what was moved (counts), never the user id or any erased value.

Why an HMAC and not a random id: erasure must be repeatable. A crash halfway, or a second request, must move the
rest of the records to the *same* pseudonym, and a random one would have to be stored under the user id to be
found again (which is exactly what erasure removes). The HMAC gives the same pseudonym for the same user every
time without storing anything that maps back; without the key it cannot be linked to the user id, and with it
only someone who already knows the user id can test whether a pseudonym is theirs. Destroying the key makes the
pseudonyms anonymous. Idempotent: a repeat finds nothing left under the user id, and answers 204 again.

Left at Stripe: the metadata ``userId`` of payments and subscriptions made before (Stripe's own records of the
payments, which it keeps as a payment processor), and the seller's connected account (its balance and Stripe's
own identity checks are Stripe's; the platform closes it in the Dashboard).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from payments.billing.views import entitlements_view
from payments.core.config import get_settings
from payments.core.errors import Conflict
from payments.core.identity import Caller
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import privacy as privacy_store
from payments.data import store
from payments.data.models import EntitlementsRecord
from payments.orders.views import order_views, subscription_view
from payments.record_first import busy
from payments.sellers.views import seller_view
from payments.stripe import api as stripe_api
from payments.stripe.client import StripeResourceMissing
from payments.usage.api import usage_view

PSEUDONYM_PREFIX = privacy_store.PSEUDONYM_PREFIX


def pseudonym_for(user_id: str) -> str:
    """The user's pseudonymous id: the same every time for the same user, and unlinkable without the key."""
    key = get_settings().pseudonym_key().encode()
    return PSEUDONYM_PREFIX + hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()[:40]


def export_user(caller: Caller) -> dict[str, Any]:
    """``GET /me/export``: everything stored about the caller."""
    found = privacy_store.records_of(caller.user_id)
    methods = []
    if found.customer is not None and found.customer.stripe_customer_id:
        try:
            saved = stripe_api.list_payment_methods(found.customer.stripe_customer_id)
        except StripeResourceMissing:  # the customer was deleted at Stripe (the Dashboard): no cards are kept
            saved = []
        methods = [{"id": m.id, "type": m.type, "brand": m.brand, "last4": m.last4, "expMonth": m.exp_month,
                    "expYear": m.exp_year} for m in saved]
    count("UserExported")
    return {
        "userId": caller.user_id,
        "orders": order_views(found.orders),
        "subscriptions": [{"orderId": r.order_id, **subscription_view(r)} for r in found.recurring],
        "paymentMethods": methods,
        "seller": seller_view(found.seller) if found.seller is not None else None,
        "usage": [usage_view(u) for u in found.usage],
        "entitlements": entitlements_view(found.entitlements.entitlements if found.entitlements is not None else None),
    }


def erase_me(caller: Caller) -> None:
    """``DELETE /me``."""
    _erase(caller.user_id, by="self")


def erase_user(caller: Caller, user_id: str) -> None:
    """``DELETE /users/{userId}`` (admins only)."""
    caller.require_admin()
    _erase(user_id, by="admin")


def _delete_entitlements(user_id: str) -> None:
    current = store.get(EntitlementsRecord, user_id)
    if current is not None:
        privacy_store.delete_entitlements(current)


def _erase(user_id: str, *, by: str) -> None:
    found = privacy_store.records_of(user_id)
    if not found:
        return  # nothing (left) under this user id: erased already, or never here
    pending = [p.payment_id for p in found.payments if p.status == "pending"] + [
        r.refund_id for r in found.refunds if r.status == "pending"]
    if pending:
        raise Conflict(f"{len(pending)} payment(s) or refund(s) of this user are still pending; erase once they "
                       "have settled", code="erasure_pending")
    pseudonym = pseudonym_for(user_id)
    if found.customer is not None and found.customer.stripe_customer_id:
        stripe_api.delete_customer(found.customer.stripe_customer_id)
    for payment in found.payments:
        privacy_store.pseudonymize_payment(payment, user_id, pseudonym)
    for order in found.orders:
        privacy_store.pseudonymize_order(order, user_id, pseudonym)
    for recurring in found.recurring:
        privacy_store.pseudonymize_recurring(recurring, user_id, pseudonym)
    for usage in found.usage:
        privacy_store.pseudonymize_usage(usage, user_id, pseudonym)
    if found.seller is not None:
        retry_on_conflict(lambda: privacy_store.move_seller(user_id, pseudonym), busy)
    if found.entitlements is not None:
        retry_on_conflict(lambda: _delete_entitlements(user_id), busy)
    if found.customer is not None:  # last: a repeat after a crash still finds the Stripe customer through it
        retry_on_conflict(lambda: privacy_store.move_customer(user_id, pseudonym), busy)
    count("UserErased")
    logger.info("UserErased", extra={"pseudonym": pseudonym, "by": by, "orders": len(found.orders),
                                     "payments": len(found.payments), "subscriptions": len(found.recurring),
                                     "usageReports": len(found.usage), "seller": found.seller is not None,
                                     "stripeCustomerDeleted": bool(found.customer and
                                                                   found.customer.stripe_customer_id)})

"""Becoming a seller: an Express connected account at Stripe and a link to its onboarding (``POST /sellers``), and
the seller as it stands (``GET /sellers/me``).

One seller per user, never two accounts: the seller record is written first, keyed by the user (a conditional
put: of two racing first requests one writes it, the other reads it), then the account is created at Stripe with
the key ``<sellerId>:account`` (``SellerAccountAtStripe``, a ``RecordFirst``), so a retry or a racing request gets
the same account, and its id is recorded on the seller. A request that finds the record without an account (its
creator crashed, or Stripe failed) completes it with the same key.

Every ``POST /sellers`` answers a fresh onboarding link (Stripe's links are single-use and expire within
minutes): ``OnboardingLinkAtStripe`` counts the link on the seller first (``linksIssued``, conditioned on the
version), then asks Stripe with the key ``<sellerId>:link:<n>``. The link itself is not stored.

Where Stripe sends the seller back: ``returnUrl`` / ``refreshUrl`` in the body (on an allowed origin, like a
Checkout's ``successUrl``), else the template's ``SellerReturnUrl``.

The seller's status follows ``account.updated`` through the Connect callback (``payments.sellers.events``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core import validation
from payments.core.clock import now_iso
from payments.core.config import get_settings
from payments.core.errors import ApiError, NotFound
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import sellers as seller_store
from payments.data.models import SellerRecord
from payments.record_first import RecordFirst, busy
from payments.sellers.status import ONBOARDING
from payments.sellers.views import seller_view
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeAccount, StripeAccountLink


@dataclass(frozen=True)
class OnboardingUrls:
    return_url: str
    refresh_url: str

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> OnboardingUrls:
        settings = get_settings()
        origins, default = settings.redirect_origins, settings.seller_return_url
        given = validation.redirect_url(body, "returnUrl", required=default is None, allowed_origins=origins)
        refresh = validation.redirect_url(body, "refreshUrl", required=False, allowed_origins=origins)
        return_url = given or default or ""
        return cls(return_url=return_url, refresh_url=refresh or return_url)


class SellerAccountAtStripe(RecordFirst[SellerRecord, StripeAccount]):
    """The user's seller record, then its Express account at Stripe."""

    name = "SellerAccount"
    action = "account"

    def __init__(self, user_id: str):
        self.user_id = user_id

    def reserve(self) -> SellerRecord:
        """The user's seller record: written now, or the one a racing request wrote."""
        existing = seller_store.get(self.user_id)
        if existing is not None:
            return existing
        now = now_iso()
        record = SellerRecord(self.user_id, seller_id=new_id("sel"), status=ONBOARDING, created_at=now,
                              updated_at=now)
        seller_store.save(record)  # conditioned on no record yet: WriteConflict when another request won
        count("SellerCreated")
        return record

    def record_id(self, record: SellerRecord) -> str:
        return record.seller_id

    def call(self, record: SellerRecord, idempotency_key: str) -> StripeAccount:
        return stripe_api.create_express_account(idempotency_key=idempotency_key,
                                                 metadata={"sellerId": record.seller_id})

    def record(self, record: SellerRecord, answer: StripeAccount) -> None:
        def attempt() -> None:
            fresh = seller_store.get(record.user_id) or record
            if fresh.stripe_account_id is None:
                fresh.stripe_account_id, fresh.updated_at = answer.id, now_iso()
                seller_store.save(fresh)
            for name in SellerRecord.get_attributes():  # the caller goes on with the seller as stored
                setattr(record, name, getattr(fresh, name))

        retry_on_conflict(attempt, busy)

    def release(self, record: SellerRecord, error: ApiError) -> None:
        """Nothing is held: the record without an account is completed by the seller's next request."""


class OnboardingLinkAtStripe(RecordFirst[SellerRecord, StripeAccountLink]):
    """A fresh onboarding link for the seller's account, counted on the seller first (its idempotency key)."""

    name = "OnboardingLink"

    def __init__(self, seller: SellerRecord, urls: OnboardingUrls):
        self.seller, self.urls, self._read_again = seller, urls, False

    def reserve(self) -> SellerRecord:
        # the seller as the caller read it; after a lost race (another request counted a link), as stored now
        fresh = (seller_store.get(self.seller.user_id) or self.seller) if self._read_again else self.seller
        self._read_again = True
        fresh.links_issued = int(fresh.links_issued or 0) + 1
        fresh.updated_at = now_iso()
        seller_store.save(fresh)
        self.seller = fresh
        return fresh

    def record_id(self, record: SellerRecord) -> str:
        return record.seller_id

    def idempotency_key(self, record: SellerRecord) -> str:
        return f"{record.seller_id}:link:{int(record.links_issued or 0)}"

    def call(self, record: SellerRecord, idempotency_key: str) -> StripeAccountLink:
        return stripe_api.create_account_link(idempotency_key=idempotency_key,
                                              account_id=record.stripe_account_id or "",
                                              refresh_url=self.urls.refresh_url, return_url=self.urls.return_url)

    def record(self, record: SellerRecord, answer: StripeAccountLink) -> None:
        """A link is handed out, never stored (it lets whoever holds it onboard the account)."""

    def release(self, record: SellerRecord, error: ApiError) -> None:
        """Nothing is held: the count only keeps each link's key new."""


def become_seller(caller: Caller, urls: OnboardingUrls) -> dict[str, Any]:
    """``POST /sellers``: the caller's seller (made on the first call) and a fresh onboarding link."""
    action = SellerAccountAtStripe(caller.user_id)
    seller = retry_on_conflict(action.reserve, busy)
    if seller.stripe_account_id is None:
        action.complete(seller)
    link = OnboardingLinkAtStripe(seller, urls)
    counted, answer = link.run()
    logger.info("onboarding link issued", extra={"seller_id": seller.seller_id})
    return {"sellerId": seller.seller_id, "stripeAccountId": counted.stripe_account_id,
            "onboardingUrl": answer.url, "status": counted.status}


def my_seller(caller: Caller) -> dict[str, Any]:
    """``GET /sellers/me``."""
    seller = seller_store.get(caller.user_id)
    if seller is None:
        raise NotFound("you are not a seller yet: POST /sellers", code="seller_not_found")
    return seller_view(seller)

"""The seller JSON (``GET /sellers/me``, the export, and ``SellerUpdated`` events)."""

from __future__ import annotations

from typing import Any

from payments.data.models import SellerRecord


def seller_view(seller: SellerRecord) -> dict[str, Any]:
    return {
        "sellerId": seller.seller_id,
        "stripeAccountId": seller.stripe_account_id,
        "status": seller.status,
        "chargesEnabled": bool(seller.charges_enabled),
        "payoutsEnabled": bool(seller.payouts_enabled),
        "detailsSubmitted": bool(seller.details_submitted),
        "requirementsDue": list(seller.requirements_due or []),
        "createdAt": seller.created_at,
        "updatedAt": seller.updated_at,
    }

"""What a user may use, as the API shows it: ``[{"lookupKey", "featureId"}]``, the one shape ``GET /entitlements``,
the export (``GET /me/export``) and the ``EntitlementsChanged`` event share. No Stripe code: the event publisher
imports it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def entitlement_pairs(entitlements: Iterable[Any] | None) -> list[tuple[str, str]]:
    """``(lookup key, feature id)`` of each entitlement (stored ones or Stripe's), sorted: equal when the same."""
    return sorted((str(e.lookup_key), str(e.feature_id)) for e in entitlements or [])


def entitlements_view(entitlements: Iterable[Any] | None) -> list[dict[str, str]]:
    return [{"lookupKey": e.lookup_key, "featureId": e.feature_id} for e in entitlements or []]

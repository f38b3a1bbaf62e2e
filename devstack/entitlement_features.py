"""The demo catalog's entitlement features: each plan's product grants features (Stripe's entitlements), made once.

``ensure_features(client, product_id, features)`` makes sure each ``(lookup_key, name)`` feature exists at Stripe
(found by its lookup key, so never made twice, in the emulator or in Stripe's test mode) and is attached to the
product. A subscription to that product then grants them, and Stripe reports it with
``entitlements.active_entitlement_summary.updated``, which ``GET /entitlements`` shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def ensure_features(client: Any, product_id: str, features: Iterable[tuple[str, str]]) -> list[str]:
    """The lookup keys of ``features``, each existing at Stripe and attached to ``product_id``."""
    attached = {f.entitlement_feature.id for f in client.v1.products.features.list(product_id, {"limit": 100}).data}
    keys = []
    for lookup_key, name in features:
        found = client.v1.entitlements.features.list({"lookup_key": lookup_key, "limit": 1}).data
        feature = found[0] if found else client.v1.entitlements.features.create({"name": name,
                                                                                  "lookup_key": lookup_key})
        if feature.id not in attached:
            client.v1.products.features.create(product_id, {"entitlement_feature": feature.id})
        keys.append(lookup_key)
    return keys

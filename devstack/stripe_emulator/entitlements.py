"""Extension 18: entitlement features, product features, active entitlements and the summary event.

- ``/v1/entitlements/features``: create (``name``, ``lookup_key``, unique among active features; ``metadata``),
  retrieve, update (``name``, ``active``, ``metadata``), list (``lookup_key``, ``archived``).
- ``/v1/products/{id}/features``: attach a feature to a product (``entitlement_feature``), list, and
  ``DELETE /v1/products/{id}/features/{product_feature}``.
- ``GET /v1/entitlements/active_entitlements?customer=``: the features of the products of the customer's
  subscriptions that are ``active``, ``trialing`` or ``past_due`` (``entitlements.active_entitlement``: ``id``,
  ``feature``, ``lookup_key``), ``limit`` and ``starting_after`` as any list.
- ``entitlements.active_entitlement_summary.updated``: after every request that changed anything (a subscription
  started, renewed, changed plan, ended; a feature attached or removed), each customer whose set of active
  entitlements differs from the last one reported gets one summary event (``customer``, ``entitlements`` listing all
  of them), stamped like every event with the wall clock's ``created``. The events follow the request's own.

Left out: ``entitlements.feature`` events, an active entitlement's own ``GET`` by id, metered features, and
Stripe's delay (the summary follows at once).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from localstripe.resources import List, StripeObject, store

from devstack.stripe_emulator.common import (
    as_bool,
    as_metadata,
    as_str,
    emit,
    get_or_404,
    invalid,
    missing,
    newest_first,
    reject_unknown,
    stripe_error,
)

ENTITLED = ("active", "trialing", "past_due")
SUMMARY_EVENT = "entitlements.active_entitlement_summary.updated"


class Feature(StripeObject):
    object = "entitlements.feature"
    _id_prefix = "feat_test_"

    def __init__(self, name=None, lookup_key=None, metadata=None, **kwargs):
        reject_unknown(kwargs, what="features")
        if not name:
            raise missing("name")
        if not lookup_key:
            raise missing("lookup_key")
        lookup_key = as_str(lookup_key, "lookup_key")
        if any(f.lookup_key == lookup_key and f.active for f in _features()):
            raise invalid("lookup_key", f"A feature with lookup_key {lookup_key!r} already exists.")
        super().__init__()
        self.active = True
        self.lookup_key = lookup_key
        self.metadata = as_metadata(metadata)
        self.name = as_str(name, "name")

    @classmethod
    def _api_retrieve(cls, id):
        return get_or_404(cls.object, id, "id")

    @classmethod
    def _api_update(cls, id, name=None, active=None, metadata=None, **kwargs):
        reject_unknown(kwargs, what="feature updates")
        feature = cls._api_retrieve(id)
        if name is not None:
            feature.name = as_str(name, "name")
        if active is not None:
            feature.active = as_bool(active, "active")
        if metadata is not None:
            feature.metadata = {**feature.metadata, **as_metadata(metadata)}
        return feature


def _features() -> list[Feature]:
    return [obj for key, obj in store.items() if key.startswith("entitlements.feature:")]


class ProductFeature(StripeObject):
    object = "product_feature"
    _id_prefix = "prodft_"

    def __init__(self, product: str, feature: Feature):
        super().__init__()
        self._product = product
        self._feature = feature.id

    @property
    def entitlement_feature(self) -> dict:
        return store[f"entitlements.feature:{self._feature}"]._export()


def _product_features(product: str | None = None) -> list[ProductFeature]:
    return [obj for key, obj in store.items()
            if key.startswith("product_feature:") and (product is None or obj._product == product)]


class ActiveEntitlement:
    """One active entitlement, as listed and summarized (not stored: it is computed)."""

    def __init__(self, customer: str, feature: Feature):
        self.id = f"ent_test_{customer.removeprefix('cus_')}{feature.id.removeprefix('feat_test_')}"[:40]
        self.feature = feature.id
        self.lookup_key = feature.lookup_key

    def _export(self, expand=None) -> dict:
        return {"id": self.id, "object": "entitlements.active_entitlement", "feature": self.feature,
                "livemode": False, "lookup_key": self.lookup_key}


def active_entitlements(customer: str) -> list[ActiveEntitlement]:
    """The features of the products of the customer's running subscriptions (each feature once)."""
    products: list[str] = []
    for key, sub in store.items():
        if key.startswith("subscription:") and sub.customer == customer and sub.status in ENTITLED:
            for item in getattr(sub.items, "_list", []):
                price = getattr(item, "price", None)
                product = getattr(price, "product", None)
                if product and product not in products:
                    products.append(product)
    features: dict[str, Feature] = {}
    for product in products:
        for link in _product_features(product):
            feature = store.get(f"entitlements.feature:{link._feature}")
            if feature is not None and feature.active:
                features.setdefault(feature.id, feature)
    return [ActiveEntitlement(customer, f) for f in features.values()]


class _Computed(List):
    """A list of computed objects (localstripe's List exports stored ones the same way)."""

    def __init__(self, url: str, items: list, limit=None, starting_after=None):
        super().__init__(url, limit=limit, starting_after=starting_after)
        self._list = items


class Summary:
    """``entitlements.active_entitlement_summary``: what a summary event carries (it has no id of its own)."""

    def __init__(self, customer: str, entitlements: list[ActiveEntitlement]):
        self.customer, self.entitlements = customer, entitlements

    def _export(self, expand=None) -> dict:
        return {"object": "entitlements.active_entitlement_summary", "customer": self.customer, "livemode": False,
                "entitlements": {"object": "list", "data": [e._export() for e in self.entitlements],
                                 "has_more": False, "url": "/v1/entitlements/active_entitlements"}}


#: customer -> the feature ids last reported for it
_reported: dict[str, tuple[str, ...]] = {}


def publish_changes() -> None:
    """One summary event for each customer whose active entitlements changed since the last one sent."""
    customers = {obj.id for key, obj in store.items() if key.startswith("customer:")}
    if not customers:
        _reported.clear()  # the data were wiped
        return
    for customer in sorted(customers):
        active = active_entitlements(customer)
        features = tuple(sorted(e.feature for e in active))
        if features != _reported.get(customer, ()):
            _reported[customer] = features
            emit(SUMMARY_EVENT, Summary(customer, active))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Routes
# --------------------------------------------------------------------------------------------


def _list_features(lookup_key=None, archived=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs, what="listing features")
    archived = as_bool(archived, "archived") if archived is not None else None
    found = [f for f in newest_first(_features(), {"lookup_key": lookup_key})
             if archived is None or f.active != archived]
    return _Computed("/v1/entitlements/features", found, limit, starting_after)


def _retrieve_feature(id, **kwargs):
    reject_unknown(kwargs, what="retrieving features")
    return Feature._api_retrieve(id)


def _active(customer=None, limit=None, starting_after=None, **kwargs):
    reject_unknown(kwargs, what="listing active entitlements")
    if customer is None:
        raise missing("customer")
    get_or_404("customer", customer, "customer")
    return _Computed("/v1/entitlements/active_entitlements", active_entitlements(customer), limit, starting_after)


async def product_features(request: web.Request) -> web.Response:
    """``/v1/products/{id}/features[/{feature}]``: attach (POST), list (GET), remove (DELETE)."""
    from localstripe import server

    product = get_or_404("product", request.match_info["id"], "product").id
    if request.method == "GET":
        query = server.unflatten_data(request.query) or {}
        listed = _Computed(request.path, _product_features(product), query.get("limit"),
                           query.get("starting_after"))
        return server.json_response(listed._export())
    if request.method == "DELETE":
        link = next((f for f in _product_features(product) if f.id == request.match_info.get("feature")), None)
        if link is None:
            raise stripe_error(404, "No such product feature.", code="resource_missing", param="id")
        del store[f"product_feature:{link.id}"]
        return server.json_response({"id": link.id, "object": "product_feature", "deleted": True})
    data = await server.get_post_data(request) or {}
    feature_id = data.pop("entitlement_feature", None)
    reject_unknown(data, what="product features")
    if feature_id is None:
        raise missing("entitlement_feature")
    feature = get_or_404("entitlements.feature", feature_id, "entitlement_feature")
    if any(f._feature == feature.id for f in _product_features(product)):
        raise invalid("entitlement_feature", f"The feature {feature.id} is already attached to {product}.")
    return server.json_response(ProductFeature(product, feature)._export())


def install() -> None:
    """Extension 18's API routes; before ``localstripe.server`` is imported (it binds ``extra_apis`` then)."""
    from localstripe import resources

    resources.extra_apis.extend((
        ("POST", "/v1/entitlements/features", Feature),
        ("GET", "/v1/entitlements/features", _list_features),
        ("GET", "/v1/entitlements/features/{id}", _retrieve_feature),
        ("POST", "/v1/entitlements/features/{id}", Feature._api_update),
        ("GET", "/v1/entitlements/active_entitlements", _active),
    ))


def routes() -> list[tuple[str, str, Any]]:
    """Added by ``server.install`` once localstripe's server exists (no route of its own is in the way)."""
    return [("GET", "/v1/products/{id}/features", product_features),
            ("POST", "/v1/products/{id}/features", product_features),
            ("DELETE", "/v1/products/{id}/features/{feature}", product_features)]


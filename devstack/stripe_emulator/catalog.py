"""Extension 1: Prices (``/v1/prices``: create, retrieve, update, list). localstripe only has legacy Plans.

A recurring price also creates a localstripe Plan with the *same id*, amount and interval, which is what
localstripe's own subscriptions understand. Emits ``price.created`` / ``price.updated`` (and
``product.created`` for ``product_data``).
"""

from __future__ import annotations

from typing import Any

from localstripe.resources import Plan, Product, StripeObject, store

from devstack.stripe_emulator.common import (
    as_bool,
    as_currency,
    as_int,
    as_metadata,
    as_str,
    emit,
    get_or_404,
    invalid,
    missing,
    newest_first,
    reject_unknown,
)


def _product_id(product: Any, product_data: Any) -> str:
    """Check ``product`` exists, or create one from ``product_data`` (emits product.created)."""
    if (product is None) == (product_data is None):
        raise invalid("product", "Pass exactly one of product or product_data.")
    if product is not None:
        return get_or_404(Product.object, product, "product").id
    if not isinstance(product_data, dict) or not product_data.get("name"):
        raise missing("product_data[name]")
    return Product(**product_data).id


class Price(StripeObject):
    """``/v1/prices``. Recurring prices are mirrored as a localstripe Plan with the same id."""

    object = "price"
    _id_prefix = "price_"
    _updatable = ("active", "metadata", "nickname", "lookup_key")

    def __init__(
        self,
        currency=None,
        unit_amount=None,
        product=None,
        product_data=None,
        recurring=None,
        active=True,
        metadata=None,
        nickname=None,
        lookup_key=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        currency = as_currency(currency, "currency")
        if unit_amount is None:
            raise missing("unit_amount")
        unit_amount = as_int(unit_amount, "unit_amount")
        active = as_bool(active, "active")
        metadata = as_metadata(metadata)
        nickname = as_str(nickname, "nickname")
        lookup_key = as_str(lookup_key, "lookup_key")
        if recurring is not None:
            if not isinstance(recurring, dict):
                raise invalid("recurring", "Invalid object: recurring.")
            recurring = dict(recurring)
            interval = recurring.pop("interval", None)
            if interval not in ("day", "week", "month", "year"):
                raise invalid("recurring[interval]", "recurring[interval] must be day, week, month or year.")
            interval_count = as_int(recurring.pop("interval_count", 1), "recurring[interval_count]", 1)
            if recurring.pop("usage_type", "licensed") != "licensed":
                raise invalid("recurring[usage_type]", "The emulator supports only licensed prices.")
            reject_unknown(recurring, "recurring")
            recurring = {
                "interval": interval,
                "interval_count": interval_count,
                "usage_type": "licensed",
                "trial_period_days": None,
                "meter": None,
            }
        product = _product_id(product, product_data)  # last check: it may create a product

        super().__init__()
        self.active = active
        self.billing_scheme = "per_unit"
        self.custom_unit_amount = None
        self.currency = currency
        self.lookup_key = lookup_key
        self.metadata = metadata
        self.nickname = nickname
        self.product = product
        self.recurring = recurring
        self.tax_behavior = "unspecified"
        self.tiers_mode = None
        self.transform_quantity = None
        self.type = "recurring" if recurring else "one_time"
        self.unit_amount = unit_amount
        self.unit_amount_decimal = str(unit_amount)

        if recurring:  # what localstripe's subscriptions understand
            Plan(
                id=self.id,
                amount=unit_amount,
                currency=currency,
                product=product,
                active=active,
                interval=recurring["interval"],
                interval_count=recurring["interval_count"],
                nickname=nickname,
                metadata=dict(metadata),
            )
        emit("price.created", self)

    @classmethod
    def _api_retrieve(cls, id):
        return get_or_404(cls.object, id, "price")

    @classmethod
    def _api_update(cls, id, **data):
        reject_unknown({k: v for k, v in data.items() if k not in cls._updatable})
        price = cls._api_retrieve(id)
        if "active" in data:
            data["active"] = as_bool(data["active"], "active")
            plan = store.get(f"plan:{id}")
            if plan is not None:
                plan.active = data["active"]
        price._update(**data)
        emit("price.updated", price)
        return price

    @classmethod
    def _api_list_all(
        cls,
        url="/v1/prices",
        active=None,
        product=None,
        type=None,
        currency=None,
        lookup_keys=None,
        limit=None,
        starting_after=None,
        **kwargs,
    ):
        reject_unknown(kwargs)
        if isinstance(lookup_keys, str):
            lookup_keys = [lookup_keys]
        filters = {
            "active": None if active is None else as_bool(active, "active"),
            "product": product,
            "type": type,
            "currency": currency and currency.lower(),
        }
        li = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        li._list = newest_first(li._list, filters)
        if lookup_keys is not None:
            li._list = [p for p in li._list if p.lookup_key in lookup_keys]
        return li


"""Orders: create (from catalog prices, or an explicit amount by an admin), read one, list mine.

The amount of a catalog order is computed here from Stripe's prices; the client never names it.
Reading an order and everything under it costs one GetItem and at most one BatchGetItem; a page of
orders costs one Query and at most one BatchGetItem.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from payments import money, store, stripe_gateway, validation
from payments.clock import now_iso
from payments.errors import InvalidField, NotFound
from payments.identity import Caller
from payments.ids import new_id
from payments.models import OrderItem, OrderRecord, PaymentRecord, RecurringPaymentRecord, RefundRecord
from payments.observability import count, logger
from payments.views import order_view

MAX_ITEMS = 20
MAX_QUANTITY = 1000


@dataclass(frozen=True)
class CatalogItem:
    price_id: str
    quantity: int


def parse_catalog_items(body: Mapping[str, Any]) -> list[CatalogItem]:
    raw = body.get("items")
    if not isinstance(raw, list) or not raw:
        raise InvalidField("items", "must be a non-empty list of {priceId, quantity}")
    if len(raw) > MAX_ITEMS:
        raise InvalidField("items", f"must have at most {MAX_ITEMS} entries")
    items = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise InvalidField(f"items[{index}]", "must be an object with priceId and quantity")
        price_id = validation.text(entry, "priceId", max_length=255)
        quantity = validation.integer(entry, "quantity", required=False, minimum=1, maximum=MAX_QUANTITY)
        assert price_id is not None
        items.append(CatalogItem(price_id=price_id, quantity=1 if quantity is None else quantity))
    return items


def create_catalog_order(caller: Caller, items: Sequence[CatalogItem], description: str) -> dict[str, Any]:
    """An order for the caller, priced from Stripe: one recurring price alone makes a subscription order."""
    prices: dict[str, stripe_gateway.PriceRef] = {}
    for index, item in enumerate(items):
        if item.price_id not in prices:
            try:
                prices[item.price_id] = stripe_gateway.retrieve_price(item.price_id)
            except stripe_gateway.StripeResourceMissing:
                raise InvalidField(f"items[{index}].priceId", "no such price", code="unknown_price") from None
        price = prices[item.price_id]
        if not price.active:
            raise InvalidField(f"items[{index}].priceId", "this price is no longer sold", code="inactive_price")
        if price.unit_amount is None:
            raise InvalidField(f"items[{index}].priceId", "only fixed-amount prices can be ordered",
                               code="unsupported_price")
    currencies = {prices[i.price_id].currency for i in items}
    if len(currencies) != 1:
        raise InvalidField("items", "all prices in one order must share one currency", code="mixed_currencies")
    currency = money.parse_currency(currencies.pop(), "items")
    recurring = [i for i in items if prices[i.price_id].recurring]
    if recurring and (len(items) != 1 or items[0].quantity != 1):
        raise InvalidField("items", "a subscription order has exactly one recurring price, quantity 1",
                           code="mixed_recurring")
    amount = sum((prices[i.price_id].unit_amount or 0) * i.quantity for i in items)
    money.parse_amount(amount, currency, "items")
    order = _new_order(
        user_id=caller.user_id, kind="subscription" if recurring else "one_time", amount=amount,
        currency=currency.code, description=description,
        items=[OrderItem(price_id=i.price_id, quantity=i.quantity, unit_amount=prices[i.price_id].unit_amount,
                         recurring=prices[i.price_id].recurring) for i in items],
        price_id=recurring[0].price_id if recurring else None,
    )
    return _create(order)


def create_admin_order(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """An admin bills a user an explicit amount: a one_time order for that user."""
    caller.require_admin()
    user_id = validation.required_text(body, "userId", max_length=128)
    currency = money.parse_currency(body.get("currency"))
    amount = money.parse_amount(body.get("amount"), currency)
    description = validation.text(body, "description", required=False, max_length=500) or ""
    order = _new_order(user_id=user_id, kind="one_time", amount=amount, currency=currency.code,
                       description=description)
    logger.info("admin created an order", extra={"order_id": order.order_id, "for_user": user_id})
    return _create(order)


def create_order(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /orders``: the catalog form (any user) or the explicit-amount form (admins only)."""
    if "items" in body or not ({"amount", "currency", "userId"} & body.keys()):
        items = parse_catalog_items(body)
        description = validation.text(body, "description", required=False, max_length=500) or ""
        return create_catalog_order(caller, items, description)
    return create_admin_order(caller, body)


def _new_order(*, user_id: str, kind: str, amount: int, currency: str, description: str,
               items: list[OrderItem] | None = None, price_id: str | None = None,
               parent_order_id: str | None = None, order_id: str | None = None) -> OrderRecord:
    now = now_iso()
    order_id = order_id or new_id("ord")
    return OrderRecord(
        order_id, user_id=user_id, kind=kind, amount=amount, currency=currency, description=description,
        status="pending", items=items, price_id=price_id, parent_order_id=parent_order_id,
        created_at=now, updated_at=now, created_sort=f"{now}#{order_id}",
    )


def _create(order: OrderRecord) -> dict[str, Any]:
    store.Transaction().save(order).commit()
    count("OrderCreated")
    return order_view(order)


# --- reads --------------------------------------------------------------------------------------------


def _children_keys(orders: Iterable[OrderRecord]) -> list[store.Key]:
    keys: list[store.Key] = []
    for order in orders:
        keys += [(PaymentRecord, p) for p in order.payment_ids or []]
        keys += [(RefundRecord, r) for r in order.refund_ids or []]
        if order.recurring_payment_id:
            keys.append((RecurringPaymentRecord, order.recurring_payment_id))
    return keys


def _views(orders: Sequence[OrderRecord]) -> list[dict[str, Any]]:
    keys = _children_keys(orders)
    found = store.batch_read(keys) if keys else {}

    def pick(model: type[Any], ids: Iterable[str]) -> list[Any]:
        return [found[(model, i)] for i in ids if (model, i) in found]

    return [
        order_view(
            order,
            pick(PaymentRecord, order.payment_ids or []),
            pick(RefundRecord, order.refund_ids or []),
            found.get((RecurringPaymentRecord, order.recurring_payment_id or "")),
        )
        for order in orders
    ]


def load_visible_order(caller: Caller, order_id: str) -> OrderRecord:
    """The order, if the caller may see it; another user's order is indistinguishable from none (404)."""
    order = store.get(OrderRecord, order_id) if order_id.startswith("ord_") and len(order_id) <= 64 else None
    if order is None or not caller.can_see(order.user_id):
        raise NotFound("no such order", code="order_not_found")
    return order


def get_order(caller: Caller, order_id: str) -> dict[str, Any]:
    return _views([load_visible_order(caller, order_id)])[0]


def _encode_cursor(order: OrderRecord) -> str:
    key = {"userId": order.user_id, "createdSort": order.created_sort, "orderId": order.order_id}
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(caller: Caller, cursor: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidField("cursor", "is not a cursor this API gave out") from None
    if (not isinstance(key, dict) or set(key) != {"userId", "createdSort", "orderId"}
            or not all(isinstance(v, str) for v in key.values()) or key["userId"] != caller.user_id):
        raise InvalidField("cursor", "is not a cursor this API gave out")
    return {name: {"S": value} for name, value in key.items()}


def list_orders(caller: Caller, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's orders, newest first (ties by orderId, descending), one page at a time."""
    store.connection()
    start = _decode_cursor(caller, cursor) if cursor else None
    with store.dynamodb_errors():
        results = OrderRecord.by_user.query(caller.user_id, scan_index_forward=False, limit=limit + 1,
                                            page_size=limit + 1, last_evaluated_key=start)
        orders = list(results)
    page, more = orders[:limit], len(orders) > limit
    return {"orders": _views(page), "nextCursor": _encode_cursor(page[-1]) if more else None}

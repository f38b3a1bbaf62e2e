"""Orders: create (from the app's catalog prices, or an explicit amount by an admin), read one, list mine.

The amount of a catalog order is computed here from Stripe's prices; the client never names it. Only the
prices the app sells (``SELLABLE_PRICES``, the template's ``SellablePrices``: price ids or lookup keys) can be
ordered: any other price in the Stripe account, another app's included, is a 400 as if it did not exist.
An order below Stripe's minimum charge for its currency is a 400 here, not a failed payment later.

A one-time order may name a seller (``sellerId``, marketplace): it is paid by a destination charge to the seller's
connected account, less the platform's fee (``payments.sellers.orders``). The seller must be ``active`` (409
``seller_not_active``), here and again at checkout.

Reading an order and everything under it costs one GetItem and one BatchGetItem per 100 records under it; a
page of orders costs one Query and the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from payments.core import money, validation
from payments.core.config import get_settings
from payments.core.errors import Conflict, InvalidField, NotFound, WriteConflict
from payments.core.identity import Caller
from payments.core.ids import new_id
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict
from payments.data import orders as order_store
from payments.data.models import OrderItem, OrderRecord
from payments.orders.views import order_view, order_views
from payments.sellers.orders import active_seller, platform_fee

if TYPE_CHECKING:
    from payments.stripe.objects import StripePrice

T = TypeVar("T")
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
        try:
            price_id = validation.identifier(entry, "priceId")
            quantity = validation.integer(entry, "quantity", required=False, minimum=1, maximum=MAX_QUANTITY)
        except InvalidField as error:
            raise InvalidField(f"items[{index}].{error.field}", error.message.split(": ", 1)[-1],
                               code=error.code) from None
        assert price_id is not None
        items.append(CatalogItem(price_id=price_id, quantity=1 if quantity is None else quantity))
    return items


def _sellable_price(index: int, price_id: str) -> StripePrice:
    # Imported here: only a catalog order asks Stripe, so reading orders loads no Stripe code (a cold start).
    from payments.stripe import api as stripe_api
    from payments.stripe.client import StripeResourceMissing

    field = f"items[{index}].priceId"
    sellable = get_settings().sellable_prices
    if not sellable:
        raise InvalidField(field, "no such price", code="unknown_price")  # selling nothing: Stripe is not asked
    try:
        price = stripe_api.retrieve_price(price_id)
    except StripeResourceMissing:
        raise InvalidField(field, "no such price", code="unknown_price") from None
    if price.id not in sellable and (price.lookup_key or "") not in sellable:
        raise InvalidField(field, "no such price", code="unknown_price")
    if not price.active:
        raise InvalidField(field, "this price is no longer sold", code="inactive_price")
    if price.unit_amount is None:
        raise InvalidField(field, "only fixed-amount prices can be ordered", code="unsupported_price")
    return price


def create_catalog_order(caller: Caller, items: Sequence[CatalogItem], description: str,
                         seller_id: str | None = None) -> dict[str, Any]:
    """An order for the caller, priced from Stripe: one recurring price alone makes a subscription order. With a
    seller, the platform's fee is ``PlatformFeeBps`` of the amount."""
    prices: dict[str, StripePrice] = {}
    for index, item in enumerate(items):
        if item.price_id not in prices:
            prices[item.price_id] = _sellable_price(index, item.price_id)
    currencies = {prices[i.price_id].currency for i in items}
    if len(currencies) != 1:
        raise InvalidField("items", "all prices in one order must share one currency", code="mixed_currencies")
    currency = money.parse_currency(currencies.pop(), "items")
    recurring = [i for i in items if prices[i.price_id].recurring]
    if recurring and (len(items) != 1 or items[0].quantity != 1):
        raise InvalidField("items", "a subscription order has exactly one recurring price, quantity 1",
                           code="mixed_recurring")
    amount = money.parse_amount(sum((prices[i.price_id].unit_amount or 0) * i.quantity for i in items), currency,
                                "items")
    marketplace = _marketplace(seller_id, recurring=bool(recurring),
                               fee=platform_fee(amount, currency) if seller_id else None)
    order = order_store.new(
        order_id=new_id("ord"), user_id=caller.user_id, kind="subscription" if recurring else "one_time",
        amount=amount, currency=currency.code, description=description,
        items=[OrderItem(price_id=i.price_id, quantity=i.quantity, unit_amount=prices[i.price_id].unit_amount,
                         recurring=prices[i.price_id].recurring, interval=prices[i.price_id].interval,
                         interval_count=prices[i.price_id].interval_count) for i in items],
        price_id=recurring[0].price_id if recurring else None, **marketplace)
    return _create(order)


def create_admin_order(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """An admin bills a user an explicit amount: a one_time order for that user."""
    caller.require_admin()
    user_id = str(validation.text(body, "userId", max_length=256, strip=False))
    currency = money.parse_currency(body.get("currency"))
    amount = money.parse_amount(body.get("amount"), currency)
    description = validation.text(body, "description", required=False, max_length=500) or ""
    seller_id = validation.identifier(body, "sellerId", required=False)
    fee = validation.integer(body, "applicationFeeAmount", required=False, minimum=0, maximum=amount)
    if fee is not None and seller_id is None:
        raise InvalidField("applicationFeeAmount", "is only for an order that names a seller (sellerId)")
    if fee is not None and fee % currency.step:
        raise InvalidField("applicationFeeAmount", f"must be a multiple of {currency.step} for {currency.code}")
    marketplace = _marketplace(seller_id, recurring=False,
                               fee=(platform_fee(amount, currency) if fee is None else fee) if seller_id else None)
    order = order_store.new(order_id=new_id("ord"), user_id=user_id, kind="one_time", amount=amount,
                            currency=currency.code, description=description, **marketplace)
    logger.info("admin created an order", extra={"order_id": order.order_id, "for_user": user_id})
    return _create(order)


def _marketplace(seller_id: str | None, *, recurring: bool, fee: int | None) -> dict[str, Any]:
    """The order's seller fields: none, or an active seller and the platform's fee."""
    if seller_id is None:
        return {}
    if recurring:
        raise InvalidField("sellerId", "a marketplace order is a one-time order (no recurring price)",
                           code="seller_not_supported")
    active_seller(seller_id)
    return {"seller_id": seller_id, "application_fee_amount": fee}


def create_order(caller: Caller, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /orders``: the catalog form (any user) or the explicit-amount form (admins only)."""
    if "items" in body or not ({"amount", "currency", "userId"} & body.keys()):
        items = parse_catalog_items(body)
        description = validation.text(body, "description", required=False, max_length=500) or ""
        if "applicationFeeAmount" in body:
            raise InvalidField("applicationFeeAmount", "only an admin's order sets its fee; a catalog order's is "
                               "the platform's (PlatformFeeBps)")
        return create_catalog_order(caller, items, description, validation.identifier(body, "sellerId",
                                                                                      required=False))
    return create_admin_order(caller, body)


def _create(order: OrderRecord) -> dict[str, Any]:
    order_store.create(order)
    count("OrderCreated")
    return order_view(order)


# --- reads --------------------------------------------------------------------------------------------


def load_visible_order(caller: Caller, order_id: str) -> OrderRecord:
    """The order, if the caller may see it; another user's order is indistinguishable from none (404)."""
    order = order_store.get(order_id) if validation.is_identifier(order_id, "ord_") else None
    if order is None or not caller.can_see(order.user_id):
        raise NotFound("no such order", code="order_not_found")
    return order


def on_order(caller: Caller, order_id: str, attempt: Callable[[OrderRecord], T]) -> T:
    """``attempt(order)`` on the caller's order; when it loses a write race on the order (someone changed it
    between the read and the conditioned write), again on the order as it is stored now."""
    current = [load_visible_order(caller, order_id)]

    def once() -> T:
        try:
            return attempt(current[0])
        except WriteConflict:
            current[0] = order_store.get(order_id) or current[0]
            raise

    return retry_on_conflict(once, lambda: Conflict("the order is being changed by other requests; try again",
                                                    code="concurrent_update"))


def get_order(caller: Caller, order_id: str) -> dict[str, Any]:
    return order_views([load_visible_order(caller, order_id)])[0]


def list_orders(caller: Caller, *, limit: int, cursor: str | None) -> dict[str, Any]:
    """The caller's orders, newest first (ties by orderId, descending), one page at a time."""
    page, next_cursor = order_store.page_for_user(caller.user_id, limit=limit, cursor=cursor)
    return {"orders": order_views(page), "nextCursor": next_cursor}

"""An order's seller: only an ``active`` seller's order can be made or paid (409 ``seller_not_active``), and the
platform's fee on it.

The fee of a catalog order is ``PlatformFeeBps`` (basis points) of its amount, rounded down to the currency's
step (Stripe takes ``application_fee_amount`` in the charge's minor units); an admin order may set its own
``applicationFeeAmount`` (0 up to the amount). The seller's share is the amount less the fee.
"""

from __future__ import annotations

from payments.core.config import get_settings
from payments.core.errors import Conflict, NotFound
from payments.core.money import Currency
from payments.core.validation import is_identifier
from payments.data import sellers as seller_store
from payments.data.models import SellerRecord
from payments.sellers.status import ACTIVE


def active_seller(seller_id: str) -> SellerRecord:
    """The seller an order names, if it may sell now: 404 ``seller_not_found``, 409 ``seller_not_active``."""
    seller = seller_store.find_by_seller_id(seller_id) if is_identifier(seller_id, "sel_") else None
    if seller is None:
        raise NotFound("no such seller", code="seller_not_found")
    if seller.status != ACTIVE or not seller.stripe_account_id:
        raise Conflict(f"the seller cannot take payments yet (they are {seller.status})", code="seller_not_active")
    return seller


def platform_fee(amount: int, currency: Currency) -> int:
    """``PlatformFeeBps`` of ``amount``, rounded down to a multiple of the currency's step."""
    fee = amount * get_settings().platform_fee_bps // 10_000
    return fee - fee % currency.step

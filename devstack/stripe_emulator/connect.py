"""Extension 21: Stripe Connect for a marketplace platform: Express accounts, onboarding links, destination
charges with application fees, and transfer reversal on refund. Extension 24 (in this module too): webhook
endpoints of three kinds, as on Stripe.

**Accounts** (``/v1/accounts``: create, retrieve, update ``metadata``/``email``, list). ``type`` ``express``,
``custom`` or ``standard`` (``express`` is what the product makes), ``country`` (default ``US``), ``email``,
``capabilities[...][requested]``, ``business_type``, ``metadata``. A new account is as Stripe makes one: not
``details_submitted``, neither ``charges_enabled`` nor ``payouts_enabled``, its capabilities ``inactive`` and its
onboarding fields ``currently_due`` (``requirements.disabled_reason: requirements.past_due``).

**Onboarding.** ``POST /v1/account_links`` (``account``, ``refresh_url``, ``return_url``, ``type``
``account_onboarding`` or ``account_update``) answers a link to a page the emulator serves
(``/connect/onboarding/<token>``, open without a key like connect.stripe.com), valid five minutes, with a
"Complete onboarding" button that finishes the account and sends the seller to ``return_url`` (an expired or used
link goes to ``refresh_url``). The test helper ``POST /_test/accounts/{id}/onboard`` (API key; optional
``outcome``: ``complete``, the default, or ``restricted``: details submitted but a document still due, charges
and payouts disabled) does the same without a browser. Either sends ``account.updated`` (with
``data.previous_attributes``) to Connect endpoints, carrying ``account``.

**Destination charges.** A PaymentIntent (and a Checkout Session's ``payment_intent_data``) takes
``transfer_data[destination]`` (an account of this emulator whose ``transfers`` capability is active: otherwise
Stripe's 400 ``insufficient_capabilities_for_transfer``), ``transfer_data[amount]`` and
``application_fee_amount`` (at most the amount; only with a destination; a session's are checked when it is
paid). When the charge succeeds, as on
Stripe: a Transfer (``tr_``) of the amount less the fee (or ``transfer_data[amount]``) to the destination and,
with a fee, an ApplicationFee (``fee_``); the charge carries ``transfer``, ``application_fee``,
``application_fee_amount``, ``transfer_data`` and ``destination``. ``/v1/transfers`` (retrieve, list by
``destination``, ``/{id}/reversals``) and ``/v1/application_fees`` (retrieve, list by ``charge``) answer them.

**Refunds.** ``reverse_transfer=true`` reverses the charge's transfer in proportion to the refund (rounded half
up; the refund of the last of the charge reverses what is left), as a ``transfer_reversal`` (``trr_``) listed on
the transfer, and the refund carries ``transfer_reversal``. ``refund_application_fee=true`` refunds the fee in
the same proportion (a ``fee_refund``, ``fr_``, on the fee's ``refunds``). Both need a destination charge.

**Webhook endpoints** (extension 24). ``POST /_config/webhooks/{id}`` also takes ``connect=true`` (a Connect
endpoint: it receives the connected accounts' events, each carrying ``account``, and nothing else) and
``payload=thin`` (an event destination with thin payloads: it receives thin events only, see ``metering``).
Every other endpoint receives the platform's own snapshot events, as before. Deliveries are signed with
``devstack.stripe_events.sign_payload`` about one second after the fact, as localstripe does.

Left out: Standard/Custom account behaviour (all three types onboard the same way), persons, external accounts,
balances and payouts of connected accounts, ``on_behalf_of``, direct charges (the ``Stripe-Account`` header),
separate charges and transfers (``POST /v1/transfers``), refunding a fee directly, capability requests after
creation, account deletion and rejection, requirement deadlines, and ``account.application.*`` events.
"""

from __future__ import annotations

import copy
import html
import secrets
import time
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.resources import Charge, Event, List, PaymentIntent, StripeObject, store
from localstripe.webhooks import schedule_webhook

from devstack.stripe_emulator.common import (
    ListedObject,
    as_bool,
    as_int,
    as_metadata,
    as_str,
    get_or_404,
    invalid,
    missing,
    reject_unknown,
    stripe_error,
)

LINK_SECONDS = 300
ONBOARDING_FIELDS = ("business_profile.mcc", "business_profile.url", "external_account", "individual.dob.day",
                     "individual.first_name", "individual.last_name", "tos_acceptance.date", "tos_acceptance.ip")
_CAPABILITIES = ("card_payments", "transfers")


def _requirements(currently_due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {"alternatives": [], "current_deadline": None, "currently_due": list(currently_due),
            "disabled_reason": disabled_reason, "errors": [], "eventually_due": list(currently_due),
            "past_due": list(currently_due) if disabled_reason else [], "pending_verification": []}


def emit_for_account(type: str, obj: StripeObject, account: str, previous_attributes: dict | None = None) -> None:
    """Send ``type`` about ``obj`` as an event of the connected account ``account`` (Connect endpoints only)."""
    event = Event(type, obj)
    event.data = copy.deepcopy(event.data)
    if previous_attributes is not None:
        event.data["previous_attributes"] = previous_attributes
    event.account = account
    schedule_webhook(event)


# --------------------------------------------------------------------------------------------
# Accounts and onboarding
# --------------------------------------------------------------------------------------------


class Account(ListedObject):
    object = "account"
    _id_prefix = "acct_"
    _id_param = "account"

    def __init__(self, type=None, country="US", email=None, capabilities=None, business_type=None, metadata=None,
                 **kwargs):
        reject_unknown(kwargs, what="accounts")
        if type not in ("express", "custom", "standard"):
            raise invalid("type", "type must be express, custom or standard.")
        country = as_str(country, "country") or "US"
        email = as_str(email, "email")
        business_type = as_str(business_type, "business_type")
        metadata = as_metadata(metadata)
        requested = {}
        for name, value in (capabilities or {}).items():
            if name not in _CAPABILITIES or not isinstance(value, dict):
                raise invalid(f"capabilities[{name}]", f"The emulator models only {', '.join(_CAPABILITIES)}.")
            requested[name] = as_bool(value.get("requested", False), f"capabilities[{name}][requested]")
        super().__init__()
        self.business_profile = {"mcc": None, "name": None, "product_description": None, "support_email": None,
                                 "support_phone": None, "support_url": None, "url": None}
        self.business_type = business_type
        self.capabilities = {name: "inactive" for name, wanted in requested.items() if wanted}
        self.charges_enabled = False
        self.controller = {"type": "application", "is_controller": True,
                           "stripe_dashboard": {"type": type if type != "custom" else "none"}}
        self.country = country
        self.default_currency = "usd"
        self.details_submitted = False
        self.email = email
        self.metadata = metadata
        self.payouts_enabled = False
        self.requirements = _requirements(list(ONBOARDING_FIELDS), "requirements.past_due")
        self.future_requirements = _requirements([], None)
        self.type = type

    @classmethod
    def _api_update(cls, id, metadata=None, email=None, **kwargs):
        reject_unknown(kwargs, what="account updates")
        account = cls._api_retrieve(id)
        before = copy.deepcopy(account._export())
        if metadata is not None:
            account.metadata = {k: v for k, v in {**account.metadata, **as_metadata(metadata)}.items() if v != ""}
        if email is not None:
            account.email = as_str(email, "email")
        account._updated(before)
        return account

    def _updated(self, before: dict) -> None:
        after = self._export()
        previous = {k: before.get(k) for k in after if before.get(k) != after[k]}
        if previous:
            emit_for_account("account.updated", self, self.id, previous)

    def _onboard(self, outcome: str) -> None:
        """The account holder finished Stripe's onboarding form (``complete``), or left a document due."""
        before = copy.deepcopy(self._export())
        self.details_submitted = True
        if outcome == "complete":
            self.charges_enabled = self.payouts_enabled = True
            self.capabilities = {name: "active" for name in self.capabilities}
            self.requirements = _requirements([], None)
        else:
            self.charges_enabled = self.payouts_enabled = False
            self.capabilities = {name: "inactive" for name in self.capabilities}
            self.requirements = _requirements(["individual.verification.document"], "requirements.past_due")
        self._updated(before)

    @property
    def _transfers_active(self) -> bool:  # localstripe exports every public attribute: ours start with "_"
        return self.capabilities.get("transfers") == "active"


def _api_onboard(id, outcome="complete", **kwargs):
    """``POST /_test/accounts/{id}/onboard``: the account holder completes onboarding."""
    reject_unknown(kwargs, what="onboarding")
    if outcome not in ("complete", "restricted"):
        raise invalid("outcome", "outcome must be complete or restricted.")
    account = Account._api_retrieve(id)
    account._onboard(outcome)
    return account


LINKS = "account_link:"  # onboarding links live in localstripe's store (a data wipe forgets them), by token


class AccountLink:
    """An onboarding link. Not a stored object (Stripe's have no id either): answered by ``_export``."""

    def __init__(self, url: str, created: int):
        self.url, self.created = url, created

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return {"object": "account_link", "created": self.created, "expires_at": self.created + LINK_SECONDS,
                "url": self.url}


def _new_link(host_url: str, account=None, refresh_url=None, return_url=None, type=None, collect=None,
              **kwargs) -> AccountLink:
    reject_unknown(kwargs, what="account links")
    if account is None:
        raise missing("account")
    Account._api_retrieve(account)
    if type not in ("account_onboarding", "account_update"):
        raise invalid("type", "type must be account_onboarding or account_update.")
    for name, value in (("refresh_url", refresh_url), ("return_url", return_url)):
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            raise missing(name) if value is None else invalid(name, f"{name} must be an http(s) URL.")
    if collect is not None and collect not in ("currently_due", "eventually_due"):
        raise invalid("collect", "collect must be currently_due or eventually_due.")
    token = secrets.token_urlsafe(18)
    now = int(time.time())
    store[LINKS + token] = {"account": account, "return_url": return_url, "refresh_url": refresh_url,
                     "expires_at": now + LINK_SECONDS, "used": False}
    return AccountLink(f"{host_url}/connect/onboarding/{token}", now)


async def create_account_link(request: web.Request) -> web.Response:
    """``POST /v1/account_links``: the link's ``url`` is on the Host the client used."""
    from localstripe import server

    data = await server.get_post_data(request) or {}
    data.pop("expand", None)
    link = _new_link(f"{request.scheme}://{request.host}", **data)
    return server.json_response(link._export())


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Onboarding (Stripe emulator)</title></head>
<body><h1>Set up payouts</h1><p id="account">Account {account}</p>
<form method="post"><button id="complete" name="outcome" value="complete">Complete onboarding</button>
<button id="restricted" name="outcome" value="restricted">Submit without the ID document</button></form>
</body></html>
"""


def _live_link(request: web.Request) -> dict[str, Any]:
    """The request's link while it can be used; a 404 for an unknown one, and for one expired or used already,
    a redirect to its ``refresh_url`` (as Stripe does)."""
    link = store.get(LINKS + request.match_info["token"])
    if link is None:
        raise web.HTTPNotFound(text="No such onboarding link.")
    if link["used"] or link["expires_at"] < time.time():
        raise web.HTTPSeeOther(link["refresh_url"])
    return link


async def onboarding_page(request: web.Request) -> web.Response:
    """``GET /connect/onboarding/{token}``: the page an account link points at."""
    link = _live_link(request)
    return web.Response(text=_PAGE.format(account=html.escape(link["account"])), content_type="text/html")


async def onboarding_submit(request: web.Request) -> web.Response:
    """``POST /connect/onboarding/{token}``: finish onboarding, then back to the platform's ``return_url``."""
    link = _live_link(request)
    form = await request.post()
    outcome = form.get("outcome", "complete")
    if outcome not in ("complete", "restricted"):
        return web.Response(text="Unknown outcome.", status=400)
    store[LINKS + request.match_info["token"]] = {**link, "used": True}
    Account._api_retrieve(link["account"])._onboard(str(outcome))
    raise web.HTTPSeeOther(link["return_url"])


# --------------------------------------------------------------------------------------------
# Destination charges: transfers, application fees, reversals
# --------------------------------------------------------------------------------------------


def _proportion(part: int, whole: int, of: int) -> int:
    """``of`` scaled by ``part / whole``, rounded half up."""
    return (part * of * 2 + whole) // (2 * whole) if whole else 0


class TransferReversal(StripeObject):
    object = "transfer_reversal"
    _id_prefix = "trr_"

    def __init__(self, transfer: Transfer, amount: int, refund: str):
        super().__init__()
        self.amount = amount
        self.balance_transaction = None
        self.currency = transfer.currency
        self.destination_payment_refund = None
        self.metadata = {}
        self.source_refund = refund
        self.transfer = transfer.id


class Transfer(ListedObject):
    object = "transfer"
    _id_prefix = "tr_"
    _filters = ("destination",)

    def __init__(self, amount: int, currency: str, destination: str, source_transaction: str):
        super().__init__()
        self.amount = amount
        self.balance_transaction = None
        self.currency = currency
        self.description = None
        self.destination = destination
        self.destination_payment = "py_" + self.id.removeprefix("tr_")
        self.metadata = {}
        self.reversals = List(f"/v1/transfers/{self.id}/reversals")
        self.source_transaction = source_transaction
        self.source_type = "card"
        self.transfer_group = None

    @property
    def amount_reversed(self) -> int:
        return sum(r.amount for r in self.reversals._list)

    @property
    def reversed(self) -> bool:
        return self.amount_reversed >= self.amount

    @classmethod
    def _api_list_reversals(cls, id, **kwargs):
        reject_unknown(kwargs, what="listing reversals")
        return cls._api_retrieve(id).reversals


class FeeRefund(StripeObject):
    object = "fee_refund"
    _id_prefix = "fr_"

    def __init__(self, fee: ApplicationFee, amount: int):
        super().__init__()
        self.amount = amount
        self.balance_transaction = None
        self.currency = fee.currency
        self.fee = fee.id
        self.metadata = {}


class ApplicationFee(ListedObject):
    object = "application_fee"
    _id_prefix = "fee_"
    _filters = ("charge",)

    def __init__(self, amount: int, currency: str, account: str, charge: str):
        super().__init__()
        self.account = account
        self.amount = amount
        self.application = "ca_emulator"
        self.balance_transaction = None
        self.charge = charge
        self.currency = currency
        self.fee_source = {"charge": charge, "type": "charge"}
        self.originating_transaction = None
        self.refunds = List(f"/v1/application_fees/{self.id}/refunds")

    @property
    def amount_refunded(self) -> int:
        return sum(r.amount for r in self.refunds._list)

    @property
    def refunded(self) -> bool:
        return self.amount_refunded >= self.amount



def _check_destination(intent_amount: Any, transfer_data: Any, fee: Any) -> tuple[dict | None, int | None]:
    """``transfer_data`` and ``application_fee_amount`` of a PaymentIntent, checked as Stripe does."""
    if transfer_data is None:
        if fee is not None:
            raise invalid("application_fee_amount", "Can only apply an application_fee_amount when the "
                          "PaymentIntent is attempting a direct payment (using an OAuth key or Stripe-Account "
                          "header) or destination payment (using `transfer_data[destination]`).")
        return None, None
    if not isinstance(transfer_data, dict):
        raise invalid("transfer_data", "Invalid object: transfer_data.")
    data = dict(transfer_data)
    destination = data.pop("destination", None)
    amount = data.pop("amount", None)
    reject_unknown(data, "transfer_data", what="destination charges")
    if destination is None:
        raise missing("transfer_data[destination]")
    account = get_or_404(Account.object, destination, "transfer_data[destination]")
    if not account._transfers_active:
        raise stripe_error(400, f"Your destination account needs to have at least one of the following capabilities "
                           f"enabled: transfers, crypto_transfers, legacy_payments ({destination}).",
                           code="insufficient_capabilities_for_transfer", param="transfer_data[destination]")
    total = as_int(intent_amount, "amount", 1)
    checked: dict[str, Any] = {"destination": destination}
    if amount is not None:
        checked["amount"] = as_int(amount, "transfer_data[amount]")
        if checked["amount"] > total:
            raise invalid("transfer_data[amount]", "transfer_data[amount] cannot exceed the amount.")
    if fee is not None:
        fee = as_int(fee, "application_fee_amount")
        if fee > total:
            raise invalid("application_fee_amount", "application_fee_amount cannot be greater than the amount.")
        if amount is not None:
            raise invalid("application_fee_amount", "Pass either transfer_data[amount] or application_fee_amount.")
    return checked, fee


def _destination_payment_intents() -> None:
    original_init = PaymentIntent.__init__
    original_on_success = PaymentIntent._on_success

    def init(self, *args, transfer_data=None, application_fee_amount=None, **kwargs):
        checked, fee = _check_destination(kwargs.get("amount"), transfer_data, application_fee_amount)
        original_init(self, *args, **kwargs)
        self.transfer_data = checked
        self.application_fee_amount = fee

    def on_success(self):
        if getattr(self, "transfer_data", None) and self.latest_charge is not None:
            _settle_destination(self, self.latest_charge)
        original_on_success(self)  # payment_intent.succeeded, carrying the charge with its transfer

    PaymentIntent.__init__ = init
    PaymentIntent._on_success = on_success


def _settle_destination(intent: PaymentIntent, charge: Charge) -> None:
    """The transfer of the seller's share and the platform's fee, once the charge succeeded (once)."""
    if getattr(charge, "transfer", None):
        return
    fee_amount = intent.application_fee_amount or 0
    destination = intent.transfer_data["destination"]
    amount = intent.transfer_data.get("amount", charge.amount - fee_amount)
    transfer = Transfer(amount, charge.currency, destination, charge.id)
    fee = ApplicationFee(fee_amount, charge.currency, destination, charge.id) if fee_amount else None
    charge.transfer = transfer.id
    charge.transfer_data = dict(intent.transfer_data)
    charge.destination = destination
    charge.application_fee = fee.id if fee else None
    charge.application_fee_amount = fee_amount or None


def _reversing_refunds() -> None:
    """Refund ``reverse_transfer`` / ``refund_application_fee``. Installed before ``payments.install``, whose
    refund events then carry the reversal."""
    original_init = resources.Refund.__init__

    def init(self, *args, reverse_transfer=None, refund_application_fee=None, **kwargs):
        reverse = False if reverse_transfer is None else as_bool(reverse_transfer, "reverse_transfer")
        refund_fee = False if refund_application_fee is None else as_bool(refund_application_fee,
                                                                            "refund_application_fee")
        original_init(self, *args, **kwargs)
        self.transfer_reversal = None
        if not (reverse or refund_fee):
            return
        charge = Charge._api_retrieve(self.charge)
        refunded_before = sum(r.amount for key, r in store.items()
                              if key.startswith("refund:") and r.charge == charge.id and r is not self)
        last = refunded_before + self.amount >= charge.amount
        transfer = store.get(f"transfer:{getattr(charge, 'transfer', None)}")
        if transfer is None:
            raise invalid("reverse_transfer", "Only a destination charge's refund can reverse its transfer.")
        if reverse:
            share = transfer.amount - transfer.amount_reversed if last else min(
                _proportion(self.amount, charge.amount, transfer.amount), transfer.amount - transfer.amount_reversed)
            if share > 0:
                reversal = TransferReversal(transfer, share, self.id)
                transfer.reversals._list.append(reversal)
                self.transfer_reversal = reversal.id
        fee = store.get(f"application_fee:{getattr(charge, 'application_fee', None)}")
        if refund_fee and fee is not None:
            back = fee.amount - fee.amount_refunded if last else min(
                _proportion(self.amount, charge.amount, fee.amount), fee.amount - fee.amount_refunded)
            if back > 0:
                fee.refunds._list.append(FeeRefund(fee, back))

    resources.Refund.__init__ = init


# --------------------------------------------------------------------------------------------
# Extension 24: three kinds of webhook endpoint
# --------------------------------------------------------------------------------------------

#: endpoint id -> {"connect": bool, "thin": bool}
_endpoint_kinds: dict[str, dict[str, bool]] = {}


@web.middleware
async def webhook_kinds_middleware(request: web.Request, handler):
    """``POST /_config/webhooks/{id}`` with ``connect`` / ``payload``: remember what kind of endpoint it is."""
    if request.method == "POST" and request.path.startswith("/_config/webhooks/"):
        form = await request.post()
        endpoint = request.path.removeprefix("/_config/webhooks/")
        connect = str(form.get("connect", "false")).lower() == "true"
        payload = str(form.get("payload", "snapshot"))
        if payload not in ("snapshot", "thin"):
            raise stripe_error(400, "payload must be snapshot or thin.", param="payload")
        response = await handler(request)
        _endpoint_kinds[endpoint] = {"connect": connect, "thin": payload == "thin"}
        return response
    return await handler(request)


def wants(endpoint: str, event: Any) -> bool:
    """Whether ``endpoint`` takes ``event`` by its kind: a thin event only a thin destination, a connected
    account's event only a Connect endpoint, the platform's own events the others (``webhooks`` asks per delivery)."""
    kind = _endpoint_kinds.get(endpoint, {"connect": False, "thin": False})
    if getattr(event, "thin", False):
        return kind["thin"]
    if kind["thin"]:
        return False
    return kind["connect"] == (getattr(event, "account", None) is not None)


# --------------------------------------------------------------------------------------------
# install()
# --------------------------------------------------------------------------------------------

def install() -> None:
    """Apply extensions 21 and 24 to localstripe's classes. Call before ``payments.install`` (whose refund events
    must carry the reversal) and before ``localstripe.server`` is imported."""
    from devstack.stripe_emulator.checkout import CheckoutSession

    _destination_payment_intents()
    _reversing_refunds()
    # A Checkout Session passes them on to its PaymentIntent (checked when the session is paid)
    CheckoutSession._payment_intent_params = (*CheckoutSession._payment_intent_params, "transfer_data",
                                              "application_fee_amount")


#: Routes answered through localstripe's route wrapper (``server.api_extra``: form data, ``{id}``, ``expand``)
API_ROUTES = (
    ("POST", "/v1/accounts", Account._api_create),
    ("GET", "/v1/accounts", Account._api_list_all),
    ("GET", "/v1/accounts/{id}", Account._api_retrieve),
    ("POST", "/v1/accounts/{id}", Account._api_update),
    ("GET", "/v1/transfers", Transfer._api_list_all),
    ("GET", "/v1/transfers/{id}", Transfer._api_retrieve),
    ("GET", "/v1/transfers/{id}/reversals", Transfer._api_list_reversals),
    ("GET", "/v1/application_fees", ApplicationFee._api_list_all),
    ("GET", "/v1/application_fees/{id}", ApplicationFee._api_retrieve),
    ("POST", "/_test/accounts/{id}/onboard", _api_onboard),
)
#: aiohttp handlers of their own (the link's URL is on the client's Host; the onboarding page is HTML)
WEB_ROUTES = (
    ("POST", "/v1/account_links", create_account_link),
    ("GET", "/connect/onboarding/{token}", onboarding_page),
    ("POST", "/connect/onboarding/{token}", onboarding_submit),
)


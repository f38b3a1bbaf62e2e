"""Extension 17: customer portal sessions (``POST /v1/billing_portal/sessions``) and the page they open.

A session (``customer``, ``return_url``; ``locale``, ``configuration`` accepted) is answered as Stripe's
``billing_portal.session`` with a ``url`` on the Host the client used (``/billing_portal/<id>``, open without an API
key like billing.stripe.com). The page lists the customer's subscriptions (those created with ``items[].price``)
and plays what a customer does in the portal, through the same code the API runs, so the same events follow:

- **Cancel** (at the end of the period: ``cancel_at_period_end``, ``customer.subscription.updated``);
- **Switch plan** to another active recurring price in the subscription's currency and interval (with
  ``create_prorations``, the portal's default: ``customer.subscription.updated``, the proration on the next
  invoice);
- **Return** to ``return_url``.

Left out: portal configurations (``/v1/billing_portal/configurations``; every feature is on), ``flow_data`` deep
links, updating payment methods, invoice history and session expiry (a session works for the emulator's lifetime).
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web
from localstripe.errors import UserError
from localstripe.resources import StripeObject, random_id, store

from devstack.stripe_emulator.common import as_str, get_or_404, invalid, missing, reject_unknown


class PortalSession(StripeObject):
    object = "billing_portal.session"
    _id_prefix = "bps_"

    def __init__(self, customer=None, return_url=None, locale=None, configuration=None, **kwargs):
        reject_unknown(kwargs, what="portal sessions")
        if customer is None:
            raise missing("customer")
        get_or_404("customer", customer, "customer")
        if return_url is not None and not (isinstance(return_url, str) and return_url.startswith(("http://",
                                                                                                  "https://"))):
            raise invalid("return_url", "return_url must be an http(s) URL.")
        super().__init__()
        self.configuration = as_str(configuration, "configuration") or "bpc_" + random_id(14)
        self.customer = customer
        self.customer_account = None
        self.flow = None
        self.locale = as_str(locale, "locale")
        self.on_behalf_of = None
        self.return_url = return_url
        self.url = None  # set by the route, which knows the Host the client used


async def create_session(request: web.Request) -> web.Response:
    from localstripe import server

    data = await server.get_post_data(request) or {}
    expand = data.pop("expand", None)
    session = PortalSession(**data)
    session.url = f"{request.scheme}://{request.host}/billing_portal/{session.id}"
    return server.json_response(session._export(expand=expand))


def _subscriptions(customer: str) -> list[Any]:
    from devstack.stripe_emulator.billing import BillingSubscription

    return [s for key, s in store.items() if key.startswith("subscription:") and isinstance(s, BillingSubscription)
            and s.customer == customer and s.status not in ("canceled", "incomplete_expired")]


def _alternatives(subscription: Any) -> list[Any]:
    current = subscription.items._list[0].price
    return [p for key, p in store.items() if key.startswith("price:") and p.active and p.type == "recurring"
            and p.id != current.id and p.currency == current.currency and p.recurring == current.recurring]


def _page(session: PortalSession, message: str = "") -> web.Response:
    from devstack.stripe_emulator.billing import _product_name

    def esc(value: Any) -> str:
        return html.escape(str(value))

    rows = []
    for sub in _subscriptions(session.customer):
        price = sub.items._list[0].price
        switches = "".join(
            f'<button name="price" value="{esc(p.id)}" data-price="{esc(p.id)}">Switch to {esc(_product_name(p))} '
            f"({esc(p.unit_amount)} {esc(p.currency)})</button>" for p in _alternatives(sub))
        cancel = "" if sub.cancel_at_period_end else (
            '<button name="action" value="cancel" class="cancel">Cancel plan</button>')
        rows.append(
            f'<li data-subscription="{esc(sub.id)}"><form method="post">'
            f'<input type="hidden" name="subscription" value="{esc(sub.id)}">'
            f"{esc(_product_name(price))}: {esc(sub.status)}"
            f"{' (cancels at period end)' if sub.cancel_at_period_end else ''} {cancel} {switches}</form></li>")
    back = f'<p><a id="return" href="{esc(session.return_url)}">Return</a></p>' if session.return_url else ""
    note = f'<p id="message" role="status">{esc(message)}</p>' if message else ""
    page = (f'<!doctype html><html><head><meta charset="utf-8"><title>Billing portal (Stripe emulator)</title>'
            f"</head><body><h1>Your plan</h1>{note}<ul>{''.join(rows) or '<li>No subscriptions.</li>'}</ul>"
            f"{back}</body></html>")
    return web.Response(text=page, content_type="text/html")


def _session(request: web.Request) -> PortalSession | None:
    session = store.get(f"billing_portal.session:{request.match_info['id']}")
    return session if isinstance(session, PortalSession) else None


async def portal_page(request: web.Request) -> web.Response:
    """``GET /billing_portal/{id}``."""
    session = _session(request)
    return _page(session) if session else web.Response(text="No such portal session.", status=404)


async def portal_action(request: web.Request) -> web.Response:
    """``POST /billing_portal/{id}``: cancel, or switch to ``price``, one of the customer's subscriptions."""
    session = _session(request)
    if session is None:
        return web.Response(text="No such portal session.", status=404)
    form = await request.post()
    subscription = next((s for s in _subscriptions(session.customer) if s.id == form.get("subscription")), None)
    if subscription is None:
        return _page(session, "No such subscription.")
    try:
        if form.get("action") == "cancel":
            subscription._api_update_billing(cancel_at_period_end=True)
            return _page(session, "Your plan will be canceled at the end of the period.")
        if form.get("price"):
            item = subscription.items._list[0]
            subscription._api_update_billing(items=[{"id": item.id, "price": str(form["price"])}],
                                             proration_behavior="create_prorations")
            return _page(session, "Your plan was switched.")
    except UserError as error:
        return _page(session, error.body["error"].get("message", "That did not work."))
    return _page(session)


def routes() -> list[tuple[str, str, Any]]:
    """Added by ``server.install`` once localstripe's server exists (no route of its own is in the way)."""
    return [("POST", "/v1/billing_portal/sessions", create_session), ("GET", "/billing_portal/{id}", portal_page),
            ("POST", "/billing_portal/{id}", portal_action)]

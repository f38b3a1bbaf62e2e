"""A stub Stripe API on a loopback port: Stripe's own example objects, shaped by the request, and counted.

It answers every call the product makes (prices, PaymentIntents, Checkout Sessions, refunds, customers,
subscriptions) with the matching fixture from ``devstack/stripe_fixtures`` (Stripe's published examples),
the request's own ``amount``/``currency``/``metadata``/``customer`` echoed back, so the real
``stripe.StripeClient`` (HTTP, retries, JSON decoding, object construction) runs end to end. It keeps no
state: a retrieve answers an open/pending object, an update echoes what was set.

``requests`` lists every (method, path) received, which is how ``bench/run.py`` counts Stripe calls.
Standard library only.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from devstack.stripe_events import FIXTURES_DIR

RECURRING_PRICE_PREFIX = "price_monthly"  # a price id starting with this is a monthly recurring price


def form(body: str) -> dict[str, Any]:
    """stripe-python's form encoding (``metadata[orderId]=..``, ``items[0][price]=..``) as nested dicts."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out


class StripeStub:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._fixtures = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in FIXTURES_DIR.glob("*.json")}
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., tuple[int, dict[str, Any]]]]] = [
            ("GET", re.compile(r"/v1/prices/(?P<id>[^/]+)"), self._price),
            ("POST", re.compile(r"/v1/payment_intents"), self._intent),
            ("GET", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)"), self._intent),
            ("POST", re.compile(r"/v1/payment_intents/(?P<id>[^/]+)/cancel"), self._intent_canceled),
            ("POST", re.compile(r"/v1/checkout/sessions"), self._session),
            ("GET", re.compile(r"/v1/checkout/sessions/(?P<id>[^/]+)"), self._session),
            ("POST", re.compile(r"/v1/checkout/sessions/(?P<id>[^/]+)/expire"), self._session_expired),
            ("POST", re.compile(r"/v1/refunds"), self._refund),
            ("GET", re.compile(r"/v1/refunds"), self._refund_list),
            ("POST", re.compile(r"/v1/customers"), self._customer),
            ("GET", re.compile(r"/v1/customers/search"), self._customer_search),
            ("POST", re.compile(r"/v1/subscriptions"), self._subscription),
            ("GET", re.compile(r"/v1/subscriptions/(?P<id>[^/]+)"), self._subscription),
            ("POST", re.compile(r"/v1/subscriptions/(?P<id>[^/]+)"), self._subscription),
            ("DELETE", re.compile(r"/v1/subscriptions/(?P<id>[^/]+)"), self._subscription_canceled),
            *self._billing_routes(),
            ("GET", re.compile(r"/v1/events"), self._events),  # the reconciler: nothing new at Stripe
            # marketplace, usage billing, privacy (issue 13)
            ("POST", re.compile(r"/v1/accounts"), self._account),
            ("GET", re.compile(r"/v1/accounts/(?P<id>[^/]+)"), self._account),
            ("POST", re.compile(r"/v1/account_links"), self._account_link),
            ("GET", re.compile(r"/v1/charges/(?P<id>[^/]+)"), self._charge),
            ("POST", re.compile(r"/v1/billing/meter_events"), self._meter_event),
            ("GET", re.compile(r"/v2/core/events/(?P<id>[^/]+)"), self._meter_error_report),
            ("DELETE", re.compile(r"/v1/customers/(?P<id>[^/]+)"), self._customer_deleted),
        ]
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The headers and the body go out in two writes: without TCP_NODELAY the body waits for the client's
            # delayed ACK (40 ms on Linux) on every request after the first on a kept-alive connection.
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                url = urlsplit(self.path)
                params = form(raw or url.query)
                status, body = stub.answer(self.command, url.path, params)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("request-id", f"req_stub{next(stub._ids)}")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def __enter__(self) -> StripeStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def answer(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((method, path))
        for verb, pattern, build in self._routes:
            match = pattern.fullmatch(path)
            if verb == method and match:
                return build(params, **match.groupdict())
        return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                               "message": f"stub: no route for {method} {path}"}}

    # --- objects ---------------------------------------------------------------------------------------

    def _new(self, fixture: str, prefix: str, id: str | None = None, **fields: Any) -> dict[str, Any]:
        obj = copy.deepcopy(self._fixtures[fixture])
        obj.update(id=id or f"{prefix}_stub{next(self._ids):06d}", livemode=False, created=int(time.time()))
        obj.update(fields)
        return obj

    @staticmethod
    def _amount(params: dict[str, Any], default: int = 1999) -> int:
        return int(params.get("amount") or default)

    def _price(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        recurring = id.startswith(RECURRING_PRICE_PREFIX) or id in RECURRING_SAMPLE_PRICES
        return 200, self._new("price", "price", id, active=True, currency="usd", unit_amount=999 if recurring else 1999,
                              type="recurring" if recurring else "one_time",
                              recurring={"interval": "month", "interval_count": 1, "usage_type": "licensed",
                                         "aggregate_usage": None, "meter": None, "trial_period_days": None}
                              if recurring else None)

    def _intent(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        obj = self._new("payment_intent", "pi", id, amount=self._amount(params), currency=params.get("currency", "usd"),
                        status="requires_payment_method", metadata=params.get("metadata") or {}, canceled_at=None)
        obj["client_secret"] = f"{obj['id']}_secret_stub"
        return 200, obj

    def _intent_canceled(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        status, obj = self._intent(params, id)
        obj.update(status="canceled", canceled_at=int(time.time()), cancellation_reason="requested_by_customer")
        return status, obj

    def _session(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        line = ((params.get("line_items") or {}).get("0") or {}).get("price_data") or {}
        obj = self._new("checkout.session", "cs", id, mode="payment", status="open", payment_status="unpaid",
                        amount_total=int(line.get("unit_amount") or 1999), currency=line.get("currency", "usd"),
                        metadata=params.get("metadata") or {}, payment_intent=None,
                        success_url=params.get("success_url", "https://example.com/success"),
                        cancel_url=params.get("cancel_url", "https://example.com/cancel"))
        obj["url"] = f"https://checkout.stripe.com/c/pay/{obj['id']}"
        return 200, obj

    def _session_expired(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        status, obj = self._session(params, id)
        obj.update(status="expired", url=None)
        return status, obj

    def _refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, self._new("refund", "re", amount=self._amount(params, 100), currency="usd", status="succeeded",
                              payment_intent=params.get("payment_intent"), metadata=params.get("metadata") or {},
                              reason=params.get("reason"))

    def _refund_list(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _, refund = self._refund({})
        return 200, {"object": "list", "url": "/v1/refunds", "has_more": False, "data": [refund]}

    def _events(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, {"object": "list", "url": "/v1/events", "has_more": False, "data": []}

    def _customer(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return 200, self._new("customer", "cus", metadata=params.get("metadata") or {})

    def _customer_search(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """No customer yet: the user's first subscription (the stub keeps no state)."""
        return 200, {"object": "search_result", "url": "/v1/customers/search", "has_more": False, "next_page": None,
                     "data": []}

    def _subscription(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        now = int(time.time())
        price = ((params.get("items") or {}).get("0") or {}).get("price") or f"{RECURRING_PRICE_PREFIX}_pro"
        obj = self._new("subscription", "sub", id, status="incomplete" if id is None else "active",
                        customer=params.get("customer") or "cus_stub", metadata=params.get("metadata") or {},
                        cancel_at_period_end=params.get("cancel_at_period_end") == "true", cancel_at=None,
                        canceled_at=None)
        obj["items"] = {"object": "list", "has_more": False, "url": "/v1/subscription_items", "data": [
            {"id": "si_stub", "object": "subscription_item", "current_period_start": now,
             "current_period_end": now + 30 * 86400, "quantity": 1,
             "price": self._price({}, price)[1]}]}
        if "expand" in params:
            _, invoice = self._invoice(obj)
            obj["latest_invoice"] = invoice
        return 200, obj

    def _subscription_canceled(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        status, obj = self._subscription(params, id)
        obj.update(status="canceled", canceled_at=int(time.time()))
        return status, obj

    def _invoice(self, subscription: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        invoice = self._new("invoice", "in", billing_reason="subscription_create", status="open",
                            customer=subscription["customer"], amount_due=999, amount_paid=0, currency="usd")
        invoice["confirmation_secret"] = {"client_secret": f"pi_stub_secret_{invoice['id']}", "type": "payment_intent"}
        return 200, invoice

    # --- billing: promotion codes, plan change previews, saved cards, the portal, entitlements ----------------

    def _billing_routes(self) -> list[tuple[str, re.Pattern[str], Callable[..., tuple[int, dict[str, Any]]]]]:
        return [
            ("GET", re.compile(r"/v1/customers/search"), self._customer_search),
            ("GET", re.compile(r"/v1/promotion_codes"), self._promotion_codes),
            ("POST", re.compile(r"/v1/invoices/create_preview"), self._invoice_preview),
            ("POST", re.compile(r"/v1/setup_intents"), self._setup_intent),
            ("GET", re.compile(r"/v1/setup_intents/(?P<id>[^/]+)"), self._setup_intent),
            ("GET", re.compile(r"/v1/customers/(?P<id>cus_[^/]+)"), self._customer_with_default),
            ("POST", re.compile(r"/v1/customers/(?P<id>cus_[^/]+)"), self._customer_with_default),
            ("GET", re.compile(r"/v1/payment_methods"), self._payment_methods),
            ("GET", re.compile(r"/v1/payment_methods/(?P<id>[^/]+)"), self._payment_method),
            ("POST", re.compile(r"/v1/payment_methods/(?P<id>[^/]+)/detach"), self._payment_method_detached),
            ("POST", re.compile(r"/v1/billing_portal/sessions"), self._portal_session),
            ("GET", re.compile(r"/v1/entitlements/active_entitlements"), self._active_entitlements),
        ]

    def _customer_search(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """No customer made earlier for the user: the subscribe samples then create one."""
        return 200, {"object": "search_result", "url": "/v1/customers/search", "has_more": False, "next_page": None,
                     "data": []}

    def _promotion_codes(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        coupon = self._new("coupon", "coupon", "COUPON25", percent_off=25, amount_off=None, valid=True,
                           duration="once")
        code = self._new("promotion_code", "promo", active=True, code=params.get("code", "FALL25"), expires_at=None,
                         promotion={"type": "coupon", "coupon": coupon})
        return 200, {"object": "list", "url": "/v1/promotion_codes", "has_more": False, "data": [code]}

    def _invoice_preview(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _, invoice = self._invoice({"customer": params.get("customer", "cus_stub")})
        invoice.update(billing_reason="subscription_update", amount_due=1000, lines={
            "object": "list", "has_more": False, "url": "/v1/invoices/upcoming/lines", "data": [
                {"object": "line_item", "amount": amount, "currency": "usd", "description": text,
                 "parent": {"type": "subscription_item_details",
                            "subscription_item_details": {"proration": True}}}
                for amount, text in ((-999, "Unused time"), (1999, "Remaining time"))]})
        invoice["id"] = "upcoming_in_stub"
        return 200, invoice

    def _setup_intent(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        obj = self._new("setup_intent", "seti", id, status="requires_payment_method",
                        customer=params.get("customer") or SAVED_CARD_CUSTOMER, next_action=None,
                        last_setup_error=None, metadata=params.get("metadata") or {})
        obj["client_secret"] = f"{obj['id']}_secret_stub"
        return 200, obj

    def _customer_with_default(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        return 200, self._new("customer", "cus", id, invoice_settings={
            "custom_fields": None, "default_payment_method": SAVED_CARD_ID, "footer": None,
            "rendering_options": None})

    def _payment_method(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        return 200, self._new("payment_method", "pm", id or SAVED_CARD_ID, customer=SAVED_CARD_CUSTOMER)

    def _payment_methods(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        _, method = self._payment_method(params)
        return 200, {"object": "list", "url": "/v1/payment_methods", "has_more": False, "data": [method]}

    def _payment_method_detached(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        return 200, self._new("payment_method", "pm", id, customer=None)

    def _portal_session(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        obj = self._new("billing_portal.session", "bps", customer=params.get("customer"),
                        return_url=params.get("return_url"))
        obj["url"] = f"https://billing.stripe.com/p/session/{obj['id']}"
        return 200, obj

    def _active_entitlements(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        entitlement = {"id": "ent_test_stub", "object": "entitlements.active_entitlement", "feature": "feat_test_stub",
                       "livemode": False, "lookup_key": "pro-reports"}
        return 200, {"object": "list", "url": "/v1/entitlements/active_entitlements", "has_more": False,
                     "data": [entitlement]}

    # --- marketplace, usage billing, privacy ----------------------------------------------------------------------

    def _account(self, params: dict[str, Any], id: str | None = None) -> tuple[int, dict[str, Any]]:
        return 200, self._new("account", "acct", id, type="express", metadata=params.get("metadata") or {})

    def _account_link(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        link = copy.deepcopy(self._fixtures["account_link"])
        link.update(created=int(time.time()), expires_at=int(time.time()) + 300,
                    url=f"https://connect.stripe.com/setup/e/{params.get('account', 'acct_stub')}/stub")
        return 200, link

    def _charge(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        return 200, self._new("charge", "ch", id, transfer="tr_stub000001", status="succeeded")

    def _meter_event(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        event = copy.deepcopy(self._fixtures["billing.meter_event"])
        event.update(event_name=params.get("event_name"), identifier=params.get("identifier"),
                     payload=params.get("payload") or {}, timestamp=int(params.get("timestamp") or time.time()),
                     created=int(time.time()))
        return 200, event

    def _meter_error_report(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        return 200, {"id": id, "object": "v2.core.event", "type": "v1.billing.meter.error_report_triggered",
                     "livemode": False, "created": "2026-11-01T10:00:00.000Z", "context": None,
                     "related_object": {"id": "mtr_stub", "type": "billing.meter",
                                        "url": "/v1/billing/meters/mtr_stub"},
                     "data": {"developer_message_summary": "1 meter event failed", "validation_start":
                              "2026-11-01T09:00:00.000Z", "validation_end": "2026-11-01T10:00:00.000Z",
                              "reason": {"error_count": 1, "error_types": [
                                  {"code": "meter_event_customer_not_found", "error_count": 1, "sample_errors": []}]}}}

    def _customer_deleted(self, params: dict[str, Any], id: str) -> tuple[int, dict[str, Any]]:
        return 200, {"id": id, "object": "customer", "deleted": True}


# The recurring prices of the bench's samples (devstack.make_sample_events), besides the prefix above.
RECURRING_SAMPLE_PRICES = frozenset({"price_1MoBy5LkdIwHu7ixMonthly", "price_1MoBy5LkdIwHu7ixPlus"})
# The saved card of the bench's samples and the customer it is attached to (devstack.make_sample_events).
SAVED_CARD_ID = "pm_1QEXAMPLE0000000000000002"
SAVED_CARD_CUSTOMER = "cus_1QEXAMPLE00000000001"

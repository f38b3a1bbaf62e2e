"""The emulator's server: localstripe's aiohttp app with every extension installed, and its command line.

:func:`install` applies the extensions (each module's, then the routes and middlewares below: idempotency
keys, publishable-key calls, the Stripe.js stand-in, the state file); :func:`main` serves
(``python -m devstack.stripe_emulator``). The package's docstring lists every extension.
"""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import pickle
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from localstripe import resources
from localstripe.errors import UserError

from devstack.stripe_emulator import (
    billing,
    billing_terms,
    connect,
    customers,
    deletion,
    entitlements,
    metering,
    payments,
    portal,
    promotions,
    setup_intents,
    webhooks,
)
from devstack.stripe_emulator.catalog import Price
from devstack.stripe_emulator.checkout import CheckoutSession, checkout_page, checkout_page_pay, create_session
from devstack.stripe_emulator.common import stripe_error
from devstack.stripe_emulator.payments import check_client_secret
from devstack.stripe_emulator.process import READY_MESSAGE

# --------------------------------------------------------------------------------------------
# 4. Idempotency keys, 10. the Stripe.js stand-in, 11. publishable-key calls: aiohttp middlewares
# --------------------------------------------------------------------------------------------

#: (Idempotency-Key, path) -> (request body, status, response body)
_saved_responses: dict[tuple[str, str], tuple[bytes, int, Any]] = {}


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    """Replay the saved response of a POST that repeats an ``Idempotency-Key`` on the same path.

    Runs inside localstripe's auth middleware, so unauthenticated requests are never replayed.
    No lock is needed: localstripe's handlers do not yield to the event loop once the body is
    read (done here first), so two requests with one key cannot interleave.
    """
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        response = await handler(request)
        if request.method == "DELETE" and request.path == "/_config/data":
            _saved_responses.clear()
        return response

    body = await request.read()  # aiohttp caches it for the handler
    saved = _saved_responses.get((key, request.path))
    if saved is not None:
        saved_body, status, response_body = saved
        if saved_body != body:
            raise stripe_error(
                400,
                "Keys for idempotent requests can only be used with the same parameters "
                f"they were first used with. Try using a key other than '{key}' if you "
                "meant to execute a different request.",
                type="idempotency_error",
            )
        return web.Response(
            body=response_body,
            status=status,
            content_type="application/json",
            headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
        )
    try:
        response = await handler(request)
    except UserError as error:
        response = error.to_response()
    if isinstance(response, web.Response) and (response.status < 300 or response.status == 402):
        _saved_responses[(key, request.path)] = (body, response.status, response.body)
    return response


#: Paths anyone may open without an API key: the hosted checkout page (as on checkout.stripe.com), the customer
#: portal (billing.stripe.com) and the Connect onboarding page (connect.stripe.com).
PUBLIC_PREFIXES = ("/checkout/", "/billing_portal/", "/connect/onboarding/")

#: Calls Stripe.js makes with the publishable key (extension 11): (method, path, needs the intent's
#: client secret). The path's group is the PaymentIntent id.
PUBLISHABLE_KEY_CALLS = (
    ("POST", re.compile(r"^/v1/payment_methods$"), False),
    ("POST", re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$"), True),
    ("GET", re.compile(r"^/v1/payment_intents/(pi_\w+)$"), True),
)


async def _publishable_key_call(request: web.Request) -> bool:
    """True for one of :data:`PUBLISHABLE_KEY_CALLS` made with a ``pk_`` key (and the right client secret)."""
    from localstripe import server

    for method, pattern, needs_client_secret in PUBLISHABLE_KEY_CALLS:
        match = pattern.match(request.path)
        if request.method != method or match is None:
            continue
        if method == "POST":
            data = await server.get_post_data(request, remove_auth=False) or {}
        else:
            data = server.unflatten_data(request.query)
        key = data.get("key")
        if not isinstance(key, str) or not key.startswith("pk_"):
            return False
        if not needs_client_secret:
            return True
        check_client_secret(match.group(1), data.get("client_secret"))  # 404 / 401 otherwise
        return True
    return False


def _public_paths_auth_middleware(auth_middleware):
    @web.middleware
    async def middleware(request: web.Request, handler):
        if request.path.startswith(PUBLIC_PREFIXES) or await _publishable_key_call(request):
            return await handler(request)
        return await auth_middleware(request, handler)

    return middleware


STRIPE_JS_PATH = "/js.stripe.com/v3/"
STRIPE_JS_EXTENSION = Path(__file__).resolve().parent.parent / "stripe_js" / "stripe-v3-extension.js"


@web.middleware
async def stripe_js_middleware(request: web.Request, handler):
    """Extension 10: localstripe's Stripe.js stand-in followed by ours, read on every request."""
    if request.method != "GET" or request.path != STRIPE_JS_PATH:
        return await handler(request)
    from localstripe import server

    original = Path(server.__file__).resolve().parent / "localstripe-v3.js"
    script = original.read_text(encoding="utf-8") + "\n" + STRIPE_JS_EXTENSION.read_text(encoding="utf-8")
    return web.Response(text=script, content_type="application/javascript", headers={"Cache-Control": "no-store"})


@web.middleware
async def entitlement_summaries_middleware(request: web.Request, handler):
    """Extension 18: after a request that may have changed subscriptions, the entitlement summaries that changed."""
    response = await handler(request)
    if request.method in ("POST", "DELETE") and not request.path.startswith("/_config/"):
        entitlements.publish_changes()
    return response


# --------------------------------------------------------------------------------------------
# 9. The state file
# --------------------------------------------------------------------------------------------


def _redirect_state_file() -> None:
    """Point localstripe's pickle at a private temporary directory and never load it back."""
    path = os.path.join(tempfile.mkdtemp(prefix="stripe-emulator-"), "localstripe.pickle")
    atexit.register(shutil.rmtree, os.path.dirname(path), True)

    def dump_to_disk(self):
        with open(path, "wb") as f:
            pickle.dump(self, f, protocol=pickle.HIGHEST_PROTOCOL)

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = lambda self: None


# --------------------------------------------------------------------------------------------
# install() and main()
# --------------------------------------------------------------------------------------------

_installed = False


def install() -> None:
    """Apply every extension to localstripe in this process. Idempotent; call before serving."""
    global _installed
    if _installed:
        return
    # Importing localstripe's server builds its app and its routes from `resources.extra_apis`, once: what
    # changes those (payment retries, billing, customer search) goes first. Later routes are added to the
    # app directly, wrapped by the server's own `api_extra` exactly as that import-time loop does (it
    # parses form data, passes {id} and handles `expand`).
    connect.install()  # before payments: its refund events carry the transfer reversal
    payments.install()
    billing.install()
    customers.install()
    # Billing a team can sell with (extensions 14-19): promotion codes, terms and plan changes, SetupIntents,
    # the portal, entitlements; subscription-mode Checkout is reached through extension 2's sessions.
    promotions.install()
    billing_terms.install()
    setup_intents.install()
    entitlements.install()
    deletion.install()  # extension 23
    webhooks.install()  # last: its delivery takes the kinds of endpoint of extension 24 (connect.wants)
    from localstripe import server

    _redirect_state_file()
    router = server.app.router
    for method, path, func in (
        ("POST", "/v1/prices", Price._api_create),
        ("GET", "/v1/prices", Price._api_list_all),
        ("GET", "/v1/prices/{id}", Price._api_retrieve),
        ("POST", "/v1/prices/{id}", Price._api_update),
        ("GET", "/v1/checkout/sessions", CheckoutSession._api_list_all),
        ("GET", "/v1/checkout/sessions/{id}", CheckoutSession._api_retrieve),
        ("POST", "/v1/checkout/sessions/{id}", CheckoutSession._api_update),
        ("POST", "/v1/checkout/sessions/{id}/expire", CheckoutSession._api_expire),
        ("POST", "/_test/checkout/sessions/{id}/complete", CheckoutSession._api_complete),
        *connect.API_ROUTES,
        *metering.API_ROUTES,
    ):
        router.add_route(method, path, server.api_extra(func, path))
    webhooks.add_routes(server.app)
    router.add_post("/v1/checkout/sessions", create_session)
    router.add_get("/checkout/{id}", checkout_page)
    router.add_post("/checkout/{id}", checkout_page_pay)
    for method, path, handler in (*portal.routes(), *entitlements.routes(), *connect.WEB_ROUTES,
                                  *metering.WEB_ROUTES):
        router.add_route(method, path, handler)

    middlewares = server.app.middlewares
    auth = middlewares.index(server.auth_middleware)
    middlewares.insert(auth + 1, idempotency_middleware)
    middlewares[auth] = _public_paths_auth_middleware(server.auth_middleware)
    middlewares.insert(auth, stripe_js_middleware)
    middlewares.append(entitlement_summaries_middleware)
    middlewares.insert(auth, connect.webhook_kinds_middleware)
    _installed = True


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.stripe_emulator --port N [--host H]``: serve from an empty state.

    Prints ``stripe emulator ready on http://HOST:PORT`` once listening (``--port 0``: any free port).
    """
    parser = argparse.ArgumentParser(description="localstripe with this project's extensions")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--parent-pid", type=int, help="exit once this process is gone")
    args = parser.parse_args(argv)

    if args.parent_pid:
        _exit_with_parent(args.parent_pid)
    install()
    from localstripe import server

    access_log = logging.getLogger("aiohttp.access")  # localstripe also logs webhook deliveries here
    access_log.setLevel(logging.DEBUG)
    access_log.addHandler(logging.StreamHandler())
    # Bind here rather than in run_app so that --port 0 can report the port the system chose.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.create_server((args.host, args.port), family=family)
    ready = f"{READY_MESSAGE} http://{args.host}:{sock.getsockname()[1]}"
    web.run_app(
        server.app,
        sock=sock,
        access_log=access_log,
        shutdown_timeout=1,
        print=lambda _: print(ready, flush=True),
    )


def _exit_with_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Extension 12: stop this process (as Ctrl-C would) once ``parent_pid`` is no longer its parent."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

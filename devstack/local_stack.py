"""The whole product on one laptop: ``make dev`` (``python -m devstack.local_stack serve``).

No AWS account, no Stripe account, no Docker. Everything comes from ``template.yaml``:

* **DynamoDB**: moto's server on a loopback port, one request at a time, with the template's tables
  (their logical ids as names; ``devstack.local_dynamodb``). In memory: gone when the stack stops.
* **Stripe**: the project's emulator (``devstack.stripe_emulator``: localstripe + extensions, a child
  process), with one webhook endpoint per callback function, registered by the product's own registration
  code with the event types its rules handle, each with the signing secret the emulator answered
  (``devstack.local_webhooks``). Or, when ``STRIPE_SECRET_KEY`` is set (a *test* key), real Stripe test mode;
  webhooks then come through one ``stripe listen --forward-to <api>/_local/stripe-events``.
* **Schedules**: the template's scheduled functions (the reconciler) run every minute
  (``devstack.local_schedules``; ``--schedule-seconds``).
* **The HTTP API and the Function URLs**, on one loopback port (``devstack.local_http``): the template's
  routes behind a JWT authorizer like API Gateway's (a local RSA key in ``.local/``; tokens from
  ``make token USER=alice [ADMIN=1]`` or ``/_local/token``), each Function URL at ``/_lambda/<LogicalId>/``.
  Handlers run in this process with the environment the template gives them plus the local endpoints
  and keys, and reload when their code changes (``devstack.handlers``).
* **Events out and live status** (``devstack.local_events_live``): the tables' streams run the publisher, the
  local EventBridge invokes every function whose ``EventBridgeRule`` matches, and the WebSocket API serves live
  status (``--live-port``, 3001) with its management API.
* **The checkout page** at ``/demo/``, paying with Stripe.js (the emulator's extended stand-in).

Commands::

    python -m devstack.local_stack serve [--api-port 3000] [--dynamodb-port 8000] [--stripe-port 8420]
        [--live-port 3001] [--host 127.0.0.1] [--template template.yaml] [--state-dir .local] [--log-level WARNING]
    python -m devstack.local_stack token --user alice [--admin] [--ttl SECONDS]
    python -m devstack.local_stack env-file [--docker-host host.docker.internal] > env.local.json

``serve`` prints one line ``LOCAL_STACK_READY {json}`` once everything is up (the URLs, for scripts and
tests; ``--*-port 0`` picks free ports), then where everything is, then one line per request. Ctrl-C (or
SIGTERM) stops it all: the HTTP server, moto and the emulator process.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.entitlement_features import ensure_features
from devstack.handlers import HandlerRuntime
from devstack.lambda_events import LOCAL_WEBHOOK_SECRETS
from devstack.local_auth import LOCAL_AUDIENCE, LOCAL_ISSUER, JwtAuthorizer, load_signing_key, mint_token
from devstack.local_events_live import DEFAULT_LIVE_PORT, EventsAndLive, local_endpoints
from devstack.local_functions import LocalFunction, read_functions, route_table
from devstack.local_http import LocalApp
from devstack.local_schedules import LocalSchedules, read_schedules
from devstack.local_webhooks import FORWARD_ROUTE, LocalWebhooks
from devstack.loopback import LoopbackServer
from devstack.template import REPO_ROOT, TEMPLATE, load_template

DEFAULT_API_PORT = 3000
DEFAULT_DYNAMODB_PORT = 8000
DEFAULT_STRIPE_PORT = 8420
DEFAULT_STATE_DIR = REPO_ROOT / ".local"
READY_PREFIX = "LOCAL_STACK_READY "
STACK_NAME = "payments-local-stack"
EMULATOR_SECRET_KEY = "sk_test_stripe_emulator"  # the emulator accepts any sk_ key; these are not secrets
EMULATOR_PUBLISHABLE_KEY = "pk_test_local"
LOCAL_PSEUDONYM_KEY = "local-pseudonym-key-for-erased-users-not-a-secret"  # erasure's HMAC key, locally
STRIPE_JS_URL = "https://js.stripe.com/v3/"
ENV_FILE = REPO_ROOT / "env.local.json"
DOCKER_HOST = "host.docker.internal"

USAGE_METER = "api_calls"  # the Billing Meter the local stack makes for usage reports (the demo, the page)
#: Prices the stack makes sure exist at Stripe (found by lookup key in test mode, so never made twice).
CATALOG: tuple[dict[str, Any], ...] = (
    {"lookup_key": "local-stack-tshirt", "name": "T-shirt", "unit_amount": 1999, "currency": "usd"},
    {"lookup_key": "local-stack-membership", "name": "Club membership", "unit_amount": 900, "currency": "usd",
     "recurring": {"interval": "month"}, "features": (("club-newsletter", "Club newsletter"),)},
    # Billing: a second plan to change to, granting one more feature (devstack.entitlement_features)
    {"lookup_key": "local-stack-membership-plus", "name": "Club membership plus", "unit_amount": 1900,
     "currency": "usd", "recurring": {"interval": "month"},
     "features": (("club-newsletter", "Club newsletter"), ("club-events", "Club events"))},
)


class StackError(RuntimeError):
    """The stack cannot start as asked (a port in use, a live Stripe key ...): the message says why."""


# ------------------------------------------------------------------------------------------ settings


@dataclass(frozen=True)
class StripeSettings:
    """Where Stripe is: the emulator (default) or real Stripe test mode (``STRIPE_SECRET_KEY`` set)."""

    mode: str = "emulator"
    secret_key: str = EMULATOR_SECRET_KEY
    publishable_key: str = EMULATOR_PUBLISHABLE_KEY
    webhook_secrets: Mapping[str, str] = field(default_factory=lambda: dict(LOCAL_WEBHOOK_SECRETS))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> StripeSettings:
        secret = environ.get("STRIPE_SECRET_KEY", "").strip()
        if not secret:
            return cls()
        if not secret.startswith(("sk_test_", "rk_test_")):
            raise StackError("STRIPE_SECRET_KEY is not a test-mode key (sk_test_/rk_test_): the local stack "
                             "never runs against live Stripe")
        publishable = environ.get("STRIPE_PUBLISHABLE_KEY", "").strip()
        if not publishable.startswith("pk_test_"):
            raise StackError("with STRIPE_SECRET_KEY set, set STRIPE_PUBLISHABLE_KEY to the pk_test_ key of the "
                             "same account (the checkout page needs it)")
        secrets = {}
        for endpoint in LOCAL_WEBHOOK_SECRETS:
            value = (environ.get(f"STRIPE_WEBHOOK_SECRET_{endpoint.upper()}") or environ.get("STRIPE_WEBHOOK_SECRET")
                     or "").strip()
            if value:
                secrets[endpoint] = value
        return cls(mode="stripe", secret_key=secret, publishable_key=publishable, webhook_secrets=secrets)


@dataclass(frozen=True)
class StackOptions:
    template: Path = TEMPLATE
    host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    dynamodb_port: int = DEFAULT_DYNAMODB_PORT
    stripe_port: int = DEFAULT_STRIPE_PORT
    state_dir: Path = DEFAULT_STATE_DIR
    log_level: str = "WARNING"
    stripe: StripeSettings = field(default_factory=StripeSettings)
    live_port: int = DEFAULT_LIVE_PORT  # the WebSocket API and its management API
    schedule_seconds: float = 60.0  # how often the template's schedules run locally (the reconciler)


def local_environment(
    function: LocalFunction, *, dynamodb_url: str, stripe: StripeSettings, stripe_url: str | None,
    log_level: str = "WARNING", api_url: str = f"http://127.0.0.1:{DEFAULT_API_PORT}",
    live_management_url: str = f"http://127.0.0.1:{DEFAULT_LIVE_PORT}/live",
) -> dict[str, str]:
    """The function's template environment plus what makes it run locally (see the module doc)."""
    env = dict(function.environment)
    for name in ("STRIPE_SECRET_ARN", "STRIPE_WEBHOOK_SECRET_ARN"):
        env.pop(name, None)  # the keys come from the variables below, never a Secrets Manager secret
    env.update({
        "SELLABLE_PRICES": ",".join(item["lookup_key"] for item in CATALOG),  # the demo catalog, by lookup key
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": log_level,
        "STRIPE_SECRET_KEY": stripe.secret_key,
        "STRIPE_PUBLISHABLE_KEY": stripe.publishable_key,
        "PSEUDONYM_KEY": LOCAL_PSEUDONYM_KEY,
        "PLATFORM_FEE_BPS": "1000",  # the demo marketplace's fee: 10% (the template's default is 0)
    })
    if stripe_url:
        env["STRIPE_API_BASE"] = stripe_url
    for endpoint, secret in stripe.webhook_secrets.items():
        env[f"STRIPE_WEBHOOK_SECRET_{endpoint.upper()}"] = secret
    env.update(local_endpoints(env, api_url=api_url, live_management_url=live_management_url))
    return env


def sam_env_file(functions: list[LocalFunction], docker_host: str = DOCKER_HOST,
                 dynamodb_port: int = DEFAULT_DYNAMODB_PORT, stripe_port: int = DEFAULT_STRIPE_PORT) -> dict[str, Any]:
    """``env.local.json`` for ``sam local ... --env-vars``: per function, what the local stack sets, with the
    endpoints as a container reaches the host, and the callback's own ``STRIPE_WEBHOOK_SECRET``."""
    result: dict[str, Any] = {}
    for function in functions:
        env = local_environment(function, dynamodb_url=f"http://{docker_host}:{dynamodb_port}",
                                stripe=StripeSettings(), stripe_url=f"http://{docker_host}:{stripe_port}",
                                log_level="INFO", api_url=f"http://{docker_host}:{DEFAULT_API_PORT}",
                                live_management_url=f"http://{docker_host}:{DEFAULT_LIVE_PORT}/live")
        env = {k: v for k, v in env.items() if not k.startswith("STRIPE_WEBHOOK_SECRET_")}
        if function.webhook_endpoint:
            env["STRIPE_WEBHOOK_SECRET"] = LOCAL_WEBHOOK_SECRETS[function.webhook_endpoint]
            env.pop("STRIPE_PUBLISHABLE_KEY", None)  # a callback reads no publishable key
        result[function.logical_id] = dict(sorted(env.items()))
    return result


# ------------------------------------------------------------------------------------------ the stack


def _check_port_free(host: str, port: int, what: str, flag: str) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise StackError(f"{what}: port {port} on {host} is in use (another `make dev`?); "
                             f"stop it or pick another with {flag}") from None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class LocalStack:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(self, options: StackOptions, log: Callable[[str], None] | None = None):
        self.options = options
        self.log = log or _timestamped_printer()
        self.functions: list[LocalFunction] = []
        self.catalog: list[dict[str, Any]] = []
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.http: LoopbackServer | None = None
        self.dynamodb: LoopbackServer | None = None
        self.emulator: Any = None
        self.runtime: HandlerRuntime | None = None
        self.dynamodb_url = ""
        self.stripe_url: str | None = None
        self.events_and_live: EventsAndLive | None = None
        self.started_in = 0.0
        self.local_webhooks: LocalWebhooks | None = None
        self.schedules: LocalSchedules | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - started
        return self

    def _start(self) -> None:
        options = self.options
        functions = read_functions(options.template)
        _check_port_free(options.host, options.dynamodb_port, "DynamoDB (moto)", "--dynamodb-port")
        if options.stripe.mode == "emulator":
            _check_port_free(options.host, options.stripe_port, "Stripe emulator", "--stripe-port")
        key = load_signing_key(options.state_dir)
        try:  # bound first: the webhooks' URLs need its port; it serves once everything is ready
            self.http = LoopbackServer(None, options.host, options.api_port)
        except OSError as error:
            raise StackError(f"HTTP API: cannot listen on {options.host}:{options.api_port} ({error.strerror}); "
                             "stop what uses it or pick another port with --api-port") from None

        self._start_dynamodb()
        _check_port_free(options.host, options.live_port, "WebSocket API", "--live-port")
        self.events_and_live = EventsAndLive(load_template(options.template), host=options.host,
                                             live_port=options.live_port, public_keys=key.as_dict(private=False),
                                             log=self.log)
        stripe_port = options.stripe_port or _free_port(options.host)
        emulated = options.stripe.mode == "emulator"
        self.stripe_url = f"http://{_reachable(options.host)}:{stripe_port}" if emulated else None
        self.functions = [
            dataclasses.replace(f, environment=local_environment(
                f, dynamodb_url=self.dynamodb_url, stripe=options.stripe, stripe_url=self.stripe_url,
                log_level=options.log_level, api_url=self.api_url,
                live_management_url=self.events_and_live.management_url))
            for f in functions
        ]
        _apply_process_environment(self.functions)

        emulator_thread = None
        if options.stripe.mode == "emulator":
            from devstack.stripe_emulator import StripeEmulator

            self.emulator = StripeEmulator(port=stripe_port, host=options.host)
            emulator_thread = _Background(self.emulator.start)  # boots while the handlers import

        self.runtime = HandlerRuntime(self.functions, on_load=self._on_handler_load, log=self.log)
        self.runtime.mount_layers()
        failures = self.runtime.preload()
        for logical_id, problem in failures.items():
            self.log(f"WARNING {logical_id} does not import ({problem}); fix it: it is retried on the next request")

        self.local_webhooks = LocalWebhooks(self.functions, self.runtime, api_url=self.api_url,
                                            emulator=self.emulator, log=self.log)
        if emulator_thread is not None:
            emulator_thread.result()
            self.webhooks = self.local_webhooks.register()
        self.catalog = self._ensure_catalog()

        authorizer = JwtAuthorizer(key, LOCAL_ISSUER, (LOCAL_AUDIENCE,))
        self.http.app = LocalApp(
            self.functions, route_table(self.functions), self.runtime, authorizer,
            config=self.config, mint=lambda user, admin: mint_token(key, user, admin=admin), log=self.log,
            local_routes={**self.events_and_live.local_routes(), **self.local_webhooks.routes()},
        )
        self.local_webhooks.dispatch = self.http.app.handle
        self.http.start()
        runtime = self.runtime
        self.events_and_live.start(self.functions, lambda function, event: runtime.invoke(function, event),
                                   self.dynamodb_url)
        self.schedules = LocalSchedules(read_schedules(options.template), self.functions, self.runtime,
                                        interval=options.schedule_seconds, log=self.log,
                                        then=self._housekeeping).start()

    def stop(self) -> None:
        """Stop everything that started; safe to call twice and after a failed start."""
        if self.schedules is not None:
            self.schedules.stop()
            self.schedules = None
        if self.events_and_live is not None:
            self.events_and_live.stop()
            self.events_and_live = None
        if self.http is not None:
            self.http.stop()
            self.http = None
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None
        if self.dynamodb is not None:
            self.dynamodb.stop()
            self.dynamodb = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ parts

    def _start_dynamodb(self) -> None:
        from devstack.local_dynamodb import serve_dynamodb

        self.dynamodb = serve_dynamodb(self.options.host, self.options.dynamodb_port,
                                       load_template(self.options.template))
        self.dynamodb_url = self.dynamodb.url

    def _on_handler_load(self, function: LocalFunction, module: ModuleType) -> None:
        if self.local_webhooks is not None:
            self.local_webhooks.on_load(function)  # a reloaded callback may handle other event types

    def _housekeeping(self) -> None:
        """Between invocations (the schedules' thread): register the webhooks again after a reload."""
        if self.local_webhooks is not None and self.local_webhooks.dirty:
            self.webhooks = self.local_webhooks.register()

    def _ensure_catalog(self) -> list[dict[str, Any]]:
        import stripe

        client = stripe.StripeClient(self.options.stripe.secret_key,
                                     base_addresses={"api": self.stripe_url} if self.stripe_url else {})
        catalog = []
        for item in CATALOG:
            found = client.v1.prices.list({"lookup_keys": [item["lookup_key"]], "limit": 1}).data
            if found:
                price = found[0]
            else:
                params: dict[str, Any] = {"currency": item["currency"], "unit_amount": item["unit_amount"],
                                          "lookup_key": item["lookup_key"], "product_data": {"name": item["name"]}}
                if item.get("recurring"):
                    params["recurring"] = item["recurring"]
                price = client.v1.prices.create(params)  # type: ignore[arg-type]
            features = ensure_features(client, str(price.product), item.get("features", ()))
            catalog.append({"priceId": price.id, "name": item["name"], "unitAmount": price.unit_amount,
                            "currency": price.currency,
                            "recurring": (item.get("recurring") or {}).get("interval"), "features": features})
        # The Billing Meter the demo's usage reports go to (POST /usage with meter "api_calls")
        if not any(m.event_name == USAGE_METER for m in client.v1.billing.meters.list({"limit": 100}).data):
            client.v1.billing.meters.create({"display_name": "API calls", "event_name": USAGE_METER,
                                             "default_aggregation": {"formula": "sum"}})
        return catalog

    # ------------------------------------------------------------------ what runs where

    @property
    def api_url(self) -> str:
        assert self.http is not None
        return self.http.url

    def config(self) -> dict[str, Any]:
        """``/_local/config`` and the ready line: everything a page, a script or a test needs to find."""
        emulator = self.options.stripe.mode == "emulator"
        return {
            "stack": STACK_NAME,
            "mode": self.options.stripe.mode,
            "api": self.api_url,
            "dynamodb": self.dynamodb_url,
            "stripe": self.stripe_url,
            "stripeJsUrl": f"{self.stripe_url}/js.stripe.com/v3/" if emulator else STRIPE_JS_URL,
            "publishableKey": self.options.stripe.publishable_key,
            "catalog": self.catalog,
            "functions": [f.logical_id for f in self.functions],
            "routes": [route.route_key for f in self.functions for route in f.routes],
            "functionUrls": {f.logical_id: f"{self.api_url}{f.url_path}" for f in self.functions if f.function_url},
            "webhooks": self.webhooks,
            "stripeListenUrl": f"{self.api_url}/_local/{FORWARD_ROUTE}",
            "schedules": [{"function": s.function, "event": s.name, "everySeconds": self.options.schedule_seconds}
                          for s in (self.schedules.schedules if self.schedules else [])],
            "demoPage": f"{self.api_url}/demo/",
            "issuer": LOCAL_ISSUER,
            "audience": LOCAL_AUDIENCE,
            **(self.events_and_live.config(self.api_url) if self.events_and_live else {}),
        }

    def summary(self) -> str:
        assert self.http is not None
        lines = [f"Payments backend, local stack ({self.options.template.name}), started in {self.started_in:.1f}s. "
                 "Ctrl-C stops it all.", ""]
        lines.append(f"  HTTP API       {self.api_url}   (JWT authorizer like API Gateway's, local key in "
                     f"{_shown(self.options.state_dir)}/)")
        for function in self.functions:
            for route in function.routes:
                lines.append(f"                   {route.method:<6} {route.path:<44} {function.logical_id}")
        lines.append("  Function URLs")
        for function in self.functions:
            if function.function_url:
                hook = self.webhooks.get(function.webhook_endpoint or "")
                kind = ("Stripe Connect webhook" if hook and hook.get("connect") else
                        "Stripe event destination (thin)" if hook and hook.get("thin") else "Stripe webhook")
                what = f"{kind} '{function.webhook_endpoint}'" if function.webhook_endpoint else ""
                if hook:
                    what += f", {len(hook['events'])} event types ({hook['id']})"
                lines.append(f"                   {function.logical_id:<30} {self.api_url}{function.url_path}   {what}")
        lines.append(f"  DynamoDB       {self.dynamodb_url}   (moto, tables of the template, in memory)")
        if self.options.stripe.mode == "emulator":
            lines.append(f"  Stripe         {self.stripe_url}   (emulator: localstripe + devstack extensions; any "
                         "sk_test_ key, e.g. sk_test_stripe_emulator)")
            lines.append(f"                 endpoint down for a while: curl -X POST "
                         f"{self.api_url}/_local/webhooks/payment/down?seconds=120   (the reconciler recovers)")
        else:
            lines.append("  Stripe         test mode at api.stripe.com (keys from STRIPE_SECRET_KEY / "
                         "STRIPE_PUBLISHABLE_KEY). One stripe listen serves the callbacks:")
            flags = self.local_webhooks.listen_flags() if self.local_webhooks else ""
            lines.append(f"                   stripe listen {flags}")
            if not self.options.stripe.webhook_secrets:
                lines.append("                 start it with STRIPE_WEBHOOK_SECRET=$(stripe listen --print-secret) "
                             "set (the callbacks verify its signatures)")
        for schedule in self.schedules.schedules if self.schedules else []:
            lines.append(f"  Schedule       {schedule.function} every {self.options.schedule_seconds:g} s locally "
                         f"({schedule.expression} in AWS); POST /admin/reconcile runs it now")
        lines.extend(self.events_and_live.summary_lines(self.api_url) if self.events_and_live else [])
        lines.append(f"  Checkout page  {self.api_url}/demo/")
        lines.append(f"  Tokens         make token USER=alice [ADMIN=1]   or   {self.api_url}/_local/token?user=alice")
        lines.append("  Code           handlers reload when a file under their CodeUri or a layer changes")
        return "\n".join(lines)

    def emulator_alive(self) -> bool:
        return self.emulator is None or self.emulator.running


class _Background:
    """Run ``target`` in a thread; :meth:`result` waits and re-raises its exception."""

    def __init__(self, target: Callable[[], Any]):
        self._error: BaseException | None = None

        def run() -> None:
            try:
                target()
            except BaseException as error:
                self._error = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


def _apply_process_environment(functions: list[LocalFunction]) -> None:
    """What every handler shares: local AWS credentials (never the developer's), then the first function's
    environment (the runtime applies each function's own before it runs)."""
    unwanted = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "STRIPE_SECRET_ARN", "STRIPE_WEBHOOK_SECRET")
    for name in unwanted:
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",  # moto takes any
                       "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})
    if not any("STRIPE_API_BASE" in f.environment for f in functions):
        os.environ.pop("STRIPE_API_BASE", None)
    if functions:
        os.environ.update(functions[0].environment)


def _reachable(host: str) -> str:
    """The address to reach a server listening on ``host`` (all interfaces: loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _timestamped_printer() -> Callable[[str], None]:
    lock = threading.Lock()

    def log(line: str) -> None:
        with lock:
            print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)

    return log


# ------------------------------------------------------------------------------------------ commands


def serve(args: argparse.Namespace) -> int:
    # Powertools warns on every invocation that records no metric; metrics are off locally anyway.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        options = StackOptions(
            template=Path(args.template).resolve(), host=args.host, api_port=args.api_port,
            dynamodb_port=args.dynamodb_port, stripe_port=args.stripe_port, state_dir=Path(args.state_dir),
            log_level=args.log_level.upper(), stripe=StripeSettings.from_environ(os.environ),
            live_port=args.live_port,
            schedule_seconds=args.schedule_seconds,
        )
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stack = LocalStack(options)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)  # during start-up: stop what started, then exit
    print(f"Starting the local stack from {_shown(options.template)} ...", flush=True)
    try:
        stack.start()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted during start-up; stopped.", flush=True)
        return 130
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(READY_PREFIX + json.dumps(stack.config(), separators=(",", ":")), flush=True)  # for scripts and tests
    print(stack.summary(), flush=True)
    code = 0
    template_stamp = options.template.stat().st_mtime_ns
    while not stop.wait(0.5):
        if template_stamp and options.template.stat().st_mtime_ns != template_stamp:
            template_stamp = 0  # say it once
            stack.log(f"{options.template.name} changed: restart (Ctrl-C, make dev) to serve its routes and tables")
        if not stack.emulator_alive():
            print("error: the Stripe emulator process exited; stopping. Its log:\n" + stack.emulator.logs(),
                  file=sys.stderr, flush=True)
            code = 1
            break
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
    print("Stopping: HTTP server, Stripe emulator, DynamoDB ...", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    return code


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _user_id(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("a token needs a user id, e.g. --user alice")
    return value


def token(args: argparse.Namespace) -> int:
    key = load_signing_key(Path(args.state_dir))
    print(mint_token(key, args.user, admin=args.admin, ttl_seconds=args.ttl))
    return 0


def env_file(args: argparse.Namespace) -> int:
    content = sam_env_file(read_functions(Path(args.template)), args.docker_host)
    print(json.dumps(content, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.local_stack", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the local stack until Ctrl-C")
    run.add_argument("--template", default=str(TEMPLATE))
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback only)")
    run.add_argument("--api-port", type=int, default=DEFAULT_API_PORT, help="HTTP API, Function URLs, page")
    run.add_argument("--dynamodb-port", type=int, default=DEFAULT_DYNAMODB_PORT)
    run.add_argument("--stripe-port", type=int, default=DEFAULT_STRIPE_PORT, help="the Stripe emulator")
    run.add_argument("--live-port", type=int, default=DEFAULT_LIVE_PORT, help="the WebSocket API (live status)")
    run.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="where the JWT signing key is kept")
    run.add_argument("--log-level", default="WARNING", help="the handlers' POWERTOOLS_LOG_LEVEL (default WARNING)")
    run.add_argument("--schedule-seconds", type=float, default=60.0,
                     help="run the template's schedules (the reconciler) this often (default 60)")
    run.set_defaults(func=serve)

    mint = commands.add_parser("token", help="print a signed token for the local stack's JWT authorizer")
    mint.add_argument("--user", required=True, type=_user_id, help="the user id (the token's sub)")
    mint.add_argument("--admin", action="store_true", help="put the user in the admin group")
    mint.add_argument("--ttl", type=int, default=12 * 3600, help="seconds until it expires (default 12 h)")
    mint.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR))
    mint.set_defaults(func=token)

    env = commands.add_parser("env-file", help="print env.local.json for sam local --env-vars")
    env.add_argument("--template", default=str(TEMPLATE))
    env.add_argument("--docker-host", default=DOCKER_HOST, help="the host as a container reaches it")
    env.set_defaults(func=env_file)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

"""Configuration: one validated object, read from the environment once per container.

Table names come from the template (``ORDERS_TABLE_NAME`` ...); outside AWS they default to the tables'
logical ids, which is what the tests and the local stack create.

Stripe credentials are read only when first needed, and a function can read only what it uses:

- the API keys (``STRIPE_SECRET_KEY``, ``STRIPE_PUBLISHABLE_KEY``, else the secret ``STRIPE_SECRET_ARN``
  holding ``{"secretKey", "publishableKey"}``): the functions that call Stripe;
- one webhook endpoint's signing secret (``STRIPE_WEBHOOK_SECRET_<ENDPOINT>`` or ``STRIPE_WEBHOOK_SECRET``,
  else the secret ``STRIPE_WEBHOOK_SECRET_ARN``, holding ``whsec_...`` or ``{"signingSecret": "whsec_..."}``):
  that endpoint's callback only.

Secrets come through Powertools' parameters utility, cached for the container's life. A callback whose
signature check fails may re-read its signing secret (``refresh=True``), at most once a minute, so a rotated
secret takes effect without waiting for new containers. No value read here is ever logged.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from payments.core import aws
from payments.core.errors import ConfigurationError, UpstreamUnavailable

MAX_METRICS_SHARDS = 10  # with 366 days, one Query page (1 MB) holds every shard of every day (README "The numbers")
SECRET_REFRESH_SECONDS = 60.0  # a signing secret is re-read at most this often (a flood of bad signatures
#                                cannot turn into a flood of Secrets Manager calls)


@dataclass(frozen=True)
class Settings:
    orders_table: str = "OrdersTable"
    payments_table: str = "PaymentsTable"
    recurring_payments_table: str = "RecurringPaymentsTable"
    refunds_table: str = "RefundsTable"
    processed_events_table: str = "ProcessedEventsTable"
    customers_table: str = "CustomersTable"
    idempotency_table: str = "IdempotencyTable"
    entitlements_table: str = "EntitlementsTable"
    reconcile_table: str = "ReconcileTable"
    region: str = "us-east-1"
    stripe_api_base: str | None = None
    stripe_secret_arn: str | None = None
    stripe_webhook_secret_arn: str | None = None
    stripe_livemode: bool = False
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2
    processed_event_ttl_days: int = 30
    max_checkout_attempts: int = 20
    # Where a hosted Checkout may send the customer back to: https origins (plus http on loopback).
    redirect_origins: frozenset[str] = frozenset()
    # The Stripe prices this app sells, by price id or lookup key (catalog orders may name only these).
    sellable_prices: frozenset[str] = frozenset()
    # Events out and live status: the bus and its source, the connections table, the management API of the
    # WebSocket API, and the JWT issuer its authorizer trusts (the HTTP API's), with where its keys are.
    event_bus_name: str = "default"
    event_source: str = "payments"
    live_connections_table: str = "LiveConnectionsTable"
    live_management_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audiences: frozenset[str] = frozenset()
    jwt_jwks_url: str | None = None  # default: <issuer>/.well-known/jwks.json, then OpenID discovery
    # Reconciliation and EventBridge ingress (payments.reconcile, payments.webhooks.pipeline)
    stuck_after_minutes: int = 30
    stripe_event_source: str | None = None  # the partner event source Stripe's EventBridge events come from
    # Marketplace, usage, attempt limits and privacy: the tables, the platform's fee on catalog orders (basis
    # points), where sellers return from onboarding, the limit on payment attempts per user and window, and the
    # secret holding the key of erased users' pseudonyms.
    sellers_table: str = "SellersTable"
    usage_table: str = "UsageTable"
    payment_attempts_table: str = "PaymentAttemptsTable"
    platform_fee_bps: int = 0
    seller_return_url: str | None = None
    payment_attempts_per_window: int = 10
    payment_attempt_window_minutes: int = 15
    pseudonym_secret_arn: str | None = None
    # The numbers: the table of daily aggregates, and how many shards each day's counters are spread over.
    metrics_table: str = "MetricsTable"
    metrics_shards: int = 8
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)

        def text(name: str, default: str | None) -> str | None:
            value = env.get(name, "").strip()
            return value or default

        def number(name: str, default: float, low: float, high: float) -> float:
            raw = text(name, None)
            if raw is None:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number") from None
            if not low <= value <= high:
                raise ConfigurationError(f"{name} must be between {low} and {high}")
            return value

        def words(name: str) -> frozenset[str]:
            return frozenset(w for w in (text(name, "") or "").replace(",", " ").split() if w)

        api_base = text("STRIPE_API_BASE", None)
        if api_base is not None and urlsplit(api_base).scheme not in ("http", "https"):
            raise ConfigurationError("STRIPE_API_BASE must be an http(s) URL")
        livemode = (text("STRIPE_LIVEMODE", "false") or "").lower()
        if livemode not in ("true", "false"):
            raise ConfigurationError("STRIPE_LIVEMODE must be true or false")
        defaults = cls()
        return cls(
            orders_table=text("ORDERS_TABLE_NAME", defaults.orders_table) or "",
            payments_table=text("PAYMENTS_TABLE_NAME", defaults.payments_table) or "",
            recurring_payments_table=text("RECURRING_PAYMENTS_TABLE_NAME", defaults.recurring_payments_table)
            or "",
            refunds_table=text("REFUNDS_TABLE_NAME", defaults.refunds_table) or "",
            processed_events_table=text("PROCESSED_EVENTS_TABLE_NAME", defaults.processed_events_table) or "",
            customers_table=text("CUSTOMERS_TABLE_NAME", defaults.customers_table) or "",
            idempotency_table=text("IDEMPOTENCY_TABLE_NAME", defaults.idempotency_table) or "",
            entitlements_table=text("ENTITLEMENTS_TABLE_NAME", defaults.entitlements_table) or "",
            reconcile_table=text("RECONCILE_TABLE_NAME", defaults.reconcile_table) or "",
            region=text("AWS_REGION", None) or text("AWS_DEFAULT_REGION", defaults.region) or "",
            stripe_api_base=api_base.rstrip("/") if api_base else None,
            stripe_secret_arn=text("STRIPE_SECRET_ARN", None),
            stripe_webhook_secret_arn=text("STRIPE_WEBHOOK_SECRET_ARN", None),
            stripe_livemode=livemode == "true",
            stripe_timeout_seconds=number("STRIPE_TIMEOUT_SECONDS", defaults.stripe_timeout_seconds, 1, 60),
            stripe_max_network_retries=int(
                number("STRIPE_MAX_NETWORK_RETRIES", defaults.stripe_max_network_retries, 0, 5)),
            processed_event_ttl_days=int(
                number("PROCESSED_EVENT_TTL_DAYS", defaults.processed_event_ttl_days, 3, 365)),
            max_checkout_attempts=int(number("MAX_CHECKOUT_ATTEMPTS", defaults.max_checkout_attempts, 1, 100)),
            redirect_origins=frozenset(_origin(o) for o in words("ALLOWED_REDIRECT_ORIGINS")),
            sellable_prices=words("SELLABLE_PRICES"),
            event_bus_name=text("EVENT_BUS_NAME", defaults.event_bus_name) or "",
            event_source=text("EVENT_SOURCE", defaults.event_source) or "",
            live_connections_table=text("LIVE_CONNECTIONS_TABLE_NAME", defaults.live_connections_table) or "",
            live_management_url=text("LIVE_MANAGEMENT_URL", None),
            jwt_issuer=text("JWT_ISSUER", None),
            jwt_audiences=words("JWT_AUDIENCE"),
            jwt_jwks_url=text("JWT_JWKS_URL", None),
            stuck_after_minutes=int(number("STUCK_AFTER_MINUTES", defaults.stuck_after_minutes, 5, 7 * 24 * 60)),
            stripe_event_source=text("STRIPE_EVENT_SOURCE_NAME", None),
            sellers_table=text("SELLERS_TABLE_NAME", defaults.sellers_table) or "",
            usage_table=text("USAGE_TABLE_NAME", defaults.usage_table) or "",
            payment_attempts_table=text("PAYMENT_ATTEMPTS_TABLE_NAME", defaults.payment_attempts_table) or "",
            platform_fee_bps=int(number("PLATFORM_FEE_BPS", defaults.platform_fee_bps, 0, 10_000)),
            seller_return_url=text("SELLER_RETURN_URL", None),
            payment_attempts_per_window=int(
                number("PAYMENT_ATTEMPTS_PER_WINDOW", defaults.payment_attempts_per_window, 1, 1000)),
            payment_attempt_window_minutes=int(
                number("PAYMENT_ATTEMPT_WINDOW_MINUTES", defaults.payment_attempt_window_minutes, 1, 1440)),
            pseudonym_secret_arn=text("PSEUDONYM_SECRET_ARN", None),
            metrics_table=text("METRICS_TABLE_NAME", defaults.metrics_table) or "",
            metrics_shards=int(number("METRICS_SHARDS", defaults.metrics_shards, 1, MAX_METRICS_SHARDS)),
            environ=env,
        )

    # --- Stripe credentials: read lazily, cached, never logged -------------------------------------

    def stripe_secret_key(self) -> str:
        return self._credential("STRIPE_SECRET_KEY", self.stripe_secret_arn, "STRIPE_SECRET_ARN", "secretKey",
                                ("sk_", "rk_"))

    def stripe_publishable_key(self) -> str:
        return self._credential("STRIPE_PUBLISHABLE_KEY", self.stripe_secret_arn, "STRIPE_SECRET_ARN",
                                "publishableKey", ("pk_",))

    def stripe_webhook_secret(self, endpoint: str, *, refresh: bool = False) -> str:
        """The signing secret of ``endpoint``'s Stripe webhook endpoint. ``refresh`` re-reads it from Secrets
        Manager (at most once a minute; a secret set in the environment has nothing to re-read)."""
        if not endpoint.isidentifier():
            raise ConfigurationError(f"unknown webhook endpoint '{endpoint}'")
        # STRIPE_WEBHOOK_SECRET_<ENDPOINT> lets several callbacks share one process (the local stack, tests)
        # while each still accepts only its own endpoint's signatures.
        specific = f"STRIPE_WEBHOOK_SECRET_{endpoint.upper()}"
        name = specific if self.environ.get(specific, "").strip() else "STRIPE_WEBHOOK_SECRET"
        return self._credential(name, self.stripe_webhook_secret_arn, "STRIPE_WEBHOOK_SECRET_ARN", "signingSecret",
                                ("whsec_",), refresh=refresh)

    def pseudonym_key(self) -> str:
        """The key erased users' pseudonyms are derived with (``PSEUDONYM_KEY``, else the secret
        ``PSEUDONYM_SECRET_ARN`` holding ``{"key": ...}``): the privacy function's alone."""
        key = self._credential("PSEUDONYM_KEY", self.pseudonym_secret_arn, "PSEUDONYM_SECRET_ARN", "key", ("",))
        if len(key) < 32:
            raise ConfigurationError("the pseudonym key must be at least 32 characters")
        return key

    def _credential(self, env_name: str, arn: str | None, arn_name: str, key: str, prefixes: tuple[str, ...],
                    *, refresh: bool = False) -> str:
        value: Any = self.environ.get(env_name, "").strip() or None
        source = env_name
        if value is None:
            if not arn:
                raise ConfigurationError(f"{env_name} is not set and no {arn_name} is configured")
            value = _secrets.get(arn, self.region, refresh=refresh)
            if isinstance(value, dict):
                value = value.get(key)
            source = f"the secret {arn_name} ({key})"
        if not isinstance(value, str) or not value.startswith(prefixes):
            raise ConfigurationError(f"{source} is missing or is not a key of the expected kind")
        return value


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
        raise ConfigurationError("ALLOWED_REDIRECT_ORIGINS must list origins such as https://app.example.com")
    return f"{parts.scheme}://{parts.netloc.lower()}"


class _Secrets:
    """Secrets Manager values by ARN, cached for the container's life; JSON objects are decoded."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, arn: str, region: str, *, refresh: bool = False) -> Any:
        with self._lock:
            cached = self._values.get(arn)
            stale = refresh and cached is not None and time.monotonic() - cached[0] >= SECRET_REFRESH_SECONDS
            if cached is not None and not stale:
                return cached[1]
        value = _fetch(arn, region)
        with self._lock:
            self._values[arn] = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


def _fetch(arn: str, region: str) -> Any:
    """One read through Powertools' parameters utility (imported lazily), with a client from the container's one
    botocore session: a session of its own would cost ~100 ms of a cold start."""
    import json

    from aws_lambda_powertools.utilities import parameters

    provider = parameters.SecretsProvider(boto3_client=aws.client("secretsmanager", region))
    try:
        raw = provider.get(arn, force_fetch=True)
    except parameters.exceptions.GetParameterError as error:
        raise UpstreamUnavailable("could not read a secret; try again shortly") from error
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, dict):
        return raw
    text = (raw or "").strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            raise ConfigurationError("a secret is not valid JSON") from None
        if not isinstance(value, dict):
            raise ConfigurationError("a secret must be a JSON object or a plain key")
        return value
    return text


_secrets = _Secrets()


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings and secrets (tests, and the local stack after it changes env)."""
    get_settings.cache_clear()
    _secrets.clear()

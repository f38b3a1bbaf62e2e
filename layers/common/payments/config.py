"""Configuration: one validated object, read from the environment once per container.

Table names come from the template (``ORDERS_TABLE_NAME`` ...); outside AWS they default to the
tables' logical ids, which is what the tests and the local stack create. Stripe credentials are read
only when first needed: an environment variable that is set wins (``STRIPE_SECRET_KEY``,
``STRIPE_PUBLISHABLE_KEY``, ``STRIPE_WEBHOOK_SECRET``, or ``STRIPE_WEBHOOK_SECRET_<ENDPOINT>`` first);
otherwise they come from the one Secrets
Manager secret named by ``STRIPE_SECRET_ARN``, fetched once through Powertools' parameters utility and
cached for the container's life. No value read here is ever logged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from payments.errors import ConfigurationError, UpstreamUnavailable

WEBHOOK_ENDPOINTS = ("payment", "refund", "subscription", "renewal")


@dataclass(frozen=True)
class Settings:
    orders_table: str = "OrdersTable"
    payments_table: str = "PaymentsTable"
    recurring_payments_table: str = "RecurringPaymentsTable"
    refunds_table: str = "RefundsTable"
    processed_events_table: str = "ProcessedEventsTable"
    customers_table: str = "CustomersTable"
    region: str = "us-east-1"
    stripe_api_base: str | None = None
    stripe_secret_arn: str | None = None
    stripe_timeout_seconds: float = 10.0
    stripe_max_network_retries: int = 2
    processed_event_ttl_days: int = 30
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

        api_base = text("STRIPE_API_BASE", None)
        if api_base is not None and urlparse(api_base).scheme not in ("http", "https"):
            raise ConfigurationError("STRIPE_API_BASE must be an http(s) URL")
        defaults = cls()
        return cls(
            orders_table=text("ORDERS_TABLE_NAME", defaults.orders_table) or "",
            payments_table=text("PAYMENTS_TABLE_NAME", defaults.payments_table) or "",
            recurring_payments_table=text("RECURRING_PAYMENTS_TABLE_NAME", defaults.recurring_payments_table)
            or "",
            refunds_table=text("REFUNDS_TABLE_NAME", defaults.refunds_table) or "",
            processed_events_table=text("PROCESSED_EVENTS_TABLE_NAME", defaults.processed_events_table) or "",
            customers_table=text("CUSTOMERS_TABLE_NAME", defaults.customers_table) or "",
            region=text("AWS_REGION", None) or text("AWS_DEFAULT_REGION", defaults.region) or "",
            stripe_api_base=api_base.rstrip("/") if api_base else None,
            stripe_secret_arn=text("STRIPE_SECRET_ARN", None),
            stripe_timeout_seconds=number("STRIPE_TIMEOUT_SECONDS", defaults.stripe_timeout_seconds, 1, 60),
            stripe_max_network_retries=int(
                number("STRIPE_MAX_NETWORK_RETRIES", defaults.stripe_max_network_retries, 0, 5)
            ),
            processed_event_ttl_days=int(
                number("PROCESSED_EVENT_TTL_DAYS", defaults.processed_event_ttl_days, 3, 365)
            ),
            environ=env,
        )

    # --- Stripe credentials: read lazily, cached, never logged -------------------------------------

    def stripe_secret_key(self) -> str:
        return self._credential("STRIPE_SECRET_KEY", ("secretKey",), ("sk_", "rk_"))

    def stripe_publishable_key(self) -> str:
        return self._credential("STRIPE_PUBLISHABLE_KEY", ("publishableKey",), ("pk_",))

    def stripe_webhook_secret(self, endpoint: str) -> str:
        if endpoint not in WEBHOOK_ENDPOINTS:
            raise ConfigurationError(f"unknown webhook endpoint '{endpoint}'")
        # STRIPE_WEBHOOK_SECRET_<ENDPOINT> lets several callbacks share one process (the local stack, tests)
        # while each still accepts only its own endpoint's signatures.
        specific = f"STRIPE_WEBHOOK_SECRET_{endpoint.upper()}"
        name = specific if self.environ.get(specific, "").strip() else "STRIPE_WEBHOOK_SECRET"
        return self._credential(name, ("webhookSecrets", endpoint), ("whsec_",))

    def _credential(self, env_name: str, path: tuple[str, ...], prefixes: tuple[str, ...]) -> str:
        value: Any = self.environ.get(env_name, "").strip() or None
        source = env_name
        if value is None:
            if not self.stripe_secret_arn:
                raise ConfigurationError(f"{env_name} is not set and no STRIPE_SECRET_ARN is configured")
            value = _stripe_secret(self.stripe_secret_arn)
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            source = "the Stripe secret's " + ".".join(path)
        if not isinstance(value, str) or not value.startswith(prefixes):
            raise ConfigurationError(f"{source} is missing or is not a key of the expected kind")
        return value


@functools.cache
def _stripe_secret(arn: str) -> dict[str, Any]:
    """The Stripe secret's JSON, fetched once per container through Powertools' parameters utility (imported
    lazily), with a client from the one botocore session the tables already use: a session of its own
    would cost ~100 ms of a cold start."""
    from aws_lambda_powertools.utilities import parameters

    from payments import store

    session = store.connection().session
    provider = parameters.SecretsProvider(boto3_client=session.create_client("secretsmanager", region_name=
                                                                            get_settings().region))
    try:
        value = provider.get(arn, transform="json", max_age=365 * 24 * 3600)
    except parameters.exceptions.TransformParameterError:
        raise ConfigurationError("the Stripe secret is not valid JSON") from None
    except parameters.exceptions.GetParameterError as error:
        raise UpstreamUnavailable("could not read the Stripe secret; try again shortly") from error
    if not isinstance(value, dict):
        raise ConfigurationError("the Stripe secret must be a JSON object")
    return value


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env()


def reset_settings() -> None:
    """Forget the cached settings and secret (tests, and the local stack after it changes env)."""
    get_settings.cache_clear()
    _stripe_secret.cache_clear()

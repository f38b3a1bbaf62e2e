"""Which Stripe events each callback handles: the one map, from which everything else is derived.

Each Stripe webhook endpoint of the product (one callback function, one Function URL, one signing secret) is an
``EndpointSpec``: its name (``payment``), the callback's logical id in ``template.yaml``, and where its rules live
(``payments.checkout.events:PAYMENT_RULES``; an endpoint may take the rules of several capabilities). The event
types an endpoint handles are the keys of its rules, so they are written exactly once, next to what each type
does. Derived from this map, and checked against it by the tests:

- each callback's ``WebhookEndpoint`` (``webhook_endpoint(name)``);
- the reconciler's event types and the rules it applies each listed event with (``payments.reconcile``; the
  platform endpoints only: Stripe lists the platform's own events);
- the endpoints registered at Stripe with their ``enabled_events`` (``payments.webhooks.registration``, the
  stack's custom resource and ``make dev``), the Connect one with ``connect=true``;
- the template's EventBridge rules, one per platform callback, routing these types by ``detail-type``
  (``tests/unit/test_webhook_endpoints_map.py`` compares them);
- the local stack's one forwarding route for ``stripe listen`` and ``make trigger``.

A capability's rules are imported only when asked for, so a callback imports only its own.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from payments.webhooks.pipeline import EventRule, WebhookEndpoint


@dataclass(frozen=True)
class EndpointSpec:
    name: str  # payment | refund | ... : the ledger's endpoint, STRIPE_WEBHOOK_SECRET_<NAME>
    function: str  # the callback's logical id in template.yaml
    rules_paths: tuple[str, ...]  # "module:ATTRIBUTE" of each of its rules by event type
    # A Connect endpoint: it receives the connected accounts' events (each with ``account``), not the platform's.
    # Stripe's event list (``GET /v1/events``) and a platform's EventBridge destination hold the platform's own
    # events only, so the reconciler and the EventBridge rules take the platform endpoints (``PLATFORM``).
    connect: bool = False

    def rules(self) -> Mapping[str, EventRule[Any]]:
        rules: dict[str, EventRule[Any]] = {}
        for path in self.rules_paths:
            module_name, _, attribute = path.partition(":")
            part: Mapping[str, EventRule[Any]] = getattr(importlib.import_module(module_name), attribute)
            if set(part) & set(rules):
                raise ValueError(f"{self.name}: event types with two rules: {sorted(set(part) & set(rules))}")
            rules.update(part)
        return rules

    def event_types(self) -> tuple[str, ...]:
        """The event types this endpoint handles, sorted (as registered at Stripe and routed by EventBridge)."""
        return tuple(sorted(self.rules()))

    @property
    def folder(self) -> str:
        """The callback's folder under ``functions/``."""
        return f"{self.name}_callback"


ENDPOINTS: tuple[EndpointSpec, ...] = (
    EndpointSpec("payment", "PaymentCallbackFunction", ("payments.checkout.events:PAYMENT_RULES",)),
    EndpointSpec("refund", "RefundCallbackFunction", ("payments.refunds.events:REFUND_RULES",)),
    EndpointSpec("subscription", "SubscriptionCallbackFunction",
                 ("payments.subscriptions.events:SUBSCRIPTION_RULES",
                  "payments.billing.entitlements:ENTITLEMENT_RULES")),
    EndpointSpec("renewal", "RenewalCallbackFunction", ("payments.subscriptions.renewals:RENEWAL_RULES",)),
    EndpointSpec("connect", "ConnectCallbackFunction", ("payments.sellers.events:CONNECT_RULES",), connect=True),
)
NAMES: tuple[str, ...] = tuple(spec.name for spec in ENDPOINTS)
PLATFORM: tuple[EndpointSpec, ...] = tuple(spec for spec in ENDPOINTS if not spec.connect)
# Callbacks outside this map: event destinations with thin payloads, whose events are read whole from Stripe's v2
# API by their own endpoint (``usage``: the Billing Meters' error reports, ``payments.usage.errors``). Stripe's v1
# webhook endpoint API cannot create them, so the registration leaves them to the README's one manual step.
THIN_DESTINATIONS: tuple[str, ...] = ("usage",)


def spec(name: str) -> EndpointSpec:
    for candidate in ENDPOINTS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no webhook endpoint named {name!r}")


@functools.cache
def webhook_endpoint(name: str) -> WebhookEndpoint:
    """The ``WebhookEndpoint`` of the callback ``name`` with its rules (one per container)."""
    from payments.webhooks.pipeline import WebhookEndpoint

    found = spec(name)
    return WebhookEndpoint(name, found.rules(), connected_accounts=found.connect)


def event_types(*, platform_only: bool = False) -> dict[str, tuple[str, ...]]:
    """``{endpoint name: its event types}`` for every endpoint (``platform_only``: not the Connect endpoint)."""
    return {endpoint.name: endpoint.event_types() for endpoint in (PLATFORM if platform_only else ENDPOINTS)}


def endpoint_for(event_type: str, *, platform_only: bool = False) -> str | None:
    """The name of the endpoint that handles ``event_type`` (None: no callback handles it)."""
    for name, types in event_types(platform_only=platform_only).items():
        if event_type in types:
            return name
    return None

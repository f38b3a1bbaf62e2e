"""The product's webhook endpoints at Stripe, set up without the Dashboard: ``sync`` and ``remove``.

Used by the stack's custom resource (``WebhookRegistrationFunction``, ``RegisterStripeWebhooks=true``) and by the
local stack (``make dev``) against the emulator, so both register exactly the same way:

- one endpoint per callback (``payments.webhooks.endpoints``; the Connect callback's with ``connect=true``): its
  Function URL, exactly the event types its rules handle, and ``api_version`` = the version the stripe SDK pins
  (``stripe.api_version``), so the payloads have the shapes the typed views read;
- each endpoint carries metadata ``{"stack": <stack id>, "endpoint": <name>}``. The endpoints of a stack are
  found by that metadata, so an update or a delete needs no state of its own, and a create cut short leaves
  nothing behind that a delete would not find;
- ``sync`` creates what is missing, updates a URL or an event list in place (the signing secret stays), and
  replaces an endpoint whose API version differs (Stripe cannot change it: the new endpoint has a new secret);
  it returns the signing secrets of the endpoints it created, which Stripe shows only once. Endpoints of the
  stack that are no longer wanted are deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from payments.core.observability import logger
from payments.stripe import api as stripe_api
from payments.stripe.objects import StripeWebhookEndpoint
from payments.webhooks import endpoints


def pinned_api_version() -> str:
    """The API version the stripe SDK pins: the one written place the product's Stripe version comes from."""
    import stripe

    return str(stripe.api_version)


@dataclass(frozen=True)
class Wanted:
    name: str  # the endpoint (payment, refund, ...)
    url: str
    events: tuple[str, ...]
    connect: bool = False  # a Connect endpoint (the connected accounts' events)


def wanted(urls: Mapping[str, str]) -> list[Wanted]:
    """What should be registered for the callbacks' ``urls`` (``{endpoint name: URL}``)."""
    types = endpoints.event_types()
    unknown = set(urls) - set(types)
    if unknown:
        raise ValueError(f"no such webhook endpoints: {sorted(unknown)}")
    return [Wanted(name, urls[name], types[name], endpoints.spec(name).connect)
            for name in endpoints.NAMES if name in urls]


def registered(stack: str) -> dict[str, list[StripeWebhookEndpoint]]:
    """The endpoints at Stripe that belong to ``stack``, by endpoint name."""
    found: dict[str, list[StripeWebhookEndpoint]] = {}
    for endpoint in stripe_api.list_webhook_endpoints():
        if endpoint.metadata.get("stack") == stack:
            found.setdefault(endpoint.metadata.get("endpoint", ""), []).append(endpoint)
    return found


@dataclass(frozen=True)
class Synced:
    ids: dict[str, str]  # endpoint name -> we_...
    secrets: dict[str, str]  # endpoint name -> whsec_..., for the endpoints created now


def sync(stack: str, wanted_endpoints: Iterable[Wanted], *, request_id: str) -> Synced:
    """Make Stripe hold exactly ``wanted_endpoints`` for ``stack`` (see the module doc). ``request_id`` (one per
    CloudFormation request) makes the creates' idempotency keys: a retried call gets the same endpoint back,
    and a later request never gets an endpoint deleted since."""
    version = pinned_api_version()
    existing = registered(stack)
    ids: dict[str, str] = {}
    secrets: dict[str, str] = {}
    stale: list[StripeWebhookEndpoint] = []
    for want in wanted_endpoints:
        current = existing.pop(want.name, [])
        keep = next((e for e in current if e.api_version == version), None)
        stale += [e for e in current if e is not keep]
        if keep is None:
            created = stripe_api.create_webhook_endpoint(
                url=want.url, events=want.events, api_version=version,
                metadata={"stack": stack, "endpoint": want.name},
                description=f"{want.name} callback of {stack}",
                idempotency_key=f"webhook-endpoint:{request_id}:{want.name}", connect=want.connect)
            if not created.secret:
                raise RuntimeError(f"Stripe did not return the signing secret of the new {want.name} endpoint")
            ids[want.name], secrets[want.name] = created.id, created.secret
            logger.info("webhook endpoint created", extra={"endpoint": want.name, "id": created.id})
        elif keep.url != want.url or keep.enabled_events != tuple(sorted(want.events)):
            ids[want.name] = stripe_api.update_webhook_endpoint(keep.id, url=want.url, events=want.events).id
            logger.info("webhook endpoint updated", extra={"endpoint": want.name, "id": keep.id})
        else:
            ids[want.name] = keep.id
    for leftover in [*stale, *(e for group in existing.values() for e in group)]:
        _delete(leftover)
    return Synced(ids=ids, secrets=secrets)


def remove(stack: str) -> list[str]:
    """Delete every endpoint of ``stack``; their ids."""
    gone = [e for group in registered(stack).values() for e in group]
    for endpoint in gone:
        _delete(endpoint)
    return [e.id for e in gone]


def _delete(endpoint: StripeWebhookEndpoint) -> None:
    from payments.stripe.client import StripeResourceMissing

    try:
        stripe_api.delete_webhook_endpoint(endpoint.id)
    except StripeResourceMissing:
        pass
    logger.info("webhook endpoint deleted", extra={"id": endpoint.id})


# --- the stack's custom resource (Custom::StripeWebhooks; the function wires it with crhelper) ----------------


def physical_id(stack_id: str) -> str:
    """One id for the resource's life: an update never makes CloudFormation delete "the old" endpoints."""
    return f"stripe-webhooks:{stack_id.rsplit('/', 1)[-1]}"


def create_or_update(request: Mapping[str, object]) -> tuple[str, dict[str, str]]:
    """A Create or Update request: the endpoints of ``Endpoints`` (``{name: {"Url", "SecretArn"}}``) at Stripe,
    and the signing secret of each one created now written into its callback's secret as
    ``{"signingSecret": "whsec_..."}``. Answers the physical id and ``{"<Name>EndpointId": "we_..."}``."""
    stack_id = str(request["StackId"])
    properties = request.get("ResourceProperties")
    declared = properties.get("Endpoints") if isinstance(properties, Mapping) else None
    if not isinstance(declared, Mapping) or not declared:
        raise ValueError("Endpoints: give {name: {Url, SecretArn}} for the callbacks")
    urls, secret_arns = {}, {}
    for name, entry in declared.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("Url"), str) or not entry.get("SecretArn"):
            raise ValueError(f"Endpoints.{name}: give Url and SecretArn")
        urls[str(name)], secret_arns[str(name)] = str(entry["Url"]), str(entry["SecretArn"])
    synced = sync(stack_id, wanted(urls), request_id=str(request["RequestId"]))
    for name, secret in synced.secrets.items():
        write_signing_secret(secret_arns[name], secret)
    return physical_id(stack_id), {f"{name.capitalize()}EndpointId": id_ for name, id_ in synced.ids.items()}


def delete(request: Mapping[str, object]) -> None:
    """A Delete request: every endpoint of the stack at Stripe goes (their secrets go with the stack).

    Without a usable API key (the secret deleted or never filled in, a revoked key) there is nothing this can
    remove, and failing would leave the stack unable to roll back or be deleted: it is logged and answered as
    done. (A Stripe that cannot be reached is a failure: trying the delete again can succeed.)"""
    from payments.core.errors import ConfigurationError, UpstreamError

    try:
        remove(str(request["StackId"]))
    except (ConfigurationError, UpstreamError) as error:
        if isinstance(error, UpstreamError) and error.code != "stripe_misconfigured":
            raise
        logger.error("could not delete the webhook endpoints at Stripe: no usable API key; delete them in the "
                     "Dashboard", extra={"code": error.code})


def write_signing_secret(secret_arn: str, signing_secret: str) -> None:
    """Put ``{"signingSecret": ...}`` into the callback's secret (the callback reads it on its next miss)."""
    import json

    from payments.core import aws
    from payments.core.config import get_settings

    client = aws.client("secretsmanager", get_settings().region)
    client.put_secret_value(SecretId=secret_arn, SecretString=json.dumps({"signingSecret": signing_secret}))

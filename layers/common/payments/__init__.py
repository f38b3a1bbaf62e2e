"""The payments backend's shared package, shipped as the `CommonLayer` Lambda layer.

- ``core``: the small shared core: settings and credentials, errors (and their HTTP mapping in ``http``), money,
  identity, ids, clock, the state machines (``lifecycle``), request validation, retries on conflict,
  client idempotency, observability, and the one AWS session of a container (``aws``).
- ``data``: the pynamodb models, the store, and one repository per aggregate (the only code that builds
  DynamoDB expressions).
- ``stripe``: the adapter, the only code that calls Stripe; its answers are typed ``Stripe*`` views.
- ``record_first``: the API side's one flow for anything created at Stripe (reserve, call with the idempotency
  key, record, release on failure).
- ``webhooks``: the one pipeline every Stripe callback runs (verify, screen, locate, link, claim + apply).
- One package per capability, each with its API module and its event rules: ``orders``, ``checkout``,
  ``refunds``, ``subscriptions``.
"""

from payments.core import coldstart

coldstart.pause()  # in Lambda only, until the first event is answered (payments.core.coldstart)


def reset_caches() -> None:
    """Forget every per-container cache (settings, secrets, table bindings, clients), so the next call reads the
    current environment. For tests and the local stack; Lambda never needs it. Only modules already imported are
    touched, so calling it costs no import."""
    import sys

    for module_name, function_name in (("payments.core.config", "reset_settings"), ("payments.data.store", "reset"),
                                       ("payments.core.aws", "reset"), ("payments.stripe.client", "reset"),
                                       ("payments.core.idempotency", "reset"),
                                       ("payments.events.consumer", "reset"), ("payments.live.auth", "reset")):
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, function_name)()

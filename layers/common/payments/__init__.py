"""The payments backend's shared package, shipped as the `CommonLayer` Lambda layer.

Modules, by what they are:

- ``config``: the one validated settings object, and Stripe credentials (env first, then Secrets Manager).
- ``errors``: the exception hierarchy; ``http`` maps it to the contract's error JSON in one place.
- ``money``: the currency table and amount validation (integer minor units only).
- ``identity``: the caller, from the HTTP API's JWT claims.
- ``models``: pynamodb models for every table; ``store``: reads and transactions over them.
- ``stripe_gateway``: the only module that talks to Stripe.
- ``webhooks``: the shared pipeline every Stripe callback runs (verify, claim + apply in one transaction).
- ``orders``, ``checkout``, ``payment_events``: the domain, one module per capability.
"""


def reset_caches() -> None:
    """Forget every per-container cache (settings, secrets, table bindings, the Stripe client), so the next
    call reads the current environment. For tests and the local stack; Lambda never needs it. Only modules
    already imported are touched, so calling it costs no import."""
    import sys

    for module_name, function_name in (("payments.config", "reset_settings"), ("payments.store", "reset"),
                                       ("payments.stripe_gateway", "reset")):
        module = sys.modules.get(module_name)
        if module is not None:
            getattr(module, function_name)()

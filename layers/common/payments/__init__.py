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

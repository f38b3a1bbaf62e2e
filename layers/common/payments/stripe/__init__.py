"""Stripe, behind one adapter: ``client`` (the SDK client and its errors as ours), ``objects`` (the typed
``Stripe*`` views of Stripe's objects, from an API answer or a webhook payload alike) and ``api`` (every call
the product makes). Nothing else imports the ``stripe`` SDK."""

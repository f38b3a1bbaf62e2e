"""``python -m devstack.lambda_events resign ...``: see :mod:`devstack.lambda_events.stripe_webhooks`."""

from devstack.lambda_events.stripe_webhooks import main

raise SystemExit(main())

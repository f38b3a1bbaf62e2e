"""One-time checkout: starting a payment (``api``) and what Stripe reports about it (``events``)."""

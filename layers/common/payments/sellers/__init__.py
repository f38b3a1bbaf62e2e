"""Sellers of a marketplace (Stripe Connect): ``api`` (become a seller, read it), ``status`` (a connected account's
state as a seller's status), ``events`` (``account.updated``), ``orders`` (an order's seller and the platform's
fee), ``views`` (the JSON)."""

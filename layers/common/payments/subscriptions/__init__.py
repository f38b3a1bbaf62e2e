"""Subscriptions: one Stripe customer per user (``customers``), start / cancel / resume (``api``), the
subscription's lifecycle as Stripe reports it (``events``), and its invoices as orders (``renewals``)."""

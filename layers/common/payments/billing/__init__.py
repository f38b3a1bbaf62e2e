"""Billing beyond a plain subscription: promotion codes, saved payment methods, the customer portal and
entitlements (``promotions``, ``payment_methods``, ``portal``, ``entitlements``)."""

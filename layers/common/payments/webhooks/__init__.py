"""Stripe's events in: the verified event (``event``) and the one pipeline every callback runs (``pipeline``).
Each capability supplies its rules (``payments.checkout.events``, ``payments.refunds.events``, ...)."""

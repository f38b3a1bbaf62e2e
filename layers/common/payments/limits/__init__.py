"""Limits on what one user may do: payment attempts per window (``payments.limits.attempts``)."""

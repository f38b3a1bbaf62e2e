"""Refunds: an admin's refund (``api``), refunds of a second payment for a paid order (``automatic``), and every
refund Stripe reports, ours or made elsewhere (``events``)."""

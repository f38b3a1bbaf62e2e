"""Never out of sync with Stripe: the reconciler (``ReconcileFunction``, on a schedule and ``POST /admin/reconcile``).

``api.reconcile(deadline)`` runs both passes and answers ``{"eventsSeen", "eventsApplied", "stuckSettled",
"checkpoint", "complete"}``:

1. ``events``: Stripe's events since the checkpoint, applied oldest first through each callback's own
   ``WebhookEndpoint`` (the same rules, the same ledger: exactly once with the webhooks);
2. ``stuck`` (only once the events are caught up): payments and refunds pending longer than
   ``StuckAfterMinutes``, settled from what Stripe says about them now.
"""

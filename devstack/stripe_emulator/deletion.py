"""Extension 23: deleting a customer, as Stripe does it.

``DELETE /v1/customers/{id}`` (localstripe's route) first ends every subscription of the customer that has not
ended yet, at once and without proration (``canceled``, ``customer.subscription.deleted``, as a cancel would;
subscriptions on Prices and localstripe's own plan-based ones alike), and detaches its payment methods (they can
no longer be charged); then the customer is deleted (``customer.deleted``) and answers
``{"id", "object": "customer", "deleted": true}``. Deleting it again is Stripe's 404 ``resource_missing``.

Left out: a deleted customer still answering ``GET`` with ``deleted: true`` (here it is a 404, as for any unknown
id), invoices left open by the deletion (Stripe leaves them open, unpaid), and the customer's cash balance.
"""

from __future__ import annotations

from localstripe.resources import Customer, PaymentMethod, Subscription, store

from devstack.stripe_emulator.common import get_or_404


def install() -> None:
    """Wrap ``Customer._api_delete``; the server's route looks it up per request."""
    original_delete = Customer._api_delete.__func__

    def delete(cls, id):
        customer = get_or_404(Customer.object, id, "id")
        for key, subscription in list(store.items()):
            if (key.startswith(f"{Subscription.object}:") and subscription.customer == customer.id
                    and subscription.status not in ("canceled", "incomplete_expired")):
                Subscription._api_delete(subscription.id)  # billing's cancel for subscriptions on Prices
        for key, method in list(store.items()):
            if key.startswith(f"{PaymentMethod.object}:") and method.customer == customer.id:
                method.customer = None
        return original_delete(cls, id)

    Customer._api_delete = classmethod(delete)

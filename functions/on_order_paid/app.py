"""OnOrderPaidFunction: an example of your own logic on a payment event. Copy it, rename it, change ``handle``.

It is an ordinary function in template.yaml with an ``EventBridgeRule`` on ``PaymentsEventBus`` for
``detail-type: OrderPaid``. EventBridge delivers at least once, so ``domain_event_handler`` runs ``handle`` once per
``eventId`` (a repeat answers the first answer again). An exception makes EventBridge deliver it again (see the
rule's ``RetryPolicy``); what keeps failing lands in the rule's dead-letter queue.

``event.detail`` is documented in ``docs/events/OrderPaid.schema.json``: the order as the HTTP API shows it, who
paid, when, and ``causedBy.stripeEventId``, the Stripe event that settled it.
"""

from typing import Any

from payments.core.observability import logger
from payments.events.consumer import DomainEvent, domain_event_handler


def grant_access(user_id: str, order: dict[str, Any]) -> list[str]:
    """Where your app unlocks what was bought (here: logged). Must be safe to run twice for one order."""
    items = [item["priceId"] for item in order.get("items") or []]
    logger.info("access granted", extra={"user_id": user_id, "order_id": order["orderId"], "items": items})
    return items


def send_receipt(user_id: str, order: dict[str, Any]) -> str:
    """Where your app sends its receipt (here: logged), e.g. through Amazon SES."""
    logger.info("receipt sent", extra={"user_id": user_id, "order_id": order["orderId"], "amount": order["amount"],
                                       "currency": order["currency"]})
    return f"receipt-{order['orderId']}"


def handle(event: DomainEvent) -> dict[str, Any]:
    order = event.order or {}
    user_id = str(order["userId"])
    return {"orderId": order["orderId"], "granted": grant_access(user_id, order),
            "receipt": send_receipt(user_id, order)}


lambda_handler = domain_event_handler(handle)

"""The example consumer (functions/on_order_paid): handles an OrderPaid once per eventId, however often
EventBridge delivers it; what it answered the first time is answered again."""

from __future__ import annotations

from devstack.lambda_context import LambdaContext
from devstack.lambda_events import load_event


def test_a_redelivered_order_paid_grants_and_sends_once(aws, on_order_paid_handler, monkeypatch):
    receipts: list[str] = []
    original = on_order_paid_handler.send_receipt

    def counting(user_id, order):
        receipts.append(order["orderId"])
        return original(user_id, order)

    monkeypatch.setattr(on_order_paid_handler, "send_receipt", counting)
    event = load_event("events/on_order_paid/order_paid.json")
    first = on_order_paid_handler.lambda_handler(event, LambdaContext(function_name="OnOrderPaidFunction"))
    again = on_order_paid_handler.lambda_handler(event, LambdaContext(function_name="OnOrderPaidFunction"))
    order_id = event["detail"]["order"]["orderId"]
    assert first == again == {"orderId": order_id, "granted": ["price_1MoBy5LkdIwHu7ixZhnattbh"],
                              "receipt": f"receipt-{order_id}"}
    assert receipts == [event["detail"]["order"]["orderId"]]
    other = {**event, "detail": {**event["detail"], "eventId": "another-event"}}
    on_order_paid_handler.lambda_handler(other, LambdaContext(function_name="OnOrderPaidFunction"))
    assert len(receipts) == 2  # another event is handled

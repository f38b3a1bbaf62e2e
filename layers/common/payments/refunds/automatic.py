"""A second successful payment for an order that is already paid is refunded automatically, so a user never pays
twice for one order (two tabs, a retried checkout, a PaymentIntent paid after it was replaced).

The webhook that reports the second payment reserves the refund in its own transaction (``reserve``): a
``pending`` refund ``ref_auto_<payment>`` of the whole payment, with reason ``duplicate``, its amount reserved
on the payment and listed on the order. The id comes from the payment, so however often the payment is
reported there is one refund. Once that transaction committed, the refund is sent to Stripe with the key
``ref_auto_<payment>:create`` (``RecordFirst.complete``); if Stripe cannot be reached it stays ``pending`` for the
reconciler, which sends it again with the same key. It is counted (``DuplicatePaymentRefunded``).
"""

from __future__ import annotations

from payments.core.errors import ApiError
from payments.core.observability import count, logger
from payments.data.models import OrderRecord, PaymentRecord, RefundRecord
from payments.refunds.api import RefundAtStripe, captured, new_refund


def refund_id_for(payment_id: str) -> str:
    return f"ref_auto_{payment_id.removeprefix('pay_')}"


def reserve(payment: PaymentRecord, order: OrderRecord) -> RefundRecord:
    """The pending refund of ``payment`` (to be saved with the payment and order, which this changes)."""
    refund = new_refund(refund_id_for(payment.payment_id), payment, captured(payment), origin="auto",
                        reason="duplicate", requested_by=None)
    payment.amount_reserved = int(payment.amount_reserved or 0) + int(refund.amount)
    order.refund_ids = [*(order.refund_ids or []), refund.refund_id]
    return refund


def send(refund: RefundRecord, payment_intent_id: str) -> None:
    """After the reservation committed: the refund at Stripe. Never raises (the webhook already succeeded)."""
    try:
        RefundAtStripe(payment_intent_id, keep_pending_when_unavailable=True).complete(refund)
    except ApiError as error:
        logger.error("automatic refund of a duplicate payment failed at Stripe",
                     extra={"refund_id": refund.refund_id, "code": error.code})
        return
    count("DuplicatePaymentRefunded")
    logger.warning("a duplicate payment was refunded", extra={"refund_id": refund.refund_id,
                                                              "payment_id": refund.payment_id})

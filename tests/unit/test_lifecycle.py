"""State only moves forward."""

import pytest

from payments.core.lifecycle import order_may_move, payment_may_move


@pytest.mark.parametrize(("current", "new", "allowed"), [
    ("pending", "succeeded", True), ("pending", "failed", True), ("failed", "succeeded", True),
    ("succeeded", "failed", False), ("succeeded", "canceled", False), ("canceled", "succeeded", False),
    ("failed", "pending", False), ("failed", "canceled", False), ("succeeded", "succeeded", False)])
def test_payment_moves(current, new, allowed):
    assert payment_may_move(current, new) is allowed


@pytest.mark.parametrize(("current", "new", "allowed"), [
    ("pending", "paid", True), ("pending", "amount_mismatch", True), ("paid", "pending", False),
    ("paid", "partially_refunded", True), ("refunded", "paid", False), ("amount_mismatch", "paid", False)])
def test_order_moves(current, new, allowed):
    assert order_may_move(current, new) is allowed

"""State only moves forward: every transition table, every pair of states."""

import itertools

import pytest

from payments.core.lifecycle import (
    ORDER_MOVES,
    PAYMENT_MOVES,
    REFUND_MOVES,
    order_may_move,
    payment_may_move,
    refund_may_move,
)

PAYMENT_ALLOWED = {("pending", "succeeded"), ("pending", "failed"), ("pending", "canceled"), ("failed", "succeeded")}
REFUND_ALLOWED = {("pending", "succeeded"), ("pending", "failed"), ("pending", "canceled"), ("succeeded", "failed")}
ORDER_ALLOWED = {("pending", "paid"), ("pending", "amount_mismatch"), ("paid", "partially_refunded"),
                 ("paid", "refunded"), ("amount_mismatch", "partially_refunded"), ("amount_mismatch", "refunded"),
                 ("partially_refunded", "refunded")}

CASES = [(payment_may_move, PAYMENT_MOVES, PAYMENT_ALLOWED), (refund_may_move, REFUND_MOVES, REFUND_ALLOWED),
         (order_may_move, ORDER_MOVES, ORDER_ALLOWED)]


@pytest.mark.parametrize(("may_move", "table", "allowed"), CASES, ids=["payment", "refund", "order"])
def test_exactly_the_forward_moves_are_allowed(may_move, table, allowed):
    states = set(table) | {"unknown"}
    for current, new in itertools.product(states, repeat=2):
        assert may_move(current, new) is ((current, new) in allowed), (current, new)


@pytest.mark.parametrize(("may_move", "table", "allowed"), CASES, ids=["payment", "refund", "order"])
def test_no_state_moves_to_itself_or_back_to_pending(may_move, table, allowed):
    for state in table:
        assert not may_move(state, state)
        assert not may_move(state, "pending")


def test_final_states_have_no_moves():
    assert PAYMENT_MOVES["succeeded"] == PAYMENT_MOVES["canceled"] == frozenset()
    assert REFUND_MOVES["failed"] == REFUND_MOVES["canceled"] == ORDER_MOVES["refunded"] == frozenset()

"""Payment attempts per user: counted atomically in DynamoDB, exact under concurrency, 429 with Retry-After past the
limit, a 429 never counted, every route that starts a payment sharing one count, and a new window starting afresh."""

from __future__ import annotations

from datetime import timedelta

import pytest

from payments.core import clock
from payments.data import store
from payments.data.models import PaymentAttemptRecord
from tests.support import reset_clients
from tests.support.api import ALICE, BOB, admin_order, call
from tests.support.calls import SerializedRequests
from tests.support.races import race

pytestmark = pytest.mark.emulator


def checkout(handler, order_id, user=ALICE):
    return call(handler, "POST", "/checkout", user=user, body={"orderId": order_id})


def counted(user_id: str) -> list[int]:
    """The attempts counted for ``user_id`` in every window (test-only inspection of the whole table)."""
    store.bind()
    return [int(r.attempts) for r in PaymentAttemptRecord.scan() if r.counter_id.startswith(f"{user_id}#")]


@pytest.fixture
def limit_of(monkeypatch):
    def set_limit(attempts: int, minutes: int = 15) -> None:
        monkeypatch.setenv("PAYMENT_ATTEMPTS_PER_WINDOW", str(attempts))
        monkeypatch.setenv("PAYMENT_ATTEMPT_WINDOW_MINUTES", str(minutes))
        reset_clients()

    return set_limit


def test_sixteen_concurrent_checkouts_exactly_ten_pass_and_the_eleventh_is_429_with_retry_after(
        aws, stripe_env, orders_handler, checkout_handler, limit_of):
    limit_of(10)
    orders = [admin_order(orders_handler)["orderId"] for _ in range(17)]

    # When one user starts 16 checkouts at once
    with SerializedRequests():
        answers = race(16, lambda i: checkout(checkout_handler, orders[i]))

    # Then exactly 10 pass the limit (and pay), the other 6 are refused, and nothing refused was counted
    statuses = sorted(a.status for a in answers)
    assert statuses == [201] * 10 + [429] * 6, statuses
    assert {a.error_code for a in answers if a.status == 429} == {"too_many_attempts"}
    assert counted(ALICE) == [10]

    # And the 11th attempt, one at a time, is a 429 with the seconds until the window ends
    eleventh = checkout(checkout_handler, orders[16])
    assert (eleventh.status, eleventh.error_code) == (429, "too_many_attempts")
    assert 1 <= int(eleventh.headers["Retry-After"]) <= 15 * 60
    assert counted(ALICE) == [10]


def test_another_user_is_unaffected_and_the_next_window_passes_again(aws, stripe_env, orders_handler,
                                                                     checkout_handler, limit_of, monkeypatch):
    limit_of(2, minutes=1)
    alice_orders = [admin_order(orders_handler)["orderId"] for _ in range(3)]
    assert [checkout(checkout_handler, o).status for o in alice_orders] == [201, 201, 429]

    # Bob has a count of his own
    bobs = admin_order(orders_handler, user=BOB)["orderId"]
    assert checkout(checkout_handler, bobs, user=BOB).status == 201

    # A minute later (our clock), Alice's new window starts from nothing
    later = clock.utc_now() + timedelta(minutes=1, seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    assert checkout(checkout_handler, alice_orders[2]).status == 201
    assert sorted(counted(ALICE)) == [1, 2]


def test_every_authenticated_request_counts_even_a_bad_one_and_checkout_and_subscribe_share_the_count(
        aws, stripe_env, checkout_handler, subscribe_handler, limit_of):
    limit_of(3)
    # A malformed checkout and a subscription of an order that does not exist: both are attempts
    assert call(checkout_handler, "POST", "/checkout", body={"orderId": 42}).status == 400
    assert call(subscribe_handler, "POST", "/subscriptions", body={"orderId": "ord_nope", "priceId": "price_1"}
                ).status == 404
    assert call(checkout_handler, "POST", "/checkout", body={}).status == 400
    # The fourth, on either route, is refused before its body is read
    refused = call(subscribe_handler, "POST", "/subscriptions", body={"orderId": "ord_nope", "priceId": "price_1"})
    assert (refused.status, refused.error_code) == (429, "too_many_attempts")
    assert int(refused.headers["Retry-After"]) >= 1
    # Without a token nothing is counted (API Gateway answers first; the function says 401)
    assert call(checkout_handler, "POST", "/checkout", user=None, body={}).status == 401
    assert counted(ALICE) == [3]


def test_saving_a_card_is_an_attempt_too_sharing_the_count_with_checkout(aws, stripe_env, checkout_handler,
                                                                         billing_handler, limit_of):
    limit_of(2)
    assert call(billing_handler, "POST", "/payment-methods/setup").status == 201  # a SetupIntent at the emulator
    assert call(checkout_handler, "POST", "/checkout", body={}).status == 400
    refused = call(billing_handler, "POST", "/payment-methods/setup")
    assert (refused.status, refused.error_code) == (429, "too_many_attempts")
    assert int(refused.headers["Retry-After"]) >= 1
    assert counted(ALICE) == [2]


def test_an_attempt_costs_one_dynamodb_write_and_a_refusal_writes_nothing(aws, stripe_env, checkout_handler,
                                                                           ddb_calls, limit_of):
    limit_of(1)
    ddb_calls.reset()
    assert call(checkout_handler, "POST", "/checkout", body={}).status == 400
    assert ddb_calls.operations == ["UpdateItem"]
    ddb_calls.reset()
    assert call(checkout_handler, "POST", "/checkout", body={}).status == 429
    assert ddb_calls.operations == ["UpdateItem"]  # the conditional update that failed: nothing written
    assert counted(ALICE) == [1]


def test_a_refusal_is_not_kept_for_a_retry_with_the_same_idempotency_key(aws, stripe_env, orders_handler,
                                                                        checkout_handler, limit_of, monkeypatch):
    limit_of(1, minutes=1)
    first, second = (admin_order(orders_handler)["orderId"] for _ in range(2))
    assert checkout(checkout_handler, first).status == 201
    retry = {"Idempotency-Key": "pay-second"}
    refused = call(checkout_handler, "POST", "/checkout", body={"orderId": second}, headers=retry)
    assert refused.status == 429
    # After the window, the client's retry with the same key runs (a kept 429 would answer it for 24 hours)
    later = clock.utc_now() + timedelta(minutes=1, seconds=1)
    monkeypatch.setattr(clock, "utc_now", lambda: later)
    again = call(checkout_handler, "POST", "/checkout", body={"orderId": second}, headers=retry)
    assert again.status == 201 and "Idempotent-Replayed" not in again.headers

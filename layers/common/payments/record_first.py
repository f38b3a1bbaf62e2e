"""Record first, then Stripe: the one flow every API call that creates something at Stripe runs.

It is the API side's twin of the webhook pipeline (``payments.webhooks``): one algorithm, small parts per use.

1. **Reserve**: write our ``pending`` record (and whatever it holds: a refund's amount on its payment, an order's
   pointer to its payment) with a condition on what was read. A lost race reads again and decides again
   (``payments.core.retry``); so, of two racing requests, one reserves and the other sees its reservation.
2. **Call Stripe** with an idempotency key derived from our record's id (``<recordId>:<action>``), so a retry
   (ours, the SDK's, a client's, or a crash and a second attempt) finds the same Stripe object instead of making
   a second one. A Stripe event can therefore never name something we have no record of.
3. **Record** Stripe's answer (its id) on our record: one conditional ``UpdateItem``.
4. **Release** on failure: when Stripe refuses or cannot be reached, the record says so and gives back what it
   held, so nothing stays reserved. If even that fails, the record stays ``pending``, which is logged and
   counted (``<Name>ReservationStuck``) for the reconciler and an operator.

A subclass supplies the four parts; ``run()`` is the flow, and ``complete(record)`` finishes a reservation made
earlier (the same key gives back the same Stripe object).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Generic, TypeVar

from payments.core.errors import ApiError, Conflict
from payments.core.observability import count, logger
from payments.core.retry import retry_on_conflict

R = TypeVar("R")  # our record
A = TypeVar("A")  # Stripe's answer (a payments.stripe.objects view)


def busy() -> Conflict:
    return Conflict("the record is being changed by other requests; try again", code="concurrent_update")


class RecordFirst(ABC, Generic[R, A]):
    name: ClassVar[str]  # for logs and metrics: "Checkout", "Refund", ...
    action: ClassVar[str] = "create"  # the idempotency key's suffix

    @abstractmethod
    def reserve(self) -> R:
        """One attempt at writing the pending record; raises ``WriteConflict`` when it lost a race."""

    @abstractmethod
    def record_id(self, record: R) -> str:
        """Our record's id, from which the idempotency key is derived."""

    @abstractmethod
    def call(self, record: R, idempotency_key: str) -> A:
        """The Stripe call, with ``idempotency_key``."""

    @abstractmethod
    def record(self, record: R, answer: A) -> None:
        """Keep Stripe's answer (its id) on our record."""

    @abstractmethod
    def release(self, record: R, error: ApiError) -> None:
        """Stripe did not do it: the record says why, and gives back what it held. May raise ``WriteConflict``."""

    def idempotency_key(self, record: R) -> str:
        return f"{self.record_id(record)}:{self.action}"

    def run(self) -> tuple[R, A]:
        record = retry_on_conflict(self.reserve, busy)
        return record, self.complete(record)

    def complete(self, record: R) -> A:
        try:
            answer = self.call(record, self.idempotency_key(record))
        except ApiError as error:
            self._release(record, error)
            raise
        self.record(record, answer)
        return answer

    def _release(self, record: R, error: ApiError) -> None:
        try:
            retry_on_conflict(lambda: self.release(record, error), busy)
        except Exception:
            # The caller still hears Stripe's error; the record stays pending, which the reconciler settles.
            logger.exception("could not release a reservation", extra={"record": self.record_id(record)})
            count(f"{self.name}ReservationStuck")
            return
        count(f"{self.name}StripeFailed")
        logger.warning("Stripe did not take it; reservation released",
                       extra={"record": self.record_id(record), "code": error.code})

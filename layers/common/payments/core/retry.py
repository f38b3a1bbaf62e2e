"""Read, decide, write; on a lost race, again: the one retry-on-conflict loop of the product.

Every read-decide-write in the product is written as one ``attempt`` function that reads what it needs, decides,
and writes with a condition on what it read (a version, or a status). A ``WriteConflict`` means another
request wrote first; the attempt simply runs again on fresh reads. After ``attempts`` lost races the caller gets
``exhausted()`` (a 409 for the API, a ``TransientFailure`` for a webhook, which Stripe retries).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from payments.core.errors import WriteConflict

T = TypeVar("T")
ATTEMPTS = 5


def retry_on_conflict(attempt: Callable[[], T], exhausted: Callable[[], Exception], *, attempts: int = ATTEMPTS) -> T:
    for _ in range(attempts):
        try:
            return attempt()
        except WriteConflict:
            continue
    raise exhausted()

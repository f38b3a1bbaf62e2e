"""A Lambda container's start-up without the garbage collector's repeated passes over what start-up builds.

Starting a container creates some 80,000 objects that live as long as it does (modules, botocore's service models
and clients, the Stripe SDK's classes). CPython's cyclic collector traverses them again and again while they are
young, and finds almost nothing to free: 10 to 40 ms of a cold start (docs/performance.md). So, in Lambda
(``LAMBDA_TASK_ROOT`` set), the collector is paused from the first import of ``payments`` until the first event
has been answered; then what start-up made is frozen out of later collections (``gc.freeze``: it is the
container's for life, and it held a few dozen collectable objects when measured) and the collector runs as
before. Outside Lambda (tests, the local stack) nothing changes.
"""

from __future__ import annotations

import gc
import os

_paused = False


def pause() -> None:
    """In Lambda: no cyclic collection until ``started()``."""
    global _paused
    if os.environ.get("LAMBDA_TASK_ROOT") and gc.isenabled():
        gc.disable()
        _paused = True


def started() -> None:
    """After an event: if start-up paused the collector, freeze what start-up made and collect as before."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()

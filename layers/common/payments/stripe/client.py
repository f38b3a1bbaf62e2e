"""The one ``StripeClient`` of a container, and Stripe's failures as the product's errors.

The client is created on first use with the key from the settings (``STRIPE_API_BASE`` points it at a local
emulator); the ``stripe`` package is imported only then, so a function that never calls Stripe does not pay for
it. Failures become ``payments.core.errors``: 503 unreachable or rate-limited, 502 broken or misconfigured,
422 ``stripe_rejected`` refused, ``StripeResourceMissing`` (404) for an unknown id. Messages never carry a key.

``STRIPE_API_VERSION`` is the one place the Stripe API version is written: the client sends it on every call, the
objects in ``payments.stripe.objects`` are read in its shapes, and every webhook endpoint we register carries it
(so events arrive in the shapes the callbacks read). It is the version stripe-python 16 pins; a test holds the two
together, so upgrading the SDK means reading its changelog and moving this constant on purpose.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from payments.core.config import get_settings
from payments.core.errors import NotFound, Unprocessable, UpstreamError, UpstreamUnavailable
from payments.core.observability import logger

if TYPE_CHECKING:
    import stripe

#: The Stripe API version the product speaks (requests, object shapes, registered webhook endpoints).
STRIPE_API_VERSION = "2026-10-28.endive"


class StripeResourceMissing(NotFound):
    code = "stripe_resource_missing"

    def __init__(self, message: str, *, param: str | None):
        super().__init__(message)
        self.param = param


class StripeRejected(Unprocessable):
    """Stripe refused the request as invalid (e.g. an amount below its minimum for the currency)."""

    code = "stripe_rejected"

    def __init__(self, message: str, *, stripe_code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.stripe_code = stripe_code
        self.param = param


@functools.cache
def client() -> stripe.StripeClient:
    import stripe

    settings = get_settings()
    return stripe.StripeClient(
        settings.stripe_secret_key(),
        base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
        stripe_version=STRIPE_API_VERSION,
        max_network_retries=settings.stripe_max_network_retries,
        http_client=stripe.RequestsClient(timeout=settings.stripe_timeout_seconds),
    )


def reset() -> None:
    client.cache_clear()


@contextmanager
def stripe_errors(action: str) -> Iterator[None]:
    """Stripe's exceptions, as the product's errors."""
    import stripe

    try:
        yield
    except (stripe.APIConnectionError, stripe.RateLimitError) as error:
        logger.warning("Stripe unavailable", extra={"action": action, "stripe_error": type(error).__name__})
        code = "stripe_rate_limited" if isinstance(error, stripe.RateLimitError) else "stripe_unavailable"
        raise UpstreamUnavailable("the payment provider is unavailable; try again shortly", code=code,
                                  headers={"Retry-After": "2"}) from error
    except (stripe.InvalidRequestError, stripe.CardError) as error:
        if error.code == "resource_missing":
            raise StripeResourceMissing(error.user_message or "not found at Stripe", param=error.param) from error
        logger.warning("Stripe refused a request",
                       extra={"action": action, "stripe_code": error.code, "param": error.param})
        raise StripeRejected(error.user_message or "the payment provider refused the request",
                             stripe_code=error.code, param=error.param) from error
    except (stripe.AuthenticationError, stripe.PermissionError) as error:
        logger.error("Stripe rejected our credentials", extra={"action": action})
        raise UpstreamError("the payment provider is misconfigured", code="stripe_misconfigured") from error
    except stripe.StripeError as error:
        logger.warning("Stripe failed", extra={"action": action, "stripe_error": type(error).__name__,
                                                "http_status": error.http_status})
        raise UpstreamError("the payment provider failed; try again shortly") from error

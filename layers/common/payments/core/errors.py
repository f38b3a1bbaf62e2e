"""Every error the product can answer with.

Domain code raises these; ``payments.http`` turns them into the contract's error JSON
(``{"error": {"code", "message"}}``) with the right status, in one place.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error with an HTTP status, a snake_case code and a message meant for a person."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, dict[str, str]]:
        """The contract's error JSON for this error."""
        return {"error": {"code": self.code, "message": self.message}}


class BadRequest(ApiError):
    status = 400
    code = "invalid_request"


class InvalidField(BadRequest):
    """A named request field is missing, of the wrong type, or out of range."""

    code = "invalid_field"

    def __init__(self, field: str, message: str, *, code: str | None = None):
        super().__init__(f"{field}: {message}", code=code)
        self.field = field


class Unauthorized(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "unprocessable"


class TooManyRequests(ApiError):
    status = 429
    code = "too_many_requests"


class UpstreamError(ApiError):
    """Stripe answered, but not in a way we can use (a 5xx, a misconfiguration): 502."""

    status = 502
    code = "stripe_error"


class UpstreamUnavailable(ApiError):
    """Stripe or AWS could not be reached or is throttling us; trying again later can help: 503."""

    status = 503
    code = "service_unavailable"


class ConfigurationError(ApiError):
    """The deployment is missing a setting; never caused by the request."""

    status = 500
    code = "configuration_error"


class WebhookRejected(BadRequest):
    """A webhook delivery whose signature or body is unacceptable; nothing was written."""

    code = "invalid_webhook"


class RequestInProgress(Conflict):
    code = "request_in_progress"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class WriteConflict(Exception):
    """A conditional write found the record changed (someone else wrote first): read again, decide again."""


class TransientFailure(Exception):
    """A fault that a retry may cure (a lost write race that kept losing, a throttled table)."""

"""HTTP in and out for the API functions: the resolver, the caller, the body, and every error answer.

``create_app()`` gives each API function a Powertools ``APIGatewayHttpResolver`` with the product's
exception-to-HTTP mapping registered, so no handler builds an error by hand. Every error is
``{"error": {"code", "message"}}``; nothing unexpected leaks a stack trace (it is logged instead).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from payments.errors import ApiError, BadRequest, ConfigurationError, TransientFailure, UpstreamUnavailable
from payments.identity import Caller, caller_from_claims
from payments.observability import logger

PUBLIC_MESSAGES = {"configuration_error": "the service is misconfigured; the operator has been alerted"}


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, separators=(",", ":")), headers=headers or {})


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def create_app() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.exception_handler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        if isinstance(error, ConfigurationError):
            logger.error("misconfigured", extra={"detail": error.message})
            return error_response(500, error.code, PUBLIC_MESSAGES[error.code])
        if error.status >= 500:
            logger.warning("request failed", extra={"code": error.code, "status": error.status})
        return error_response(error.status, error.code, error.message, error.headers)

    @app.exception_handler(TransientFailure)
    def handle_transient(error: TransientFailure) -> Response:
        logger.warning("request lost too many write races", extra={"detail": str(error)})
        unavailable = UpstreamUnavailable("the service is busy; try again shortly", code="busy")
        return error_response(unavailable.status, unavailable.code, unavailable.message, {"Retry-After": "1"})

    @app.not_found
    def handle_not_found(_: NotFoundError) -> Response:
        return error_response(404, "route_not_found", "no such route")

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "internal_error", "something went wrong on our side; it has been logged")

    return app


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller from the JWT authorizer's claims (401 when the event carries none)."""
    context = app.current_event.raw_event.get("requestContext") or {}
    claims = ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")
    return caller_from_claims(claims)


def json_body(app: APIGatewayHttpResolver, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 saying what is wrong with it."""
    try:
        raw = app.current_event.decoded_body
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not UTF-8 JSON", code="malformed_json") from None
    if raw is None or not raw.strip():
        if required:
            raise BadRequest("the request body must be a JSON object", code="missing_body")
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="malformed_json")
    return body

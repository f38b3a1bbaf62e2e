"""HTTP in and out for the API functions: the resolver, the caller, the body, every error answer, and the
handler factory that carries the decorator stack.

``create_app()`` gives each API function a Powertools ``APIGatewayHttpResolver`` with the product's
exception-to-HTTP mapping registered, so no handler builds an error by hand. Every error is
``{"error": {"code", "message"}}``; nothing unexpected leaks a stack trace (it is logged instead).

``api_handler(app)`` is each function's ``lambda_handler``: the logger with the request id as correlation id,
metrics, the tracer with response capture off (answers may hold a client secret, which must never reach a
trace), and client retries with ``Idempotency-Key`` (``payments.core.idempotency``) on ``POST``/``DELETE``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths

from payments.core import coldstart
from payments.core.errors import ApiError, BadRequest, ConfigurationError, TransientFailure, UpstreamUnavailable
from payments.core.identity import Caller, caller_from_claims
from payments.core.observability import logger, metrics, tracer
from payments.core.validation import check_clean

PUBLIC_MESSAGES = {"configuration_error": "the service is misconfigured; the operator has been alerted"}
IDEMPOTENCY_HEADER = "idempotency-key"
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


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


def api_handler(app: APIGatewayHttpResolver) -> LambdaHandler:
    """The ``lambda_handler`` of an HTTP API function serving ``app``'s routes."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return resolve(app, event, context)
        finally:
            coldstart.started()

    return lambda_handler


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``app.resolve(event, context)``; once per ``Idempotency-Key`` on a ``POST`` or ``DELETE`` that has one."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = str(http.get("method") or "").upper()
    key = next((v for k, v in (event.get("headers") or {}).items() if str(k).lower() == IDEMPOTENCY_HEADER), None)
    if key is None or method not in ("POST", "DELETE"):
        return app.resolve(event, context)
    from payments.core import idempotency  # imported only when a request asks for it: no cold-start cost

    try:
        caller = caller_from_claims(claims_of(event))
    except ApiError as error:
        return _lambda_answer(error.status, error.body(), error.headers)
    try:
        body: Any = parse_json_body(event)
    except ApiError:
        body = str(event.get("body"))  # the handler answers it (a 403 before a 400 where it checks so); kept too
    request = idempotency.Request(caller=caller.user_id, method=method, path=str(event.get("rawPath") or ""),
                                  key=key, body=body)
    try:
        return idempotency.once(lambda: app.resolve(event, context), request, context)
    except ApiError as error:
        return _lambda_answer(error.status, error.body(), error.headers)


def _lambda_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_types.APPLICATION_JSON, **(headers or {})},
            "body": json.dumps(body, separators=(",", ":")), "isBase64Encoded": False}


def claims_of(event: dict[str, Any]) -> Any:
    context = event.get("requestContext") or {}
    return ((context.get("authorizer") or {}).get("jwt") or {}).get("claims")


def current_caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller from the JWT authorizer's claims (401 when the event carries none)."""
    return caller_from_claims(claims_of(app.current_event.raw_event))


def json_body(app: APIGatewayHttpResolver, *, required: bool = True) -> dict[str, Any]:
    """The request body as a JSON object of storable text, or a 400 saying what is wrong with it."""
    body = parse_json_body(app.current_event.raw_event)
    if body is None:
        if required:
            raise BadRequest("the request body must be a JSON object", code="missing_body")
        return {}
    return body


def parse_json_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event's body as a JSON object (None when there is none), or a 400."""
    import base64

    raw: Any = event.get("body")
    try:
        if raw is not None and event.get("isBase64Encoded"):
            raw = base64.b64decode(raw).decode("utf-8")
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the request body is not UTF-8 JSON", code="malformed_json") from None
    if raw is None or not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the request body is not valid JSON", code="malformed_json") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="malformed_json")
    check_clean(body)
    return body

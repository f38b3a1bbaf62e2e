"""RefundFunction: POST /refunds (admins only)."""

from aws_lambda_powertools.logging import correlation_paths

from payments import refunds
from payments.http import create_app, current_caller, json_body, json_response
from payments.observability import logger, metrics, tracer

app = create_app()


@app.post("/refunds")
def request_refund():
    caller = current_caller(app)
    caller.require_admin()
    return json_response(202, refunds.request_refund(caller, refunds.RefundRequest.from_body(json_body(app))))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

"""CheckoutFunction: POST /checkout, a PaymentIntent (mobile) or a Checkout Session (web) for an order."""

from aws_lambda_powertools.logging import correlation_paths

from payments import checkout
from payments.http import create_app, current_caller, json_body, json_response
from payments.observability import logger, metrics, tracer

app = create_app()


@app.post("/checkout")
def start_checkout():
    caller = current_caller(app)
    request = checkout.CheckoutRequest.from_body(json_body(app))
    return json_response(201, checkout.start_checkout(caller, request))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

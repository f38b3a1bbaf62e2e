"""SubscribeFunction: POST /subscriptions, start the subscription of a pending subscription order."""

from aws_lambda_powertools.logging import correlation_paths

from payments import subscriptions
from payments.http import create_app, current_caller, json_body, json_response
from payments.observability import logger, metrics, tracer

app = create_app()


@app.post("/subscriptions")
def start_subscription():
    caller = current_caller(app)
    request = subscriptions.SubscribeRequest.from_body(json_body(app))
    return json_response(201, subscriptions.start_subscription(caller, request))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

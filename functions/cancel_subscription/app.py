"""CancelSubscriptionFunction: cancel a subscription now or at period end, or resume one set to cancel."""

from aws_lambda_powertools.logging import correlation_paths

from payments import subscriptions, validation
from payments.http import create_app, current_caller, json_body, json_response
from payments.observability import logger, metrics, tracer

app = create_app()


@app.post("/subscriptions/<recurringPaymentId>/cancel")
def cancel(recurringPaymentId: str):  # noqa: N803 (the route's own parameter name)
    caller = current_caller(app)
    at_period_end = validation.boolean(json_body(app, required=False), "atPeriodEnd", default=True)
    return json_response(200, subscriptions.cancel_subscription(caller, recurringPaymentId,
                                                                at_period_end=at_period_end))


@app.post("/subscriptions/<recurringPaymentId>/resume")
def resume(recurringPaymentId: str):  # noqa: N803
    return json_response(200, subscriptions.resume_subscription(current_caller(app), recurringPaymentId))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

"""CancelSubscriptionFunction: cancel a subscription now or at period end, or resume one set to cancel."""

from payments.core import validation
from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.subscriptions import api as subscriptions

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


lambda_handler = api_handler(app)

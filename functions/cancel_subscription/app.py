"""CancelSubscriptionFunction: what is done to one subscription: cancel it now or at period end, resume one set to
cancel, change its plan (and preview the change first)."""

from payments.core import validation
from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.subscriptions import api as subscriptions
from payments.subscriptions import changes

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


@app.post("/subscriptions/<recurringPaymentId>/change")
def change(recurringPaymentId: str):  # noqa: N803
    caller = current_caller(app)
    request = changes.ChangeRequest.from_body(json_body(app))
    return json_response(200, changes.change_plan(caller, recurringPaymentId, request))


@app.post("/subscriptions/<recurringPaymentId>/change/preview")
def preview_change(recurringPaymentId: str):  # noqa: N803
    caller = current_caller(app)
    request = changes.ChangeRequest.from_body(json_body(app))
    return json_response(200, changes.preview_change(caller, recurringPaymentId, request))


lambda_handler = api_handler(app)

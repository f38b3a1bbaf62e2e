"""BillingFunction: the customer portal, saved payment methods and entitlements, always the caller's own."""

from aws_lambda_powertools.event_handler import Response

from payments.billing import entitlements, payment_methods, portal
from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.limits.attempts import count_payment_attempt

app = create_app()


@app.post("/billing-portal")
def open_portal():
    return json_response(201, portal.open_portal(current_caller(app), json_body(app)))


@app.post("/payment-methods/setup")
def setup_payment_method():
    caller = current_caller(app)
    count_payment_attempt(caller)  # saving a card is a payment attempt too (429 past the limit)
    return json_response(201, payment_methods.start_setup(caller))


@app.get("/payment-methods")
def list_payment_methods():
    return json_response(200, payment_methods.list_payment_methods(current_caller(app)))


@app.post("/payment-methods/<paymentMethodId>/default")
def set_default_payment_method(paymentMethodId: str):  # noqa: N803 (the route's own parameter name)
    return json_response(200, payment_methods.set_default(current_caller(app), paymentMethodId))


@app.delete("/payment-methods/<paymentMethodId>")
def delete_payment_method(paymentMethodId: str):  # noqa: N803
    payment_methods.delete(current_caller(app), paymentMethodId)
    return Response(status_code=204, body="")


@app.get("/entitlements")
def get_entitlements():
    return json_response(200, entitlements.get_entitlements(current_caller(app)))


lambda_handler = api_handler(app)

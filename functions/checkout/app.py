"""CheckoutFunction: POST /checkout, a PaymentIntent (mobile) or a Checkout Session (web) for an order."""

from payments.checkout import api as checkout
from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.limits.attempts import count_payment_attempt

app = create_app()


@app.post("/checkout")
def start_checkout():
    caller = current_caller(app)
    count_payment_attempt(caller)  # first: every authenticated attempt counts (429 past the limit)
    request = checkout.CheckoutRequest.from_body(json_body(app))
    return json_response(201, checkout.start_checkout(caller, request))


lambda_handler = api_handler(app)

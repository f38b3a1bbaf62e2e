"""SubscribeFunction: POST /subscriptions, start the subscription of a pending subscription order."""

from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.limits.attempts import count_payment_attempt
from payments.subscriptions import api as subscriptions

app = create_app()


@app.post("/subscriptions")
def start_subscription():
    caller = current_caller(app)
    count_payment_attempt(caller)  # first: every authenticated attempt counts (429 past the limit)
    request = subscriptions.SubscribeRequest.from_body(json_body(app))
    return json_response(201, subscriptions.start_subscription(caller, request))


lambda_handler = api_handler(app)

"""RefundFunction: POST /refunds (admins only)."""

from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.refunds import api as refunds

app = create_app()


@app.post("/refunds")
def request_refund():
    caller = current_caller(app)
    caller.require_admin()  # before the body is read: a non-admin hears 403, whatever they sent
    return json_response(202, refunds.request_refund(caller, refunds.RefundRequest.from_body(json_body(app))))


lambda_handler = api_handler(app)

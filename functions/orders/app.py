"""OrdersFunction: POST /orders, GET /orders, GET /orders/{orderId}."""

from payments.core import validation
from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.orders import api as orders

app = create_app()


@app.post("/orders")
def create_order():
    return json_response(201, orders.create_order(current_caller(app), json_body(app)))


@app.get("/orders")
def list_orders():
    caller = current_caller(app)
    limit = validation.query_limit(app.current_event.get_query_string_value("limit"))
    cursor = app.current_event.get_query_string_value("cursor") or None
    return json_response(200, orders.list_orders(caller, limit=limit, cursor=cursor))


@app.get("/orders/<orderId>")
def get_order(orderId: str):  # noqa: N803 (the route's own parameter name)
    return json_response(200, orders.get_order(current_caller(app), orderId))


lambda_handler = api_handler(app)

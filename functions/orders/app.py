"""OrdersFunction: POST /orders, GET /orders, GET /orders/{orderId}."""

from aws_lambda_powertools.logging import correlation_paths

from payments import orders, validation
from payments.http import create_app, current_caller, json_body, json_response
from payments.observability import logger, metrics, tracer

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


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event, context):
    return app.resolve(event, context)

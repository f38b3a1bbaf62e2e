"""AdminFunction: GET /admin/metrics (admins only), the numbers of a range of days in one currency.

(``POST /admin/reconcile`` is served by ``ReconcileFunction``, which does the reconciling.)"""

from payments.core.http import api_handler, create_app, current_caller, json_response
from payments.metrics import report

app = create_app()


@app.get("/admin/metrics")
def get_metrics():
    current_caller(app).require_admin()  # before the query is read: a non-admin hears 403, whatever they asked
    query = app.current_event.query_string_parameters or {}
    return json_response(200, report.metrics(report.MetricsRequest.from_query(query)))


lambda_handler = api_handler(app)

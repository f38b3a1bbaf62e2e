"""ReconcileFunction: on a schedule (ReconcileRateMinutes), and POST /admin/reconcile (admins) to run it now."""

from payments.core.http import api_handler, create_app, current_caller, json_response
from payments.reconcile import api as reconciler

app = create_app()


@app.post("/admin/reconcile")
def reconcile_now():
    current_caller(app).require_admin()
    budget = reconciler.budget(app.lambda_context, cap=reconciler.ADMIN_BUDGET_SECONDS, margin=5.0)
    return json_response(200, reconciler.reconcile(budget))


lambda_handler = reconciler.handler(api_handler(app))  # the schedule's events run it; HTTP requests, the route


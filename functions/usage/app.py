"""UsageFunction: POST /usage (admins: the app's backend), a user's usage sent to a Billing Meter once."""

from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.usage import api as usage

app = create_app()


@app.post("/usage")
def report_usage():
    caller = current_caller(app)
    caller.require_admin()  # before the body is read: a non-admin hears 403, whatever they sent
    return json_response(202, usage.report_usage(caller, usage.UsageReport.from_body(json_body(app))))


lambda_handler = api_handler(app)

"""PrivacyFunction: GET /me/export, DELETE /me, DELETE /users/{userId} (admins): a user's data, and its erasure."""

from aws_lambda_powertools.event_handler import Response

from payments.core.http import api_handler, create_app, current_caller, json_response
from payments.privacy import api as privacy

app = create_app()


@app.get("/me/export")
def export_me():
    return json_response(200, privacy.export_user(current_caller(app)))


@app.delete("/me")
def erase_me():
    privacy.erase_me(current_caller(app))
    return Response(status_code=204, body="")


@app.delete("/users/<userId>")
def erase_user(userId: str):  # noqa: N803 (the route's own parameter name)
    privacy.erase_user(current_caller(app), userId)
    return Response(status_code=204, body="")


lambda_handler = api_handler(app)

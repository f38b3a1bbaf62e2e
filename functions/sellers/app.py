"""SellersFunction: POST /sellers (become a seller: an Express account and its onboarding link), GET /sellers/me."""

from payments.core.http import api_handler, create_app, current_caller, json_body, json_response
from payments.sellers import api as sellers

app = create_app()


@app.post("/sellers")
def become_seller():
    caller = current_caller(app)
    urls = sellers.OnboardingUrls.from_body(json_body(app, required=False))
    return json_response(201, sellers.become_seller(caller, urls))


@app.get("/sellers/me")
def my_seller():
    return json_response(200, sellers.my_seller(current_caller(app)))


lambda_handler = api_handler(app)

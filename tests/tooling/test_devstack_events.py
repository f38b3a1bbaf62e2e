"""The test/dev builders for Stripe webhooks and Lambda events, and the sample events under events/."""

from __future__ import annotations

import base64
import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import stripe
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, LambdaFunctionUrlEvent

from devstack import REPO_ROOT, make_sample_events
from devstack.lambda_events import (
    LOCAL_WEBHOOK_SECRETS,
    event_body_bytes,
    function_url_event,
    http_api_event,
    load_event,
    resign_event,
    signed_webhook_event,
    user_claims,
)
from devstack.lambda_events.stripe_webhooks import main as lambda_events_cli
from devstack.stripe_events import (
    FIXTURES_DIR,
    encode_event,
    sign_payload,
    stripe_event,
    stripe_object,
)

SECRET = "whsec_test_devstack"
EVENTS_DIR = REPO_ROOT / "events"
ALL_SAMPLES = sorted(EVENTS_DIR.rglob("*.json"))
METADATA = {"orderId": "ord_test", "paymentId": "pay_test", "userId": "user-test"}


def _paid_intent_event() -> dict[str, Any]:
    pi = stripe_object("payment_intent", amount=1999, currency="usd", status="succeeded", metadata=METADATA)
    return stripe_event("payment_intent.succeeded", pi)


def _header(event: dict[str, Any]) -> str:
    return str(LambdaFunctionUrlEvent(event).headers["Stripe-Signature"])


# --- Stripe fixtures and envelopes ---------------------------------------------------------------


def test_fixtures_are_copied_with_stripes_licence() -> None:
    # Given the project's own copy of Stripe's example objects
    names = {p.stem for p in FIXTURES_DIR.glob("*.json")}
    # Then every object we use is there, with Stripe's MIT notice and a provenance note beside it
    assert {
        "payment_intent",
        "charge",
        "refund",
        "checkout.session",
        "event",
        "price",
        "product",
        "customer",
        "subscription",
        "invoice",
        "invoice_payment",
    } <= names
    assert "MIT" in (FIXTURES_DIR / "LICENSE").read_text()
    assert "stripe/openapi" in (FIXTURES_DIR / "README.md").read_text()


def test_stripe_object_applies_overrides_to_a_fresh_copy() -> None:
    # Given an object taken with overrides
    refund = stripe_object("refund", amount=500, metadata={"refundId": "ref_1"})
    # When it is mutated
    refund["metadata"]["refundId"] = "changed"
    # Then the overrides were applied, and the next copy is untouched by the mutation
    assert refund["object"] == "refund" and refund["amount"] == 500
    assert stripe_object("refund")["metadata"] == {}
    assert stripe_object("checkout.session")["object"] == "checkout.session"


def test_stripe_object_names_unknown_fixtures() -> None:
    # Given a name with no fixture / When asked for it / Then the error says what exists
    with pytest.raises(KeyError, match="payment_intent"):
        stripe_object("no_such_thing")


def test_stripe_event_builds_a_full_envelope() -> None:
    # Given a subscription change
    sub = stripe_object("subscription", status="active")
    # When it is wrapped with previous attributes
    event = stripe_event(
        "customer.subscription.updated",
        sub,
        created=1_800_000_000,
        previous_attributes={"status": "incomplete"},
    )
    # Then it is a complete v1 Event envelope
    assert event["id"].startswith("evt_") and len(event["id"]) == 28
    assert event["object"] == "event" and event["type"] == "customer.subscription.updated"
    assert event["created"] == 1_800_000_000 and event["livemode"] is False
    assert event["data"] == {"object": sub, "previous_attributes": {"status": "incomplete"}}
    assert event["api_version"] == stripe.api_version  # the fixture's is null: the pinned one
    assert event["pending_webhooks"] >= 1 and set(event["request"]) == {"id", "idempotency_key"}
    # And ids are random unless given, created is now unless given
    other = stripe_event("customer.subscription.updated", sub, event_id="evt_given")
    assert other["id"] == "evt_given" and "previous_attributes" not in other["data"]
    assert abs(other["created"] - time.time()) < 5
    assert stripe_event("x.y", sub)["id"] != stripe_event("x.y", sub)["id"]


def test_sign_payload_matches_stripe_pythons_own_helper() -> None:
    # Given a body and a fixed timestamp
    raw = encode_event(_paid_intent_event())
    # When both sign it / Then the headers are identical
    expected = stripe.WebhookSignature.generate_signature_header(
        raw.decode(), SECRET, timestamp=1_700_000_000
    )
    assert sign_payload(raw, SECRET, 1_700_000_000) == expected
    # And without a timestamp it signs at the current time
    stamp = int(sign_payload(raw, SECRET).split(",")[0].removeprefix("t="))
    assert abs(stamp - time.time()) < 5


def test_signed_event_verifies_and_a_wrong_secret_fails() -> None:
    # Given a signed webhook delivery
    event = signed_webhook_event(_paid_intent_event(), SECRET)
    raw, header = event["body"].encode(), _header(event)
    # When it is verified with the endpoint's secret
    verified = stripe.Webhook.construct_event(raw, header, SECRET)
    # Then it parses to the event, with our metadata
    assert verified.type == "payment_intent.succeeded"
    assert verified.data.object.metadata.orderId == "ord_test"
    # And with any other secret it is rejected
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(raw, header, "whsec_wrong")


def test_base64_function_url_event_verifies_after_decoding() -> None:
    # Given a delivery whose body arrives base64-encoded
    stripe_evt = _paid_intent_event()
    event = signed_webhook_event(stripe_evt, SECRET, base64=True)
    assert event["isBase64Encoded"] is True
    assert event["body"] != encode_event(stripe_evt).decode()
    # When the body is decoded (by hand and by Powertools)
    raw = base64.b64decode(event["body"])
    parsed = LambdaFunctionUrlEvent(event)
    # Then both are the signed bytes and verify
    assert raw == encode_event(stripe_evt) == event_body_bytes(event)
    assert parsed.decoded_body == raw.decode()
    assert stripe.Webhook.construct_event(raw, _header(event), SECRET).id == stripe_evt["id"]
    # And the still-encoded body does not
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(event["body"], _header(event), SECRET)


def test_function_url_event_parses_with_powertools() -> None:
    # Given a Function URL event with mixed-case headers
    event = function_url_event('{"a":1}', headers={"Stripe-Signature": "t=1,v1=x", "X-Custom": "y"})
    # When Powertools reads it
    parsed = LambdaFunctionUrlEvent(event)
    # Then headers are lowercase in the event and case-insensitive through Powertools
    assert "stripe-signature" in event["headers"]
    assert parsed.headers["STRIPE-SIGNATURE"] == "t=1,v1=x" and parsed.headers["x-custom"] == "y"
    assert parsed.decoded_body == '{"a":1}' and parsed.json_body == {"a": 1}
    assert parsed.request_context.http.method == "POST" and parsed.raw_path == "/"
    assert event["requestContext"]["accountId"] == "anonymous"
    assert event["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")
    assert event["requestContext"]["http"]["userAgent"].startswith("Stripe/1.0")


# --- HTTP API events -----------------------------------------------------------------------------


def test_http_api_event_parses_with_powertools() -> None:
    # Given a request for one order, by a user with groups
    claims = user_claims("user-bob", groups=["staff"])
    event = http_api_event(
        "post",
        "/subscriptions/{recurringPaymentId}/cancel",
        path_params={"recurringPaymentId": "sub_rec_1"},
        body={"atPeriodEnd": False},
        query={"x": "1", "tag": ["a", "b"]},
        claims=claims,
        headers={"X-Request-Id": "abc"},
    )
    # When Powertools reads it
    parsed = APIGatewayProxyEventV2(event)
    # Then everything a handler reads is where API Gateway puts it
    assert parsed.request_context.authorizer.jwt_claim["sub"] == "user-bob"
    assert parsed.request_context.authorizer.jwt_claim["cognito:groups"] == ["staff"]
    assert parsed.path_parameters == {"recurringPaymentId": "sub_rec_1"}
    assert parsed.json_body == {"atPeriodEnd": False}
    assert parsed.route_key == "POST /subscriptions/{recurringPaymentId}/cancel"
    assert parsed.raw_path == parsed.path == "/subscriptions/sub_rec_1/cancel"
    assert parsed.http_method == "POST" and parsed.headers["x-request-id"] == "abc"
    assert parsed.query_string_parameters == {"x": "1", "tag": "a,b"}
    assert event["rawQueryString"] == "x=1&tag=a&tag=b"
    assert event["headers"]["content-type"] == "application/json"
    assert event["requestContext"]["stage"] == "$default" and event["version"] == "2.0"
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] is None


def test_http_api_event_without_claims_has_no_identity() -> None:
    # Given a request with no identity and nothing optional
    event = http_api_event("GET", "/orders")
    # Then there is no authorizer, and empty parts are left out as API Gateway does
    assert "authorizer" not in event["requestContext"]
    assert "authorization" not in event["headers"]
    for key in ("queryStringParameters", "pathParameters", "body"):
        assert key not in event
    assert APIGatewayProxyEventV2(event).request_context.authorizer.jwt_claim == {}


def test_http_api_event_needs_every_path_parameter() -> None:
    # Given a route with a parameter / When it is not given / Then the builder refuses
    with pytest.raises(ValueError, match="orderId"):
        http_api_event("GET", "/orders/{orderId}")


def test_http_api_event_passes_a_string_body_as_is() -> None:
    # Given a malformed body / When built / Then it reaches the handler untouched
    assert http_api_event("POST", "/orders", body="{not json")["body"] == "{not json"


@pytest.mark.parametrize(
    ("groups_format", "expected"),
    [("list", ["admin", "staff"]), ("json", '["admin","staff"]'), ("bracket", "[admin staff]")],
)
def test_user_claims_render_groups_in_each_format(groups_format: str, expected: object) -> None:
    # Given a user in two groups / When the claims are rendered in one format
    claims = user_claims("admin-ada", groups=["admin", "staff"], groups_format=groups_format)
    # Then the groups claim has that shape, and the rest is a Cognito id token's
    assert claims["cognito:groups"] == expected
    if groups_format == "json":
        assert json.loads(claims["cognito:groups"]) == ["admin", "staff"]
    assert claims["sub"] == claims["cognito:username"] == "admin-ada"
    assert claims["token_use"] == "id" and claims["aud"] and claims["iss"].startswith("https://cognito-idp.")
    assert int(claims["exp"]) > int(claims["iat"])


def test_user_claims_without_groups_and_for_access_tokens() -> None:
    # Given users without groups / Then no groups claim, as Cognito omits it
    assert "cognito:groups" not in user_claims("user-alice")
    assert "cognito:groups" not in user_claims("user-alice", groups=[])
    # And an access token names the client instead of an audience
    access = user_claims("user-alice", token_use="access")
    assert access["client_id"] and "aud" not in access and access["token_use"] == "access"
    with pytest.raises(ValueError):
        user_claims("u", groups=["admin"], groups_format="csv")


# --- Sample events ---------------------------------------------------------------------------------


def test_samples_exist_for_orders_checkout_and_payment_callback() -> None:
    # Given the events folder / Then the samples this project documents are all there
    rel = {p.relative_to(EVENTS_DIR).as_posix() for p in ALL_SAMPLES}
    assert set(make_sample_events.build_samples()) <= rel
    assert "payment_callback/payment_intent_succeeded.json" in rel


def test_samples_have_not_drifted_from_the_generator() -> None:
    # Given the generator script / When it is asked what it would write / Then the files match it
    assert make_sample_events.stale_samples() == []


@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: p.relative_to(EVENTS_DIR).as_posix())
def test_every_sample_has_the_shape_of_its_folder(path: Path) -> None:
    # Given a sample file
    event = load_event(path)
    folder = path.relative_to(EVENTS_DIR).parts[0]
    if folder in EVENTS_AND_LIVE_SHAPES:
        EVENTS_AND_LIVE_SHAPES[folder](event)
        return
    if "RequestType" in event:  # a CloudFormation custom-resource request (the webhook registration)
        assert event["RequestType"] in ("Create", "Update", "Delete") and event["ResponseURL"].startswith("https://")
        return
    if "detail-type" in event:  # a Stripe event as an EventBridge rule hands it to a callback: no HTTP around it
        assert folder.endswith("_callback") and "requestContext" not in event and "headers" not in event
        assert event["detail"]["object"] == "event" and event["detail-type"] == event["detail"]["type"]
        return
    if "version" not in event:  # what a schedule hands its function (its Input)
        assert folder == "reconcile"
        return
    # Then it is a payload 2.0 event
    assert event["version"] == "2.0" and isinstance(event["headers"], dict)
    assert all(name == name.lower() for name in event["headers"])
    http = event["requestContext"]["http"]
    if folder.endswith("_callback"):
        # A Stripe delivery to a Function URL, signed with the folder's local secret
        assert event["routeKey"] == "$default" and event["rawPath"] == "/"
        assert http["method"] == "POST"
        header = event["headers"]["stripe-signature"]
        raw = event_body_bytes(event)
        body = json.loads(raw)
        kind = folder.removesuffix("_callback")
        if body["object"] == "v2.core.event":  # a thin event (an event destination's): it names its object only
            assert body["related_object"]["id"] and not body.get("data")
            stripe.WebhookSignature.verify_header(raw.decode(), header, LOCAL_WEBHOOK_SECRETS[kind], tolerance=0)
            return
        obj = body["data"]["object"]
        # our records are named by the object's metadata (an invoice: its subscription's, under parent); an
        # entitlement summary has none: its customer is the user's through our customers table
        assert body["object"] == "event"
        summary = obj.get("object") == "entitlements.active_entitlement_summary" and obj.get("customer")
        assert summary or obj.get("metadata") or (
            (obj.get("parent") or {}).get("subscription_details") or {}).get("metadata")
        if kind in LOCAL_WEBHOOK_SECRETS:
            # tolerance=0 checks the signature but not its age
            stripe.Webhook.construct_event(raw, header, LOCAL_WEBHOOK_SECRETS[kind], tolerance=0)
    else:
        # An HTTP API request behind the JWT authorizer
        method, _, route = event["routeKey"].partition(" ")
        assert http["method"] == method and route.startswith("/")
        assert http["path"] == event["rawPath"]
        assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"]
        parsed = APIGatewayProxyEventV2(event)
        if event.get("body"):
            assert isinstance(parsed.json_body, dict)


def test_payment_callback_samples_carry_the_right_case() -> None:
    # Given the payment callback samples
    def stripe_obj(name: str) -> dict[str, Any]:
        event = load_event(f"events/payment_callback/{name}.json")
        body: dict[str, Any] = json.loads(event_body_bytes(event))
        assert body["type"] == name.replace("checkout_session_", "checkout.session.").replace(
            "payment_intent_", "payment_intent."
        )
        obj: dict[str, Any] = body["data"]["object"]
        return obj

    # Then each object says what its event type means, for 1999 usd of our order
    succeeded = stripe_obj("payment_intent_succeeded")
    assert (succeeded["status"], succeeded["amount"], succeeded["amount_received"]) == (
        "succeeded",
        1999,
        1999,
    )
    assert succeeded["metadata"]["orderId"] == "ord_01JEXAMPLE00000000000000"
    failed = stripe_obj("payment_intent_payment_failed")
    assert failed["last_payment_error"]["code"] == "card_declined" and failed["amount_received"] == 0
    assert stripe_obj("payment_intent_canceled")["status"] == "canceled"
    for name, status, payment_status in [
        ("checkout_session_completed", "complete", "paid"),
        ("checkout_session_expired", "expired", "unpaid"),
        ("checkout_session_async_payment_succeeded", "complete", "paid"),
        ("checkout_session_async_payment_failed", "complete", "unpaid"),
    ]:
        session = stripe_obj(name)
        assert (session["status"], session["payment_status"]) == (status, payment_status)
        assert (session["amount_total"], session["currency"]) == (1999, "usd")
        assert session["metadata"]["paymentId"] == "pay_01JEXAMPLE00000000000000"


def test_resign_makes_a_stale_sample_verify_again() -> None:
    # Given a stored callback sample, whose signature is older than Stripe's tolerance
    stale = load_event("events/payment_callback/payment_intent_succeeded.json")
    raw = event_body_bytes(stale)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(raw, stale["headers"]["stripe-signature"], "whsec_local_payment")
    # When it is re-signed now
    fresh = resign_event(stale, "whsec_local_payment")
    # Then it verifies, with the body untouched and the original left alone
    assert stripe.Webhook.construct_event(
        event_body_bytes(fresh), fresh["headers"]["stripe-signature"], "whsec_local_payment"
    )
    assert (
        fresh["body"] == stale["body"]
        and fresh["requestContext"]["timeEpoch"] > stale["requestContext"]["timeEpoch"]
    )
    assert stale["headers"]["stripe-signature"] != fresh["headers"]["stripe-signature"]


def test_resign_handles_base64_bodies_and_mixed_case_headers() -> None:
    # Given an old base64 delivery whose header name came in another case
    event = signed_webhook_event(_paid_intent_event(), SECRET, base64=True, timestamp=1_000_000_000)
    event["headers"]["Stripe-Signature"] = event["headers"].pop("stripe-signature")
    # When it is re-signed
    fresh = resign_event(event, SECRET)
    # Then one signature header remains, over the decoded body, and it verifies
    assert [k for k in fresh["headers"] if k.lower() == "stripe-signature"] == ["stripe-signature"]
    assert stripe.Webhook.construct_event(base64.b64decode(fresh["body"]), _header(fresh), SECRET)


def test_resign_cli_prints_a_fresh_event() -> None:
    # Given a stored sample / When the CLI re-signs it, once with the folder's default secret
    path = "events/payment_callback/checkout_session_completed.json"
    for argv in (["resign", path, "--secret", "whsec_local_payment"], ["resign", path]):
        out = io.StringIO()
        with redirect_stdout(out):
            assert lambda_events_cli(argv) == 0
        event = json.loads(out.getvalue())
        # Then what it prints verifies now
        assert (
            stripe.Webhook.construct_event(
                event_body_bytes(event), event["headers"]["stripe-signature"], "whsec_local_payment"
            ).type
            == "checkout.session.completed"
        )


def test_resign_cli_needs_a_secret_outside_callback_folders(capsys: pytest.CaptureFixture[str]) -> None:
    # Given an HTTP sample with no callback folder / When re-signed without --secret / Then usage error
    with pytest.raises(SystemExit) as exc:
        lambda_events_cli(["resign", "events/orders/get_order.json"])
    assert exc.value.code == 2 and "--secret" in capsys.readouterr().err


# --- events out and live status: a stream batch, an EventBridge event, API Gateway WebSocket events ----------


def _stream_batch(event: dict) -> None:
    for record in event["Records"]:
        assert record["eventSource"] == "aws:dynamodb" and ":table/" in record["eventSourceARN"]
        assert record["eventName"] in ("INSERT", "MODIFY", "REMOVE")
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES" and record["dynamodb"]["SequenceNumber"]


def _eventbridge(event: dict) -> None:
    assert event["version"] == "0" and event["source"] == "payments"
    assert event["detail"]["type"] == event["detail-type"] and event["detail"]["eventId"]


def _websocket(event: dict) -> None:
    context = event["requestContext"]
    assert context["connectionId"] and context["stage"] == "live"
    assert context["authorizer"]["principalId"] == make_sample_events.USER_ID


def _authorizer(event: dict) -> None:
    assert event["type"] == "REQUEST" and event["methodArn"].endswith("/live/$connect")
    assert "token" in event["queryStringParameters"]


EVENTS_AND_LIVE_SHAPES = {"event_publisher": _stream_batch, "on_order_paid": _eventbridge,
                          "live_notify": _eventbridge, "live_connect": _websocket, "live_authorizer": _authorizer}
EVENTS_AND_LIVE_SHAPES["metrics_aggregator"] = _eventbridge  # the numbers: a domain event as the bus delivers it

"""Live status: the WebSocket API's authorizer (the HTTP API's JWT, checked against the issuer's JWKS served on
loopback), its routes (connections kept per user, ping), and the notifier (each event about an order to its
owner's connections only; a gone connection removed), with DynamoDB and the management API answered by moto."""

from __future__ import annotations

import json

import pytest
from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend, apigatewaymanagementapi_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError
from werkzeug.wrappers import Response

from devstack.lambda_context import LambdaContext
from devstack.lambda_events.eventbridge import eventbridge_event
from devstack.lambda_events.websocket import allowed_context, authorizer_event, websocket_event
from devstack.local_auth import load_signing_key, mint_token
from devstack.loopback import LoopbackServer
from payments.data import connections
from tests.support import reset_clients

ISSUER = "https://issuer.example/pool"
AUDIENCE = "app-client"


@pytest.fixture
def issuer(tmp_path, monkeypatch):
    """An issuer whose keys are served at a JWKS URL on loopback (the authorizer fetches and caches them)."""
    key = load_signing_key(tmp_path)
    fetched = []

    def jwks(environ, start_response):
        fetched.append(environ["PATH_INFO"])
        return Response(json.dumps({"keys": [key.as_dict(private=False)]}), content_type="application/json")(
            environ, start_response)

    with LoopbackServer(jwks) as server:
        monkeypatch.setenv("JWT_ISSUER", ISSUER)
        monkeypatch.setenv("JWT_AUDIENCE", f"{AUDIENCE},other-client")
        monkeypatch.setenv("JWT_JWKS_URL", server.url + "/.well-known/jwks.json")
        reset_clients()
        from payments.live import auth

        auth.reset()
        yield key, fetched
        auth.reset()


def connect(handler, token):
    query = {} if token is None else {"token": token}
    return handler.lambda_handler(authorizer_event("conn-1=", query), LambdaContext(function_name="LiveAuthorizer"))


def token(key, user="alice", **overrides):
    return mint_token(key, user, issuer=overrides.pop("issuer", ISSUER), audience=overrides.pop("audience", AUDIENCE),
                      **overrides)


def test_the_authorizer_allows_a_good_token_as_its_user_and_caches_the_keys(issuer, live_authorizer_handler):
    key, fetched = issuer
    policy = connect(live_authorizer_handler, token(key))
    assert policy["principalId"] == "alice" and policy["context"] == {"userId": "alice"}
    statement = policy["policyDocument"]["Statement"][0]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "execute-api:Invoke")
    assert statement["Resource"].endswith("/live/$connect")
    connect(live_authorizer_handler, token(key, "bob"))
    assert fetched == ["/.well-known/jwks.json"]  # once per container


@pytest.mark.parametrize("case", ["missing", "garbage", "expired", "other issuer", "other audience", "other key",
                                  "not yet valid"])
def test_the_authorizer_refuses_a_bad_expired_or_missing_token(issuer, live_authorizer_handler, tmp_path, case):
    key, _ = issuer
    tokens = {
        "missing": None, "garbage": "not.a.token",
        "expired": token(key, now=1_000_000_000, ttl_seconds=60),
        "other issuer": token(key, issuer="https://evil.example"),
        "other audience": token(key, audience="someone-else"),
        "other key": token(load_signing_key(tmp_path / "other")),
        "not yet valid": token(key, now=4_000_000_000),
    }
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        connect(live_authorizer_handler, tokens[case])


def test_an_access_token_with_client_id_and_no_aud_is_accepted_as_the_http_api_accepts_it(issuer,
                                                                                         live_authorizer_handler):
    from joserfc import jwt

    key, _ = issuer
    claims = {"sub": "carol", "iss": ISSUER, "client_id": "other-client", "token_use": "access",
              "exp": 4_000_000_000, "iat": 1_700_000_000}
    access = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    assert connect(live_authorizer_handler, access)["principalId"] == "carol"


def route(handler, route_key, connection, user, body=None):
    authorizer = allowed_context({"principalId": user, "context": {"userId": user}})
    event = websocket_event(route_key, connection, body=body, authorizer=authorizer)
    return handler.lambda_handler(event, LambdaContext(function_name="LiveConnect"))


def test_connect_keeps_the_connection_under_its_user_disconnect_removes_it_and_ping_pongs(aws, live_connect_handler):
    assert route(live_connect_handler, "$connect", "c-1=", "alice")["statusCode"] == 200
    assert route(live_connect_handler, "$connect", "c-2=", "alice")["statusCode"] == 200
    assert route(live_connect_handler, "$connect", "c-3=", "bob")["statusCode"] == 200
    assert sorted(connections.of_user("alice")) == ["c-1=", "c-2="]
    pong = route(live_connect_handler, "ping", "c-1=", "alice", body='{"action":"ping"}')
    assert json.loads(pong["body"]) == {"type": "pong"}
    other = route(live_connect_handler, "$default", "c-1=", "alice", body="hello")
    assert json.loads(other["body"])["type"] == "error"
    assert route(live_connect_handler, "$disconnect", "c-1=", "alice")["statusCode"] == 200
    assert connections.of_user("alice") == ["c-2="]


@pytest.fixture
def management(aws, monkeypatch):
    monkeypatch.setenv("LIVE_MANAGEMENT_URL", "https://w1b2c3d4e5.execute-api.us-east-1.amazonaws.com/live")
    reset_clients()
    gone = set()
    original = ApiGatewayManagementApiBackend.post_to_connection

    def post(self, data, connection_id):
        if connection_id in gone:
            error = JsonRESTError("GoneException", f"{connection_id} is gone")
            error.code = 410
            raise error
        return original(self, data, connection_id)

    monkeypatch.setattr(ApiGatewayManagementApiBackend, "post_to_connection", post)
    backend = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    yield backend, gone


def order_event(user, detail_type="OrderPaid", status="paid"):
    order = {"orderId": "ord_1", "userId": user, "status": status, "payments": [], "refunds": []}
    return eventbridge_event("payments", detail_type, {"eventId": "e-1", "type": detail_type, "userId": user,
                                                       "order": order, "causedBy": None})


def test_an_event_goes_to_its_owners_connections_only_and_a_gone_one_is_removed(management, live_notify_handler):
    backend, gone = management  # (ids without API Gateway's trailing "=": moto keeps them URL-encoded)
    for connection, user in (("a-1", "alice"), ("a-2", "alice"), ("a-gone", "alice"), ("b-1", "bob")):
        connections.add(user, connection)
    gone.add("a-gone")
    result = live_notify_handler.lambda_handler(order_event("alice"), LambdaContext(function_name="LiveNotify"))
    assert result == {"sent": 2, "gone": 1, "failed": 0}
    received = {cid: json.loads(c.data) for cid, c in backend.connections.items() if c.data}
    assert sorted(received) == ["a-1", "a-2"]  # never bob's
    assert received["a-1"]["type"] == "OrderPaid" and received["a-1"]["order"]["status"] == "paid"
    assert received["a-1"]["eventId"] == "e-1"
    assert sorted(connections.of_user("alice")) == ["a-1", "a-2"]
    assert connections.of_user("bob") == ["b-1"]


def test_an_event_without_an_order_is_sent_to_nobody(management, live_notify_handler):
    backend, _ = management
    connections.add("alice", "a-1")
    event = eventbridge_event("payments", "EntitlementsChanged", {"eventId": "e-2", "userId": "alice"})
    assert live_notify_handler.lambda_handler(event, LambdaContext(function_name="LiveNotify"))["sent"] == 0
    assert not any(c.data for c in backend.connections.values())

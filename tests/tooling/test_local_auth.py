"""The local stack's JWT authorizer checks tokens as API Gateway's does, and passes claims as it does."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from devstack.local_auth import (
    LOCAL_AUDIENCE,
    LOCAL_ISSUER,
    JwtAuthorizer,
    Unauthorized,
    lambda_claims,
    load_signing_key,
    mint_token,
)
from payments.core.identity import caller_from_claims


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return load_signing_key(tmp_path_factory.mktemp("key"))


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_the_key_is_made_once_and_kept_private(tmp_path):
    first = load_signing_key(tmp_path)
    assert load_signing_key(tmp_path).kid == first.kid
    assert (tmp_path / "jwt-signing-key.json").stat().st_mode & 0o077 == 0


def test_a_minted_admin_token_reaches_the_handler_as_an_admin(key):
    claims = JwtAuthorizer(key).authorize("Bearer " + mint_token(key, "ada", admin=True))
    passed = lambda_claims(claims)
    assert passed["cognito:groups"] == "[admin]" and passed["iss"] == LOCAL_ISSUER
    assert all(isinstance(value, str) for value in passed.values())
    caller = caller_from_claims(passed)
    assert caller.user_id == "ada" and caller.is_admin


def test_a_token_without_bearer_is_accepted_as_api_gateway_does(key):
    assert JwtAuthorizer(key).authorize(mint_token(key, "bob"))["sub"] == "bob"


@pytest.mark.parametrize(("make", "why"), [
    (lambda key: None, "no token"),
    (lambda key: "Bearer not-a-jwt", "could not be decoded"),
    (lambda key: mint_token(key, "x", now=int(time.time()) - 13 * 3600), "expired"),
    (lambda key: mint_token(key, "x", issuer="https://elsewhere"), "issuer"),
    (lambda key: mint_token(key, "x", audience="another-client"), "audience"),
    (lambda key: mint_token(key, "x")[:-6] + "AAAAAA", "signature"),
    (lambda key: jwt.encode({"alg": "HS256", "kid": key.kid}, {"sub": "x"}, OctKey.generate_key(256)), "RSA"),
    (lambda key: b64({"alg": "none", "kid": key.kid}) + "." + b64({"sub": "x", "exp": time.time() + 60,
                                                                    "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE}) + ".",
     "RSA"),
    (lambda key: mint_token(key, "x", now=int(time.time()) + 600), "future"),
])
def test_tokens_api_gateway_would_refuse_are_refused(key, make, why):
    with pytest.raises(Unauthorized, match=why) as refused:
        JwtAuthorizer(key).authorize(make(key))
    assert 'error="invalid_token"' in refused.value.www_authenticate


def test_a_token_of_another_key_is_refused(key, tmp_path):
    with pytest.raises(Unauthorized, match="kid"):
        JwtAuthorizer(key).authorize(mint_token(load_signing_key(tmp_path), "eve"))


def test_an_access_token_is_checked_by_client_id_when_it_has_no_aud(key):
    now = int(time.time())
    claims = {"sub": "x", "iss": LOCAL_ISSUER, "client_id": LOCAL_AUDIENCE, "exp": now + 60, "iat": now}
    token = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
    assert JwtAuthorizer(key).authorize(token)["sub"] == "x"

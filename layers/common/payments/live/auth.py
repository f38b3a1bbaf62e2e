"""``LiveAuthorizerFunction``: the WebSocket API's ``$connect`` takes the same JWT as the HTTP API, in the query
string (``?token=``; a browser cannot set headers on a WebSocket), and it is checked as the HTTP API's JWT
authorizer checks it: an RSA signature by a key of the issuer, ``exp`` in the future (``nbf`` and ``iat``, when
present, in the past), ``iss`` the issuer, and ``aud`` one of the audiences, or ``client_id`` when there is no
``aud`` (Cognito's access tokens).

Keys come from the issuer's ``/.well-known/jwks.json`` (Cognito's location), else from its OpenID discovery
document's ``jwks_uri`` (``JWT_JWKS_URL`` may name the set directly), through PyJWT's ``PyJWKClient``: the set is
cached for the container's life and fetched again only for a key id it does not hold (a rotated key).

The answer is API Gateway's: an ``Allow`` policy for the connection, whose principal is the user id (``sub``),
or the ``Unauthorized`` error (a 401 at connect) for a missing, malformed, expired or foreign token.
"""

from __future__ import annotations

import functools
import json
import time
import urllib.request
from collections.abc import Mapping
from typing import Any

import jwt

from payments.core.config import get_settings
from payments.core.errors import ConfigurationError
from payments.core.observability import count, logger

ALGORITHMS = ["RS256", "RS384", "RS512"]
FETCH_TIMEOUT_SECONDS = 5
LEEWAY_SECONDS = 0  # API Gateway's JWT authorizer allows none either


class Refused(Exception):
    """The token is not accepted (the message says why, for the log; the client only hears Unauthorized)."""


class TokenVerifier:
    """Verify tokens of one issuer for a set of audiences, with the issuer's keys cached per container."""

    def __init__(self, issuer: str, audiences: frozenset[str], jwks_url: str | None = None):
        if not issuer:
            raise ConfigurationError("JWT_ISSUER is not set")
        if not audiences:
            raise ConfigurationError("JWT_AUDIENCE is not set")
        self.issuer, self.audiences, self.jwks_url = issuer.rstrip("/"), audiences, jwks_url
        self._keys: jwt.PyJWKClient | None = None

    def keys(self) -> jwt.PyJWKClient:
        if self._keys is None:
            self._keys = jwt.PyJWKClient(self.jwks_url or _jwks_url(self.issuer), cache_jwk_set=True,
                                         lifespan=24 * 3600, timeout=FETCH_TIMEOUT_SECONDS)
        return self._keys

    def verify(self, token: str | None, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or ``Refused``. A failure to fetch the keys raises (a 500, not a refusal)."""
        if not token:
            raise Refused("no token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise Refused("the token could not be decoded") from None
        if header.get("alg") not in ALGORITHMS:
            raise Refused("the token's algorithm is not an RSA algorithm")
        try:
            key = self.keys().get_signing_key(str(header.get("kid") or ""))
        except jwt.PyJWKClientConnectionError:
            raise
        except jwt.PyJWKClientError:
            raise Refused("the token's kid is not a key of the issuer") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, issuer=self.issuer, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "sub"], "verify_aud": False})
        except jwt.ExpiredSignatureError:
            raise Refused("the token has expired") from None
        except jwt.InvalidIssuerError:
            raise Refused("the token does not have a valid issuer") from None
        except jwt.InvalidTokenError as error:
            raise Refused(f"the token is invalid ({type(error).__name__})") from None
        moment = time.time() if now is None else now
        if isinstance(claims.get("iat"), int | float) and claims["iat"] > moment + LEEWAY_SECONDS:
            raise Refused("the token was issued in the future")
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        given = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(item, str) and item in self.audiences for item in given):
            raise Refused("the token does not have a valid audience")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Refused("the token names no user")
        return claims


def _jwks_url(issuer: str) -> str:
    """``<issuer>/.well-known/jwks.json`` when the issuer serves it (Cognito), else its discovery's ``jwks_uri``."""
    direct = f"{issuer}/.well-known/jwks.json"
    try:
        with urllib.request.urlopen(direct, timeout=FETCH_TIMEOUT_SECONDS):  # noqa: S310 (the issuer's https URL)
            return direct
    except OSError:
        pass
    try:
        with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration",  # noqa: S310
                                    timeout=FETCH_TIMEOUT_SECONDS) as answer:
            return str(json.loads(answer.read())["jwks_uri"])
    except (OSError, ValueError, KeyError, TypeError):
        return direct  # PyJWKClient reports the failure when it fetches


@functools.cache
def verifier() -> TokenVerifier:
    settings = get_settings()
    return TokenVerifier(settings.jwt_issuer or "", settings.jwt_audiences, settings.jwt_jwks_url)


def authorize(event: Mapping[str, Any]) -> dict[str, Any]:
    """A ``REQUEST`` authorizer's answer for ``$connect``: Allow as the token's user, or ``Unauthorized``."""
    token = (event.get("queryStringParameters") or {}).get("token")
    try:
        claims = verifier().verify(token)
    except Refused as why:
        logger.info("live connection refused", extra={"reason": str(why)})
        count("LiveConnectRefused")
        raise Exception("Unauthorized") from None  # API Gateway's own word for a 401
    user_id = claims["sub"]
    return {
        "principalId": user_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event.get("methodArn", "*")}]},
        "context": {"userId": user_id},
    }


def reset() -> None:
    verifier.cache_clear()

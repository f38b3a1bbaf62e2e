"""The local stack's identity: a local signing key, tokens like Cognito's, and API Gateway's JWT check.

* The key is an RSA key (RS256, as Cognito signs; API Gateway's JWT authorizer accepts only RSA keys),
  generated on first use into ``<state dir>/jwt-signing-key.json`` (``.local/`` by default, gitignored)
  and kept, so tokens survive a restart of the stack.
* :func:`mint_token` makes an ID token with Cognito's claims: ``sub`` (the user), ``cognito:groups``
  (``["admin"]`` for an admin), ``iss`` = :data:`LOCAL_ISSUER`, ``aud`` = :data:`LOCAL_AUDIENCE`,
  ``token_use``, ``auth_time``, ``iat``, ``exp``.
* :class:`JwtAuthorizer` checks a request as API Gateway's JWT authorizer does
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html): the
  token, with or without ``Bearer``; an RSA algorithm and a ``kid`` of the issuer's key; the signature;
  ``exp`` in the future, ``nbf`` and ``iat`` (when present) in the past; ``iss`` equal to the issuer;
  ``aud`` (or, only when there is no ``aud``, ``client_id``) one of the audiences. A failure is
  API Gateway's answer: 401 ``{"message":"Unauthorized"}`` with a ``www-authenticate`` header saying why.
* :func:`lambda_claims` renders the claims the way API Gateway hands them to the function: every value a
  string, a list as ``[a b]`` (so ``cognito:groups`` arrives as ``"[admin]"``).

The issuer is a fixed ``.invalid`` URL, so a token minted by ``make token`` works whichever port the
stack runs on; it is accepted by the local stack only.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

LOCAL_ISSUER = "https://local-stack.invalid/auth"
LOCAL_AUDIENCE = "local-stack-client"
KEY_FILE = "jwt-signing-key.json"
ALGORITHMS = ("RS256", "RS384", "RS512")
DEFAULT_TTL_SECONDS = 12 * 3600


def load_signing_key(state_dir: Path | str) -> RSAKey:
    """The stack's RSA key from ``state_dir``, generated (and written, owner-only) on first use."""
    path = Path(state_dir) / KEY_FILE
    if path.exists():
        return RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    key = RSAKey.generate_key(2048, parameters={"kid": f"local-{uuid.uuid4().hex[:12]}", "use": "sig"})
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(key.as_dict(private=True), handle)
    os.replace(path.with_suffix(".tmp"), path)  # two first runs at once: one key wins, both valid files
    return RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))


def mint_token(
    key: RSAKey,
    user: str,
    *,
    admin: bool = False,
    groups: Sequence[str] = (),
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    issuer: str = LOCAL_ISSUER,
    audience: str = LOCAL_AUDIENCE,
    now: int | None = None,
) -> str:
    """A signed ID token for ``user`` (``sub``), in the ``admin`` group when asked, like Cognito's."""
    if not user or not user.strip():
        raise ValueError("a token needs a user")
    issued = int(time.time()) if now is None else int(now)
    names = list(dict.fromkeys([*(["admin"] if admin else []), *groups]))
    claims: dict[str, Any] = {
        "sub": user,
        "iss": issuer,
        "aud": audience,
        "token_use": "id",
        "cognito:username": user,
        "auth_time": issued,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": str(uuid.uuid4()),
    }
    if names:
        claims["cognito:groups"] = names
    header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key)


class Unauthorized(Exception):
    """The request is not authorized; ``description`` goes into ``www-authenticate`` as API Gateway's does."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description

    @property
    def www_authenticate(self) -> str:
        return f'Bearer scope="" error="invalid_token" error_description="{self.description}"'


@dataclass(frozen=True)
class JwtAuthorizer:
    """API Gateway's JWT authorizer with one issuer whose only key is ``key``."""

    key: RSAKey
    issuer: str = LOCAL_ISSUER
    audiences: tuple[str, ...] = (LOCAL_AUDIENCE,)

    def authorize(self, authorization: str | None, now: float | None = None) -> dict[str, Any]:
        """The token's claims, or :class:`Unauthorized`."""
        token = (authorization or "").strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        if not token:
            raise Unauthorized("no token in the Authorization header")
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, UnicodeError):
            raise Unauthorized("the token could not be decoded") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("the token's algorithm is not an RSA algorithm")
        if header.get("kid") != self.key.kid:
            raise Unauthorized("the token's kid is not a key of the issuer")
        try:
            claims = jwt.decode(token, self.key, algorithms=list(ALGORITHMS)).claims
        except (JoseError, ValueError):
            raise Unauthorized("the token's signature is invalid") from None
        self._check_claims(claims, time.time() if now is None else now)
        return claims

    def _check_claims(self, claims: Mapping[str, Any], now: float) -> None:
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float) or exp <= now:
            raise Unauthorized("the token has expired")
        if nbf is not None and (not isinstance(nbf, int | float) or nbf > now):
            raise Unauthorized("the token is not valid yet")
        if iat is not None and (not isinstance(iat, int | float) or iat > now):
            raise Unauthorized("the token was issued in the future")
        if claims.get("iss") != self.issuer:
            raise Unauthorized("the token does not have a valid issuer")
        audience = claims["aud"] if "aud" in claims else claims.get("client_id")
        given = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(item, str) and item in self.audiences for item in given):
            raise Unauthorized("the token does not have a valid audience")


def lambda_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as API Gateway passes them in ``requestContext.authorizer.jwt.claims``."""

    def render(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return "[" + " ".join(render(item) for item in value) + "]"
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    return {name: render(value) for name, value in claims.items()}

"""The caller: who they are (``sub``) and whether they are an admin (the ``cognito:groups`` claim)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.errors import Forbidden, Unauthorized

ADMIN_GROUP = "admin"
GROUPS_CLAIM = "cognito:groups"


@dataclass(frozen=True)
class Caller:
    user_id: str
    groups: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("this action is for admins only", code="admin_only")

    def can_see(self, owner_id: str) -> bool:
        return self.is_admin or owner_id == self.user_id


def parse_groups(value: Any) -> frozenset[str]:
    """API Gateway passes the groups claim as a list, a JSON list in a string, or ``[a b]``: take all three."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = text[1:-1].replace(",", " ").split()
            value = decoded if isinstance(decoded, list) else [decoded]
        else:
            value = text.replace(",", " ").split()
    if isinstance(value, (list, tuple, set, frozenset)):
        return frozenset(str(item).strip() for item in value if str(item).strip())
    return frozenset()


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """The caller from the JWT authorizer's claims, or a 401 when there is no identity."""
    if not claims:
        raise Unauthorized("a valid bearer token is required")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise Unauthorized("the token has no subject")
    return Caller(user_id=sub.strip(), groups=parse_groups(claims.get(GROUPS_CLAIM)))

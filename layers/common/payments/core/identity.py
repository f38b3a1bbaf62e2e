"""The caller: who they are (``sub``, taken exactly as the token carries it) and whether they are an admin.

API Gateway passes the ``cognito:groups`` claim in one of three forms, and exactly these are read:

- a real list of strings: ``["admin", "staff"]``;
- a string holding a JSON list of strings: ``'["admin","staff"]'``;
- a bracketed, space-separated string: ``'[admin staff]'`` (how the HTTP API renders a list claim).

Anything else (``"admin"`` with quotes, ``"x,admin"``, a bare ``"admin"``, a list holding non-strings) grants no
group: an admin check must never be satisfied by a lenient parse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core.errors import Forbidden, Unauthorized
from payments.core.validation import is_clean_text

ADMIN_GROUP = "admin"
GROUPS_CLAIM = "cognito:groups"
MAX_SUBJECT_LENGTH = 256


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
    """The groups in one of the three documented forms; an empty set for anything else."""
    if isinstance(value, str):
        if not (value.startswith("[") and value.endswith("]")):
            return frozenset()
        try:
            value = json.loads(value)
        except ValueError:
            return frozenset(value[1:-1].split())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    return frozenset()


def caller_from_claims(claims: Mapping[str, Any] | None) -> Caller:
    """The caller from the JWT authorizer's claims, or a 401 when there is no usable identity."""
    if not claims:
        raise Unauthorized("a valid bearer token is required")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > MAX_SUBJECT_LENGTH or not is_clean_text(sub):
        raise Unauthorized("the token has no usable subject")
    return Caller(user_id=sub, groups=parse_groups(claims.get(GROUPS_CLAIM)))

"""The caller, from JWT claims as API Gateway passes them."""

import pytest

from payments.errors import Unauthorized
from payments.identity import caller_from_claims, parse_groups


@pytest.mark.parametrize("claim", [["admin", "staff"], '["admin","staff"]', "[admin staff]", "admin staff",
                                   '["staff", "admin"]'])
def test_the_groups_claim_in_every_form_api_gateway_uses(claim):
    assert parse_groups(claim) == {"admin", "staff"}


@pytest.mark.parametrize("claim", [None, "", "[]", [], '["staff"]', "[administrators]"])
def test_not_admin(claim):
    assert not caller_from_claims({"sub": "u1", "cognito:groups": claim}).is_admin


def test_admin_and_ownership():
    admin = caller_from_claims({"sub": "a", "cognito:groups": "[admin]"})
    user = caller_from_claims({"sub": "u"})
    assert admin.is_admin and admin.can_see("someone-else")
    assert user.can_see("u") and not user.can_see("v")


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"sub": 5}, {"cognito:groups": ["admin"]}])
def test_no_identity_is_unauthorized(claims):
    with pytest.raises(Unauthorized):
        caller_from_claims(claims)

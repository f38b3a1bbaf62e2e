"""The caller, from JWT claims as API Gateway passes them."""

import pytest

from payments.core.errors import Unauthorized
from payments.core.identity import caller_from_claims, parse_groups


@pytest.mark.parametrize("claim", [["admin", "staff"], '["admin","staff"]', "[admin staff]", '["staff", "admin"]'])
def test_the_groups_claim_in_the_three_forms_api_gateway_uses(claim):
    assert parse_groups(claim) == {"admin", "staff"}


@pytest.mark.parametrize("claim", [
    None, "", "[]", [], '["staff"]', "[administrators]",
    "x,admin", '"admin"', "admin", "admin staff", "[x,admin]", '["x,admin"]', " [admin]", ["admin "], [" admin"],
    ["admin", 5], [["admin"]], {"admin": True}, '{"admin": 1}', 1, True])
def test_only_the_three_documented_forms_make_an_admin(claim):
    assert not caller_from_claims({"sub": "u1", "cognito:groups": claim}).is_admin


def test_admin_and_ownership():
    admin = caller_from_claims({"sub": "a", "cognito:groups": "[admin]"})
    user = caller_from_claims({"sub": "u"})
    assert admin.is_admin and admin.can_see("someone-else")
    assert user.can_see("u") and not user.can_see("v")


def test_the_subject_is_taken_exactly_as_the_token_carries_it():
    assert caller_from_claims({"sub": " alice "}).user_id == " alice "
    assert not caller_from_claims({"sub": " alice "}).can_see("alice")


@pytest.mark.parametrize("claims", [None, {}, {"sub": ""}, {"sub": 5}, {"cognito:groups": ["admin"]},
                                    {"sub": "\ud800"}, {"sub": "a\x00b"}, {"sub": "x" * 257}])
def test_no_identity_is_unauthorized(claims):
    with pytest.raises(Unauthorized):
        caller_from_claims(claims)

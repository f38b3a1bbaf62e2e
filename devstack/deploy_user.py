"""``make deploy-user USER=ada@example.com [ADMIN=1] [STACK=payments]``: a user of a deployed stack, and a token.

For a stack that created its own Cognito user pool (``JwtIssuer`` left empty): creates the user (the pool signs
users in by email) or takes the existing one, gives it a new random password, puts it in the ``admin`` group when
asked, signs it in with ``ADMIN_USER_PASSWORD_AUTH`` (the stack's app client allows it for this) and prints the
ID token on stdout: ``Authorization: Bearer <it>``, valid one hour. What it did goes to stderr, so
``TOKEN=$(make -s deploy-user USER=...)`` keeps only the token. It uses your AWS credentials (the
``cognito-idp:Admin*`` and ``cloudformation:DescribeStacks`` actions); the pool and client ids come from the
stack's outputs ``UserPoolId`` and ``UserPoolClientId`` (or ``--user-pool-id`` / ``--client-id``).

The password is never shown: the user chooses their own through the pool's "forgot password" flow.
"""

from __future__ import annotations

import argparse
import secrets
import string
import sys
from typing import Any

ADMIN_GROUP = "admin"


class DeployUserError(Exception):
    """What is wrong, said for the person at the terminal."""


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as error:
        raise DeployUserError(f"cannot read stack {stack!r} ({error}); deployed under another name? STACK=...") \
            from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def random_password() -> str:
    """Meets Cognito's default policy: 32 characters with every class."""
    alphabet = string.ascii_letters + string.digits
    chosen = [secrets.choice(alphabet) for _ in range(28)]
    return "".join(chosen) + secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase) + \
        secrets.choice(string.digits) + "!"


def ensure_user(cognito: Any, pool_id: str, client_id: str, email: str, *, admin: bool,
                say: Any = None) -> str:
    """The user ``email`` exists (in the admin group when ``admin``); returns a fresh ID token for it."""
    say = say or (lambda text: print(text, file=sys.stderr))
    try:
        cognito.admin_create_user(UserPoolId=pool_id, Username=email, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": email},
                                                  {"Name": "email_verified", "Value": "true"}])
        say(f"created user {email}")
    except cognito.exceptions.UsernameExistsException:
        say(f"user {email} exists")
    password = random_password()
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    if admin:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=ADMIN_GROUP)
        say(f"{email} is in the {ADMIN_GROUP} group")
    try:
        answer = cognito.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                                             AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                             AuthParameters={"USERNAME": email, "PASSWORD": password})
    except cognito.exceptions.InvalidParameterException as error:
        raise DeployUserError(f"the app client does not allow ADMIN_USER_PASSWORD_AUTH ({error}): deploy the "
                              "current template, whose UserPoolClient allows it") from None
    return str(answer["AuthenticationResult"]["IdToken"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.deploy_user", description=__doc__.split("\n")[0])
    parser.add_argument("--user", required=True, help="the user's email (the pool signs users in by email)")
    parser.add_argument("--admin", action="store_true", help="put the user in the admin group")
    parser.add_argument("--stack", default="payments", help="the stack's name (default %(default)s)")
    parser.add_argument("--region", default=None, help="default: your AWS configuration's")
    parser.add_argument("--user-pool-id", default=None)
    parser.add_argument("--client-id", default=None)
    args = parser.parse_args(argv)
    if "@" not in args.user:
        print("error: USER must be an email address (the pool signs users in by email)", file=sys.stderr)
        return 2
    import boto3

    try:
        pool_id, client_id = args.user_pool_id, args.client_id
        if not (pool_id and client_id):
            outputs = stack_outputs(boto3.client("cloudformation", region_name=args.region), args.stack)
            if "UserPoolId" not in outputs:
                raise DeployUserError(f"stack {args.stack} has no UserPoolId output: it uses your own identity "
                                      "provider (JwtIssuer); make users and tokens there")
            pool_id, client_id = outputs["UserPoolId"], outputs["UserPoolClientId"]
        token = ensure_user(boto3.client("cognito-idp", region_name=args.region), pool_id, client_id, args.user,
                            admin=args.admin)
    except DeployUserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())

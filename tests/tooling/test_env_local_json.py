"""``env.local.json``: the variables ``sam local ... --env-vars env.local.json`` gives each function, so a
Docker user runs the handlers against the local stack's DynamoDB and Stripe emulator."""

from __future__ import annotations

import json

import pytest

from devstack.local_functions import read_functions
from devstack.local_stack import ENV_FILE, sam_env_file
from devstack.template import TEMPLATE, load_template

REGENERATE = "regenerate it: make env.local.json"


def template_functions() -> set[str]:
    resources = load_template(TEMPLATE)["Resources"]
    return {name for name, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}


@pytest.fixture(scope="module")
def env_file() -> dict:
    return json.loads(ENV_FILE.read_text(encoding="utf-8"))


def test_every_function_of_the_template_has_an_entry_and_every_entry_is_a_function(env_file):
    assert set(env_file) - template_functions() == set(), f"entries for functions the template lacks; {REGENERATE}"
    assert template_functions() - set(env_file) == set(), f"functions without an entry; {REGENERATE}"


def test_the_file_is_what_the_local_stack_sets(env_file):
    assert env_file == sam_env_file(read_functions(TEMPLATE)), f"env.local.json has drifted; {REGENERATE}"


def test_each_function_reaches_the_local_services_from_a_container(env_file):
    for name, env in env_file.items():
        assert env["AWS_ENDPOINT_URL_DYNAMODB"] == "http://host.docker.internal:8000", name
        assert env["STRIPE_API_BASE"] == "http://host.docker.internal:8420", name
        assert env["STRIPE_SECRET_KEY"].startswith("sk_test_"), name
        assert env["ORDERS_TABLE_NAME"] == "OrdersTable", name
    assert env_file["PaymentCallbackFunction"]["STRIPE_WEBHOOK_SECRET"] == "whsec_local_payment"
    assert env_file["RefundCallbackFunction"]["STRIPE_WEBHOOK_SECRET"] == "whsec_local_refund"


def test_sam_local_applies_every_variable_because_the_template_declares_it(env_file):
    # sam local passes a function only the variables its template declares (aws/aws-sam-cli#6145)
    functions = {f.logical_id: f for f in read_functions(TEMPLATE)}
    for name, env in env_file.items():
        undeclared = sorted(set(env) - set(functions[name].environment))
        assert not undeclared, f"{name}: sam local would ignore {undeclared}"

"""Every sample event under events/ is a request the product answers with a success, on the records it names.

The samples are what a developer with Docker hands to ``sam local invoke``, and what the bench measures: each one,
through its real handler, with the function's environment as the template deploys it (secrets in Secrets
Manager), on the state its case needs (``bench.scenarios.GIVEN``) and Stripe answered by the bench's stub. A
callback sample is delivered twice: the second delivery is a ``duplicate``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import Function, bench_parameters, count_operations, process_env, samples
from bench.scenarios import CALLBACK_ENDPOINTS
from bench.stripe_stub import StripeStub
from devstack.template import load_template

# A sample whose case changes nothing, by design: ignored is its success.
IGNORED_BY_DESIGN = {"refund_callback/refund_created": "the refund it reports is already recorded as pending"}


@pytest.fixture(scope="module")
def outcomes():
    template = load_template()
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            folder = str(resource["Properties"]["CodeUri"]).rstrip("/").split("/")[-1]
            functions[folder] = Function(logical_id, folder, Path("functions") / folder, "app.lambda_handler")
    # as deployed: the keys come from the secret (an empty variable is cleared, and put back afterwards)
    try:
        with StripeStub() as stub, process_env({"STRIPE_SECRET_KEY": "", "STRIPE_PUBLISHABLE_KEY": "",
                                                "STRIPE_API_BASE": stub.url}):
            yield {o.sample.key: o for o in count_operations(functions, stub, template)}
    finally:
        import payments

        payments.reset_caches()


def test_the_bench_deploys_with_the_templates_parameters():
    assert set(bench_parameters()) <= set(load_template()["Parameters"])


def _requests() -> list[str]:
    """The samples of functions that answer requests (HTTP API routes, Function URLs): the ones with a status.
    Stream, bus and WebSocket functions' samples are checked by their own tests."""
    resources = load_template()["Resources"]
    answering = {str(r["Properties"]["CodeUri"]).rstrip("/").split("/")[-1] for r in resources.values()
                 if r.get("Type") == "AWS::Serverless::Function" and (
                     r["Properties"].get("FunctionUrlConfig")
                     or any(e.get("Type") == "HttpApi" for e in (r["Properties"].get("Events") or {}).values()))}
    return [s.key for s in samples() if s.folder in answering]


@pytest.mark.parametrize("key", _requests())
def test_the_sample_reaches_a_success(outcomes, key):
    outcome = outcomes[key]
    assert outcome.error is None and outcome.status is not None and 200 <= outcome.status < 300, (
        outcome.status, outcome.error)
    if outcome.sample.folder in CALLBACK_ENDPOINTS:
        if key in IGNORED_BY_DESIGN:
            assert (outcome.result, outcome.duplicate_result) == ("ignored", "ignored")
        else:
            assert (outcome.result, outcome.duplicate_result) == ("processed", "duplicate")

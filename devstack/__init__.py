"""Local tooling for the payments backend: what ``make dev``, ``make demo``, the bench and the tests run.

Nothing here is deployed; the product is ``template.yaml``, ``functions/`` and ``layers/``.

* ``local_stack`` (``make dev``): the whole product on loopback, from ``template.yaml`` (``template``,
  ``local_functions``), serving through ``local_http`` (API Gateway and Function URLs, the page in
  ``demo_page/``), ``local_auth`` (tokens and the JWT authorizer), ``local_dynamodb`` (moto) and
  ``handlers`` (loading and running the handlers);
* ``stripe_emulator/``: localstripe with this project's extensions, and ``stripe_js/`` for the page;
* ``lambda_events/``, ``lambda_context``, ``stripe_events`` and ``stripe_fixtures/``: the events, contexts
  and Stripe payloads handlers get, for the local stack, the tests, the bench and ``make_sample_events``;
* ``loopback``: the one HTTP server every local server runs on;
* ``stack_process``: the local stack as a child process, for ``demo`` (``make demo``) and the tests.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

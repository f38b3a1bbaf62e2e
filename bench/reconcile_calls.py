"""``python -m bench.reconcile_calls [--events 100]``: what ReconcileFunction costs, in calls.

AWS is moto in this process (the template's tables), Stripe the project's emulator (a child process). N one-time
payments are made through the real checkout handler and paid at the emulator, with no webhook delivered (no
endpoint is registered): every ``payment_intent.succeeded`` is missed. Then:

1. a first scheduled run recovers them all: calls per event recovered;
2. a second run finds every event in the ledger (the common case, when the webhooks got everything): calls per
   100 events seen.

DynamoDB calls are counted at botocore, Stripe calls at the stripe SDK's HTTP client. Calls the run makes once
whatever the number of events (the checkpoint, the two pending-index queries) are shown apart.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections import Counter
from typing import Any


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reconcile_calls", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args(argv)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION":
                       "us-east-1", "AWS_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_NAMESPACE": "Bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
                       "STRIPE_PUBLISHABLE_KEY": "pk_test_bench"})
    for name in ("AWS_ENDPOINT_URL_DYNAMODB", "STRIPE_SECRET_ARN"):
        os.environ.pop(name, None)

    from devstack.handlers import LAYER, load_handler, mount_layers

    mount_layers([LAYER])
    import boto3
    import stripe
    from botocore.client import BaseClient
    from moto import mock_aws

    import payments
    from devstack.lambda_context import LambdaContext
    from devstack.lambda_events import http_api_event, user_claims
    from devstack.stripe_emulator import StripeEmulator
    from devstack.template import create_tables

    dynamodb: Counter[str] = Counter()
    stripe_calls: Counter[str] = Counter()
    original_call = BaseClient._make_api_call
    original_request = stripe.RequestsClient.request

    def counting_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            dynamodb[operation] += 1
        return original_call(client, operation, params)

    def counting_request(self: Any, method: str, url: str, *rest: Any, **kwargs: Any) -> Any:
        stripe_calls[f"{method.upper()} {url.split('?')[0].split('/v1/')[-1]}"] += 1
        return original_request(self, method, url, *rest, **kwargs)

    with StripeEmulator() as emulator, mock_aws():
        os.environ.update({"STRIPE_API_BASE": emulator.url, "STRIPE_SECRET_KEY": emulator.api_key})
        payments.reset_caches()
        create_tables(boto3.client("dynamodb", region_name="us-east-1"))
        orders, checkout, reconcile = (load_handler(n) for n in ("orders", "checkout", "reconcile"))
        client = emulator.client()
        admin = user_claims("admin-bench", groups=["admin"])
        print(f"making {args.events} payments whose webhooks are all missed ...", file=sys.stderr)
        with contextlib.redirect_stdout(io.StringIO()):
            for i in range(args.events):
                user = f"user-{i}"
                order = _json(orders.lambda_handler(http_api_event(
                    "POST", "/orders", claims=admin,
                    body={"userId": user, "amount": 1000, "currency": "usd"}), LambdaContext()))
                paid = _json(checkout.lambda_handler(http_api_event(
                    "POST", "/checkout", claims=user_claims(user), body={"orderId": order["orderId"]}),
                    LambdaContext()))
                intent = paid["clientSecret"].split("_secret_")[0]
                client.v1.payment_intents.update(intent, {"payment_method": "pm_card_visa"})
                client.v1.payment_intents.confirm(intent)

        def run() -> tuple[dict[str, Any], Counter[str], Counter[str]]:
            dynamodb.clear()
            stripe_calls.clear()
            BaseClient._make_api_call = counting_call  # type: ignore[method-assign]
            stripe.RequestsClient.request = counting_request  # type: ignore[method-assign]
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    summary = reconcile.lambda_handler({"reconcile": "scheduled"},
                                                       LambdaContext(remaining_ms=300_000))
            finally:
                BaseClient._make_api_call = original_call  # type: ignore[method-assign]
                stripe.RequestsClient.request = original_request  # type: ignore[method-assign]
            return summary, Counter(dynamodb), Counter(stripe_calls)

        recovered, ddb_first, stripe_first = run()
        nothing_missed, ddb_again, stripe_again = run()

    fixed = {"GetItem": 1, "UpdateItem": 1, "Query": 2}  # checkpoint read + write, the two pending queries
    print(f"\nReconcileFunction, {args.events} events (Stripe: the emulator; DynamoDB: moto)\n")
    for title, summary, ddb, calls in (("first run: every event missed", recovered, ddb_first, stripe_first),
                                       ("second run: nothing missed", nothing_missed, ddb_again, stripe_again)):
        print(f"{title}: {summary}")
        print(f"  DynamoDB {sum(ddb.values())}: {dict(sorted(ddb.items()))}")
        print(f"  Stripe   {sum(calls.values())}: {dict(sorted(calls.items()))}")
    seen = max(nothing_missed["eventsSeen"], 1)
    per_run = sum(min(ddb_again[k], v) for k, v in fixed.items())
    print(f"\nnothing missed, per 100 events seen: {100 * (sum(ddb_again.values()) - per_run) / seen:.1f} DynamoDB "
          f"(+ {per_run} per run: checkpoint, pending queries), {100 * sum(stripe_again.values()) / seen:.1f} Stripe")
    applied = max(recovered["eventsApplied"], 1)
    print(f"per event recovered: {(sum(ddb_first.values()) - per_run) / applied:.2f} DynamoDB, "
          f"{sum(stripe_first.values()) / applied:.2f} Stripe (listing, shared by the page)")
    return 0


def _json(response: dict[str, Any]) -> Any:
    import json

    if response.get("statusCode", 0) >= 300:
        raise RuntimeError(f"setup call failed: {response}")
    return json.loads(response["body"])


if __name__ == "__main__":
    sys.exit(main())

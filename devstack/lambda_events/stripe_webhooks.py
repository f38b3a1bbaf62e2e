"""Stripe webhook deliveries as the callbacks' Function URLs receive them: signed events, re-signed samples.

Command line (re-sign a stored callback sample, whose signature goes stale after Stripe's 300 s)::

    python -m devstack.lambda_events resign events/payment_callback/x.json --secret whsec_... > /tmp/x.json
"""

from __future__ import annotations

import argparse
import base64 as b64
import copy
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devstack.lambda_events.common import load_event, request_time
from devstack.lambda_events.http import function_url_event
from devstack.stripe_events import encode_event, sign_payload

# Signing secrets of the callback endpoints in local development and in the sample events.
LOCAL_WEBHOOK_SECRETS = {
    "payment": "whsec_local_payment",
    "refund": "whsec_local_refund",
    "subscription": "whsec_local_subscription",
    "renewal": "whsec_local_renewal",
    "connect": "whsec_local_connect",
    "usage": "whsec_local_usage",
}


def signed_webhook_event(
    stripe_event: dict[str, Any],
    secret: str,
    *,
    base64: bool = False,
    timestamp: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """``stripe_event`` encoded, signed with ``secret`` at ``timestamp`` (now by default) and
    delivered as a Function URL event, the way Stripe calls a webhook endpoint."""
    raw = encode_event(stripe_event)
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return function_url_event(
        raw,
        headers={
            "content-type": "application/json; charset=utf-8",
            "stripe-signature": sign_payload(raw, secret, ts),
        },
        base64=base64,
        request_id=request_id,
        time_epoch_ms=ts * 1000 + 250,
    )


def event_body_bytes(event: Mapping[str, Any]) -> bytes:
    """The raw request body of a Lambda proxy event, base64-decoded when the event says so."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return b64.b64decode(body)
    return str(body).encode("utf-8")


def resign_event(event: dict[str, Any], secret: str, timestamp: int | None = None) -> dict[str, Any]:
    """A copy of Function URL ``event`` with its ``stripe-signature`` made again over the same raw
    body (base64 bodies included) at ``timestamp`` (now by default), and its request time moved
    to match. The body is not touched, so the copy verifies exactly as a fresh delivery would."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    fresh = copy.deepcopy(event)
    headers = {k: v for k, v in (fresh.get("headers") or {}).items() if k.lower() != "stripe-signature"}
    headers["stripe-signature"] = sign_payload(event_body_bytes(fresh), secret, ts)
    fresh["headers"] = headers
    context = fresh.get("requestContext")
    if isinstance(context, dict):
        epoch_ms = ts * 1000 + 250
        context["time"] = request_time(epoch_ms)
        context["timeEpoch"] = epoch_ms
    return fresh


def local_secret_for(path: str | os.PathLike[str]) -> str | None:
    """The local signing secret for a sample under ``events/<kind>_callback/``, if any."""
    folder = Path(path).resolve().parent.name
    kind = folder.removesuffix("_callback")
    return LOCAL_WEBHOOK_SECRETS.get(kind) if folder.endswith("_callback") else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m devstack.lambda_events resign PATH [--secret S] [--timestamp T]``: the event, re-signed."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.lambda_events", description="Re-sign a stored Stripe callback sample event."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    resign = commands.add_parser("resign", help="re-sign a Function URL sample event with the current time")
    resign.add_argument(
        "path", help="sample event file, e.g. events/payment_callback/payment_intent_succeeded.json"
    )
    resign.add_argument(
        "--secret",
        help="webhook signing secret (default: the local secret for the sample's folder, "
        "e.g. whsec_local_payment for events/payment_callback/)",
    )
    resign.add_argument("--timestamp", type=int, help="signature time, epoch seconds (default: now)")
    args = parser.parse_args(argv)

    secret = args.secret or local_secret_for(args.path)
    if not secret:
        parser.error(f"--secret is required for {args.path} (not under events/<kind>_callback/)")
    event = resign_event(load_event(args.path), secret, args.timestamp)
    json.dump(event, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0

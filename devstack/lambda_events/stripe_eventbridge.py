"""Stripe events as an EventBridge rule invokes a callback with them: the partner event's envelope.

A Stripe event destination of type ``amazon_eventbridge`` (snapshot payload) puts each event on the partner event
bus with ``source`` = the partner event source (``aws.partner/stripe.com/ed_...``), ``detail-type`` = the Stripe
event type and ``detail`` = the event itself. The rule's target (the callback) gets that envelope as its event,
with no HTTP request around it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from devstack.lambda_events.common import ACCOUNT_ID, REGION

EXAMPLE_SOURCE = "aws.partner/stripe.com/ed_61Rexample0000000000000000000000"


def stripe_eventbridge_event(stripe_event: Mapping[str, Any], *, source: str = EXAMPLE_SOURCE,
                             event_id: str | None = None) -> dict[str, Any]:
    """The envelope EventBridge hands a rule's Lambda target for ``stripe_event``."""
    created = int(stripe_event.get("created") or time.time())
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"eventbridge#{stripe_event.get('id')}")),
        "detail-type": str(stripe_event.get("type")),
        "source": source,
        "account": ACCOUNT_ID,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "region": REGION,
        "resources": [],
        "detail": dict(stripe_event),
    }

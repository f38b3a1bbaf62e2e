"""A Stripe event, as a webhook delivers it (verified, then read into ``StripeEvent``) or as EventBridge does.

``verify`` checks the ``Stripe-Signature`` header over the raw body (base64-decoded when the Function URL says
so) with the stripe SDK's own ``WebhookSignature.verify_header`` and Stripe's 300 s tolerance, before anything
else. A bad or missing signature, a body that is not a Stripe event, or text that cannot be stored (a lone
surrogate such as ``"\\ud800"``) is ``WebhookRejected`` (400): nothing is written.

A thin event (an event destination's notification, ``"object": "v2.core.event"``: ``id``, ``type``, an ISO
``created`` and the ``related_object`` it is about, no snapshot) is read into the same ``StripeEvent``: ``thin``
is set, ``object`` is the related object (``{"id", "type", "url"}``) and ``created`` Stripe's time in seconds.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payments.core.errors import WebhookRejected
from payments.stripe.objects import is_stripe_id

SIGNATURE_TOLERANCE_SECONDS = 300


@dataclass(frozen=True)
class StripeEvent:
    id: str
    type: str
    created: int  # Stripe's clock: compared only with other Stripe stamps
    object: Mapping[str, Any]
    livemode: bool = False
    account: str | None = None  # set on events about a connected account (Connect)
    thin: bool = False  # a thin notification (v2 event): ``object`` is its related object

    @property
    def metadata(self) -> dict[str, str]:
        value = self.object.get("metadata")
        if not isinstance(value, Mapping):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    @classmethod
    def from_payload(cls, payload: Any) -> StripeEvent:
        def reject() -> WebhookRejected:
            return WebhookRejected("the body is not a Stripe event", code="malformed_event")

        if isinstance(payload, Mapping) and payload.get("object") == "v2.core.event":
            return cls._from_thin(payload)
        if not isinstance(payload, Mapping) or payload.get("object") != "event":
            raise reject()
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
        livemode, account = payload.get("livemode", False), payload.get("account")
        if (not is_stripe_id(event_id, "evt_") or not isinstance(event_type, str) or len(event_type) > 100
                or not isinstance(obj, Mapping) or isinstance(created, bool) or not isinstance(created, int)
                or not isinstance(livemode, bool) or not (account is None or is_stripe_id(account, "acct_"))):
            raise reject()
        return cls(id=str(event_id), type=event_type, created=created, object=obj, livemode=livemode,
                   account=account)

    @classmethod
    def _from_thin(cls, payload: Mapping[str, Any]) -> StripeEvent:
        from datetime import datetime

        event_id, event_type, created = payload.get("id"), payload.get("type"), payload.get("created")
        related, livemode, context = payload.get("related_object"), payload.get("livemode", False), payload.get(
            "context")
        try:
            stamp = int(datetime.fromisoformat(str(created).replace("Z", "+00:00")).timestamp())
        except ValueError:
            stamp = -1
        if (not is_stripe_id(event_id, "evt_") or not isinstance(event_type, str) or len(event_type) > 100
                or stamp < 0 or not isinstance(livemode, bool)
                or not (related is None or (isinstance(related, Mapping) and is_stripe_id(related.get("id"))))
                or not (context is None or is_stripe_id(context, "acct_"))):
            raise WebhookRejected("the body is not a Stripe event", code="malformed_event")
        return cls(id=str(event_id), type=event_type, created=stamp, object=related or {}, livemode=livemode,
                   account=context, thin=True)


def _storable(value: Any) -> bool:
    """True when every string in ``value`` is valid UTF-8 (JSON can carry lone surrogates, which it is not)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def verify(lambda_event: Mapping[str, Any], secret: str) -> StripeEvent:
    """The verified Stripe event in a Function URL request, or ``WebhookRejected``."""
    import stripe

    headers = {str(k).lower(): v for k, v in (lambda_event.get("headers") or {}).items()}
    signature = headers.get("stripe-signature")
    if not signature or not isinstance(signature, str):
        raise WebhookRejected("the Stripe-Signature header is missing", code="missing_signature")
    body = lambda_event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if lambda_event.get("isBase64Encoded") else body.encode()
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise WebhookRejected("the body is not valid UTF-8", code="malformed_body") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        raise WebhookRejected("the Stripe signature does not verify", code="invalid_signature") from None
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise WebhookRejected("the body is not JSON", code="malformed_event") from None
    if not _storable(payload):
        raise WebhookRejected("the event holds text that is not valid UTF-8 (a lone surrogate)",
                              code="malformed_event")
    return StripeEvent.from_payload(payload)


def from_eventbridge(envelope: Mapping[str, Any]) -> StripeEvent:
    """The Stripe event an EventBridge envelope carries in ``detail`` (a snapshot event destination), or
    ``WebhookRejected`` when it carries none. There is no signature: AWS authenticated the partner source."""
    detail = envelope.get("detail")
    if isinstance(detail, str):  # some tools hand the detail on as JSON text
        try:
            detail = json.loads(detail)
        except (ValueError, RecursionError):
            raise WebhookRejected("the envelope's detail is not JSON", code="malformed_event") from None
    if not _storable(detail):
        raise WebhookRejected("the event holds text that is not valid UTF-8 (a lone surrogate)", code="malformed_event")
    return StripeEvent.from_payload(detail)

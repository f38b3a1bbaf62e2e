"""A Stripe event, as a webhook delivers it (verified, then read into ``StripeEvent``) or as EventBridge does.

``verify`` checks the ``Stripe-Signature`` header over the raw body (base64-decoded when the Function URL says
so) with the stripe SDK's own ``WebhookSignature.verify_header`` and Stripe's 300 s tolerance, before anything
else. A bad or missing signature, a body that is not a Stripe event, or text that cannot be stored (a lone
surrogate such as ``"\\ud800"``) is ``WebhookRejected`` (400): nothing is written.
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

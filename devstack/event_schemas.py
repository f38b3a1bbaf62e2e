"""Write the JSON Schema of each domain event's ``detail`` under ``docs/events/`` (one self-contained file per
``DetailType``, draft 2020-12), from the definitions below.

    python -m devstack.event_schemas            # rewrite docs/events/*.schema.json
    python -m devstack.event_schemas --check    # exit 1 if a file differs from what it would write

The tests validate every event the product publishes against these files, and check that they are current.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from devstack import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "docs" / "events"
BASE_URL = "https://github.com/payments-backend/schemas/events/"

TIME = {"type": "string", "format": "date-time", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"}
NULLABLE_STRING = {"type": ["string", "null"]}
PAYMENT_STATUS = ["pending", "succeeded", "failed", "canceled"]
REFUND_STATUS = ["pending", "succeeded", "failed", "canceled"]
ORDER_STATUS = ["pending", "paid", "partially_refunded", "refunded", "amount_mismatch"]

PAYMENT = {
    "type": "object",
    "required": ["paymentId", "amount", "currency", "status", "amountRefunded", "stripePaymentIntentId"],
    "properties": {
        "paymentId": {"type": "string", "pattern": "^pay_"}, "amount": {"type": "integer", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[a-z]{3}$"}, "status": {"enum": PAYMENT_STATUS},
        "amountRefunded": {"type": "integer", "minimum": 0}, "stripePaymentIntentId": NULLABLE_STRING,
        "stripeCheckoutSessionId": {"type": "string"}, "createdAt": TIME, "failureCode": NULLABLE_STRING,
        "failureMessage": NULLABLE_STRING,
    },
}
REFUND = {
    "type": "object",
    "required": ["refundId", "paymentId", "amount", "currency", "status", "stripeRefundId"],
    "properties": {
        "refundId": {"type": "string", "pattern": "^ref_"}, "paymentId": {"type": "string", "pattern": "^pay_"},
        "amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        "status": {"enum": REFUND_STATUS}, "stripeRefundId": NULLABLE_STRING, "createdAt": TIME,
        "failureReason": NULLABLE_STRING,
    },
}
SUBSCRIPTION = {
    "type": "object",
    "required": ["recurringPaymentId", "stripeSubscriptionId", "priceId", "status", "cancelAtPeriodEnd",
                 "currentPeriodEnd"],
    "properties": {
        "recurringPaymentId": {"type": "string", "pattern": "^sub_rec_"}, "stripeSubscriptionId": NULLABLE_STRING,
        "priceId": {"type": "string"}, "status": {"type": "string"}, "cancelAtPeriodEnd": {"type": "boolean"},
        "currentPeriodEnd": {"anyOf": [TIME, {"type": "null"}]},
    },
}
SELLER = {
    "type": "object",
    "required": ["sellerId", "stripeAccountId", "status", "chargesEnabled", "payoutsEnabled", "detailsSubmitted",
                 "requirementsDue"],
    "properties": {
        "sellerId": {"type": "string", "pattern": "^sel_"}, "stripeAccountId": NULLABLE_STRING,
        "status": {"enum": ["onboarding", "active", "restricted"]}, "chargesEnabled": {"type": "boolean"},
        "payoutsEnabled": {"type": "boolean"}, "detailsSubmitted": {"type": "boolean"},
        "requirementsDue": {"type": "array", "items": {"type": "string"}},
    },
}
ENTITLEMENTS = {
    "type": "array",
    "items": {"type": "object", "required": ["lookupKey", "featureId"], "additionalProperties": False,
              "properties": {"lookupKey": {"type": "string"}, "featureId": {"type": "string"}}},
}
#: The entities whose events carry no order (the detail names the entity's user instead)
WITHOUT_ORDER = ("entitlements", "seller")
ORDER = {
    "type": "object",
    "required": ["orderId", "userId", "kind", "amount", "currency", "description", "status", "parentOrderId",
                 "createdAt", "updatedAt", "payments", "refunds", "subscription"],
    "properties": {
        "orderId": {"type": "string", "pattern": "^ord_"}, "userId": {"type": "string", "minLength": 1},
        "kind": {"type": "string", "examples": ["one_time", "subscription", "renewal"]},
        "amount": {"type": "integer", "minimum": 0}, "currency": {"type": "string", "pattern": "^[a-z]{3}$"},
        "description": {"type": "string"}, "status": {"enum": ORDER_STATUS}, "parentOrderId": NULLABLE_STRING,
        "createdAt": TIME, "updatedAt": TIME,
        "payments": {"type": "array", "items": {"$ref": "#/$defs/payment"}},
        "refunds": {"type": "array", "items": {"$ref": "#/$defs/refund"}},
        "subscription": {"anyOf": [{"$ref": "#/$defs/subscription"}, {"type": "null"}]},
        "items": {"type": "array", "items": {"type": "object", "required": ["priceId", "quantity"]}},
    },
}

#: DetailType -> (what it says, the entity it names besides the order, that entity's possible previous statuses)
TYPES: dict[str, tuple[str, str | None, list[Any]]] = {
    "OrderCreated": ("An order was created (through the API, or a renewal order by its invoice).", None, [None]),
    "OrderPaid": ("An order was paid: its payment succeeded for the order's amount and currency.", None,
                  [None, "pending"]),
    "OrderAmountMismatch": ("A payment succeeded for an order with another amount or currency; the order waits "
                            "for a person.", None, [None, "pending"]),
    "OrderPartiallyRefunded": ("Part of the payment that paid the order was refunded.", None,
                               ["paid", "amount_mismatch"]),
    "OrderRefunded": ("All of the payment that paid the order was refunded.", None,
                      ["paid", "partially_refunded", "amount_mismatch"]),
    "PaymentSucceeded": ("A payment succeeded (the money arrived).", "payment", [None, "pending", "failed"]),
    "PaymentFailed": ("A payment attempt failed (it may still succeed later on the same PaymentIntent).", "payment",
                      [None, "pending"]),
    "PaymentCanceled": ("A payment attempt was canceled or replaced (its PaymentIntent or Session can no longer "
                        "take money).", "payment", [None, "pending", "failed"]),
    "RefundSucceeded": ("A refund succeeded (ours, automatic, or made in the Stripe Dashboard).", "refund",
                        [None, "pending", "failed"]),
    "RefundFailed": ("A refund failed; its amount is refundable again.", "refund", [None, "pending", "succeeded"]),
    "SubscriptionStarted": ("A subscription became active or trialing for the first time.", "subscription",
                            [None, "incomplete", "incomplete_expired", "failed"]),
    "SubscriptionUpdated": ("A started subscription changed its status, cancel at period end, period or price.",
                            "subscription", None),
    "SubscriptionCanceled": ("A subscription ended.", "subscription", None),
    "EntitlementsChanged": ("What a user may use changed (Stripe's active entitlement summary): the whole list "
                            "now.", "entitlements", [None]),
    "SellerUpdated": ("A seller was created, or their status, capabilities or requirements changed "
                      "(account.updated).", "seller", [None, "onboarding", "active", "restricted"]),
}


def schema_for(detail_type: str) -> dict[str, Any]:
    description, entity, previous = TYPES[detail_type]
    definitions: dict[str, Any] = {"payment": PAYMENT, "refund": REFUND, "subscription": SUBSCRIPTION,
                                   "seller": SELLER, "entitlements": ENTITLEMENTS}
    previous_schema: dict[str, Any] = ({"enum": previous} if previous is not None else NULLABLE_STRING)
    properties: dict[str, Any] = {
        "eventId": {"type": "string", "format": "uuid", "description": "The same on every delivery of this event: "
                    "deduplicate by it."},
        "type": {"const": detail_type},
        "occurredAt": {**TIME, "description": "When the change was made (UTC)."},
        "userId": {"type": "string", "minLength": 1, "description": "The order's owner."},
        "previousStatus": {**previous_schema, "description": f"The {entity or 'order'}'s status before the change."},
        "version": {"type": ["integer", "null"], "minimum": 1, "description": f"The {entity or 'order'}'s version "
                    "after the change: drop an event older than one you applied."},
        "order": {**ORDER, "description": "The order as the HTTP API shows it."},
        "causedBy": {"anyOf": [{"type": "object", "required": ["stripeEventId"], "additionalProperties": False,
                                "properties": {"stripeEventId": {"type": "string", "pattern": "^evt_"}}},
                               {"type": "null"}],
                     "description": "The Stripe event whose webhook made the change; null for the HTTP API."},
    }
    required = ["eventId", "type", "occurredAt", "userId", "previousStatus", "version", "order", "causedBy"]
    if entity in WITHOUT_ORDER:
        del properties["order"]
        required.remove("order")
        verb = "belong" if entity == "entitlements" else "belongs"
        properties["userId"]["description"] = f"The user the {entity} {verb} to."
        properties["previousStatus"]["description"] = ("Always null: entitlements have no status." if entity ==
                                                       "entitlements" else "The seller's status before the change.")
    if entity is not None:
        properties[entity] = {"$ref": f"#/$defs/{entity}"}
        required.insert(-1, entity)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_URL}{detail_type}.schema.json",
        "title": f"{detail_type} (detail)",
        "description": f"{description} EventBridge: source `payments` (parameter EventSource), detail-type "
                       f"`{detail_type}`, on PaymentsEventBus.",
        "type": "object",
        "required": required,
        "properties": properties,
        "$defs": definitions,
    }


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


def stale(root: Path = SCHEMAS_DIR) -> list[str]:
    return [name for name in TYPES
            if not (root / f"{name}.schema.json").is_file()
            or (root / f"{name}.schema.json").read_text(encoding="utf-8") != render(schema_for(name))]


def load(detail_type: str, root: Path = SCHEMAS_DIR) -> dict[str, Any]:
    return json.loads((root / f"{detail_type}.schema.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.event_schemas", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        for name in stale():
            print(f"stale: docs/events/{name}.schema.json", file=sys.stderr)
        return 1 if stale() else 0
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    for name in TYPES:
        (SCHEMAS_DIR / f"{name}.schema.json").write_text(render(schema_for(name)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

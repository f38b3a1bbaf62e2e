"""The documents of the events: a JSON Schema per DetailType, current with its generator, and asyncapi.yaml naming
each of them, with every reference resolving to a file in the repository."""

from __future__ import annotations

import json

import jsonschema
import yaml

from devstack.event_schemas import SCHEMAS_DIR, TYPES, schema_for, stale
from devstack.template import REPO_ROOT, load_template
from payments.events import mapping


def test_the_schemas_are_current_and_valid_json_schemas():
    assert stale() == [], "run: python -m devstack.event_schemas"
    for name in TYPES:
        jsonschema.Draft202012Validator.check_schema(schema_for(name))


def test_every_detail_type_the_mapping_can_make_has_a_schema():
    made = set(mapping.ORDER_STATUS_EVENTS.values()) | set(mapping.PAYMENT_STATUS_EVENTS.values()) | set(
        mapping.REFUND_STATUS_EVENTS.values()) | {"OrderCreated", "SubscriptionStarted", "SubscriptionUpdated",
                                                 "SubscriptionCanceled", "EntitlementsChanged", "SellerUpdated"}
    assert made == set(TYPES)
    assert sorted(p.name for p in SCHEMAS_DIR.glob("*.schema.json")) == sorted(f"{n}.schema.json" for n in TYPES)


def test_asyncapi_names_every_event_and_its_references_resolve():
    document = yaml.safe_load((REPO_ROOT / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    assert set(TYPES) <= set(messages)
    for message in messages.values():
        ref = message["payload"].get("$ref")
        if ref:
            assert json.loads((REPO_ROOT / ref).read_text())["title"].startswith(message["name"])
    outputs = load_template()["Outputs"]
    assert {"EventBusName", "EventBusArn", "LiveUrl"} <= set(outputs)

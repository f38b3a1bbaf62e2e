"""Reading ``template.yaml``: the tables (and later the routes) the local stack and the tests build from it.

Tests and the local stack never redeclare a table: they create exactly what the template declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from devstack import REPO_ROOT

TEMPLATE = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation's short tags (!Ref, !GetAtt, !Sub ...) as plain data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: Path | str = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 (a SafeLoader subclass)


def table_definitions(template: dict[str, Any] | None = None, *, streams: bool = True) -> dict[str, dict[str, Any]]:
    """``{logical id: CreateTable arguments}`` for every DynamoDB table in the template (``streams=False``: without
    their DynamoDB Streams; moto copies a table's whole stream on every transaction, which tests that do not read
    the streams need not pay for)."""
    template = template or load_template()
    tables = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource["Properties"]
        definition: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification") and streams:
            definition["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        tables[logical_id] = definition
    return tables


def create_tables(client: Any, template: dict[str, Any] | None = None, *, streams: bool = True) -> list[str]:
    """Create every table of the template through a boto3 DynamoDB client; returns their names."""
    template = template or load_template()
    names = []
    for logical_id, definition in table_definitions(template, streams=streams).items():
        client.create_table(**definition)
        ttl = template["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=logical_id, TimeToLiveSpecification=ttl)
        names.append(logical_id)
    return names

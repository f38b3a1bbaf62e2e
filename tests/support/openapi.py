"""openapi.yaml as the tests read it: its schemas as JSON Schema validators, and a handler's answer checked against
what the document says that route answers with that status."""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import quote

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from devstack.template import REPO_ROOT

SPEC_PATH = REPO_ROOT / "openapi.yaml"
SPEC_URI = "urn:payments:openapi"


@functools.cache
def load_spec() -> dict[str, Any]:
    with open(SPEC_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#/")
        node = spec
        for part in pointer.split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validator(spec: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A JSON Schema 2020-12 validator for the schema at ``pointer`` inside the spec (its $refs resolve)."""
    registry = Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=registry)


def pointer_to(*parts: str) -> str:
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def assert_valid(spec: dict[str, Any], pointer: str, instance: Any) -> None:
    errors = sorted(validator(spec, pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not errors, f"{pointer}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors
    )


def assert_documented(answer: Any, method: str, route: str) -> None:
    """``answer`` (a ``tests.support.invoke.Answer``) is one the document gives for ``method route``: its status is
    listed, and its body validates against that response's schema (an error's code against its enum)."""
    spec = load_spec()
    responses = spec["paths"][route][method.lower()]["responses"]
    status = str(answer.status)
    assert status in responses, f"{method} {route} answered {status}, which openapi.yaml does not list"
    response = resolve(spec, responses[status])
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
    if schema is None:
        assert answer.body is None, f"{method} {route} {status} has no documented body, but answered {answer.body}"
        return
    if "$ref" in responses[status]:
        name = responses[status]["$ref"].rsplit("/", 1)[-1]
        pointer = pointer_to("components", "responses", name, "content", "application/json", "schema")
    else:
        pointer = pointer_to("paths", route, method.lower(), "responses", status, "content", "application/json",
                             "schema")
    assert_valid(spec, pointer, answer.body)

"""Reading fields out of a request body: each helper names the field in its 400."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from payments.errors import InvalidField


def text(body: Mapping[str, Any], name: str, *, required: bool = True, max_length: int = 500,
         choices: tuple[str, ...] | None = None) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "is required", code="missing_field")
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    value = value.strip()
    if required and not value:
        raise InvalidField(name, "must not be empty")
    if len(value) > max_length:
        raise InvalidField(name, f"must be at most {max_length} characters")
    if choices is not None and value not in choices:
        raise InvalidField(name, "must be one of " + ", ".join(choices))
    return value


def required_text(body: Mapping[str, Any], name: str, *, max_length: int = 200) -> str:
    value = text(body, name, max_length=max_length)
    assert value is not None
    return value


def integer(body: Mapping[str, Any], name: str, *, required: bool = True, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "is required", code="missing_field")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(name, "must be an integer")
    if minimum is not None and value < minimum:
        raise InvalidField(name, f"must be at least {minimum}")
    if maximum is not None and value > maximum:
        raise InvalidField(name, f"must be at most {maximum}")
    return value


def boolean(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidField(name, "must be true or false")
    return value


def url(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = text(body, name, required=required, max_length=2000)
    if value is None:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        raise InvalidField(name, "must be an absolute http(s) URL")
    return value


def query_limit(raw: str | None, *, default: int = 20, maximum: int = 100) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not raw.isascii():
        raise InvalidField("limit", f"must be an integer from 1 to {maximum}")
    value = int(raw)
    if not 1 <= value <= maximum:
        raise InvalidField("limit", f"must be an integer from 1 to {maximum}")
    return value

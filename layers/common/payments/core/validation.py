"""Reading fields out of a request body: each helper names the field in its 400.

Text is checked for what DynamoDB and Stripe cannot store: a lone UTF-16 surrogate (``"\\ud800"``, which JSON
can carry) or a control character is a 400 naming the field, never a 500 further down.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from payments.core.errors import BadRequest, InvalidField

_ID = re.compile(r"^[A-Za-z0-9_]{1,128}$")


def is_clean_text(value: str) -> bool:
    """True when ``value`` is storable text: valid UTF-8 (no lone surrogates) and no control characters
    other than tab and newline."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n" for c in value)


def check_clean(value: Any, where: str = "body") -> None:
    """A 400 when any string in ``value`` (a parsed JSON document) is not storable text."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not is_clean_text(item):
                raise InvalidField(path, "contains characters that are not valid text", code="invalid_text")
        elif isinstance(item, dict):
            for key, child in item.items():
                if not is_clean_text(key):
                    raise BadRequest(f"{path}: a key is not valid text", code="invalid_text")
                stack.append((child, key if path == "body" else f"{path}.{key}"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))


def text(body: Mapping[str, Any], name: str, *, required: bool = True, max_length: int = 500,
         choices: tuple[str, ...] | None = None, strip: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidField(name, "is required", code="missing_field")
        return None
    if not isinstance(value, str):
        raise InvalidField(name, "must be a string")
    if not is_clean_text(value):
        raise InvalidField(name, "contains characters that are not valid text", code="invalid_text")
    value = value.strip() if strip else value
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


def identifier(body: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    """An id of ours or Stripe's: letters, digits and underscores, at most 128 characters."""
    value = text(body, name, required=required, max_length=128)
    if value is not None and not _ID.match(value):
        raise InvalidField(name, "is not a valid id")
    return value


def is_identifier(value: str, prefix: str = "") -> bool:
    """True when a path parameter can name a record: an id's shape, with ``prefix``."""
    return bool(_ID.match(value)) and value.startswith(prefix)


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


def redirect_url(body: Mapping[str, Any], name: str, *, required: bool, allowed_origins: frozenset[str]) -> str | None:
    """A URL Stripe may send the customer back to: on an allowed https origin, or http(s) on loopback."""
    value = text(body, name, required=required, max_length=2000)
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise InvalidField(name, "must be an absolute http(s) URL")
    origin = f"{parts.scheme}://{parts.netloc.lower()}"
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not loopback and (parts.scheme != "https" or origin not in allowed_origins):
        raise InvalidField(name, "must be on one of the app's allowed origins (ALLOWED_REDIRECT_ORIGINS)",
                           code="redirect_not_allowed")
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

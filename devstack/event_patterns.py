"""EventBridge event patterns, matched as EventBridge matches them, for the local bus (``devstack.local_events``).

https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html:

* A pattern is an object whose fields mirror the event's. Every field named must match (AND); a field's value is
  either an object (a nested pattern) or an array of matchers, any of which may match (OR).
* A matcher is a literal (string, number, ``true``/``false``, ``null``: exact match, a number numerically), or an
  object: ``prefix`` and ``suffix`` (either may hold ``{"equals-ignore-case": ...}``), ``equals-ignore-case``,
  ``wildcard`` (``*``, ``\\*`` for a star), ``anything-but`` (a value, a list of values, or a ``prefix`` /
  ``suffix`` / ``equals-ignore-case`` / ``wildcard`` object), ``numeric`` (pairs of ``<``, ``<=``, ``=``, ``>=``,
  ``>`` and a number), ``exists`` (on leaf fields only), ``cidr`` (IPv4 and IPv6).
* ``"$or": [pattern, ...]`` at any level: any of the patterns.
* When the event's value is an array, the field matches if any of its elements does.
* A field the event does not have matches only ``{"exists": false}``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Any

_MISSING = object()
_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, "=": lambda a, b: a == b,
            ">=": lambda a, b: a >= b, ">": lambda a, b: a > b}


class PatternError(ValueError):
    """The pattern is not one EventBridge accepts (the message says where)."""


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether ``event`` (the whole event: ``source``, ``detail-type``, ``detail`` ...) matches ``pattern``."""
    if not isinstance(pattern, Mapping):
        raise PatternError("a pattern is an object")
    validate(pattern)
    return _object(pattern, event)


def validate(pattern: Mapping[str, Any]) -> None:
    """``PatternError`` unless every matcher in ``pattern`` is one EventBridge accepts (whatever the event)."""
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or len(expected) < 2:
                raise PatternError("$or takes a list of at least two patterns")
            for option in expected:
                validate(option)
        elif isinstance(expected, Mapping):
            validate(expected)
        elif isinstance(expected, list):
            for matcher in expected:
                if isinstance(matcher, Mapping):
                    _one(matcher, "" if "numeric" not in matcher else 0)
        else:
            raise PatternError(f"the pattern's {key!r} must be an object or an array of matchers")


def _object(pattern: Mapping[str, Any], value: Any) -> bool:
    for key, expected in pattern.items():
        if key == "$or":
            if not isinstance(expected, list) or len(expected) < 2:
                raise PatternError("$or takes a list of at least two patterns")
            if not any(_object(option, value) for option in expected):
                return False
            continue
        field = value.get(key, _MISSING) if isinstance(value, Mapping) else _MISSING
        if isinstance(expected, Mapping):
            if field is _MISSING or not isinstance(field, Mapping | list):
                if not _only_absent(expected):
                    return False
                continue
            candidates = field if isinstance(field, list) else [field]
            if not any(_object(expected, item) for item in candidates if isinstance(item, Mapping)):
                return False
        elif isinstance(expected, list):
            if not _field(expected, field):
                return False
        else:
            raise PatternError(f"the pattern's {key!r} must be an object or an array of matchers")
    return True


def _only_absent(pattern: Mapping[str, Any]) -> bool:
    """A nested pattern a missing object still matches: every field in it asks for ``exists: false``."""
    for key, expected in pattern.items():
        if isinstance(expected, Mapping):
            if not _only_absent(expected):
                return False
        elif key == "$or" or not isinstance(expected, list) or not _field(expected, _MISSING):
            return False
    return True


def _field(matchers: list[Any], value: Any) -> bool:
    if value is _MISSING:
        return any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
    if isinstance(value, list):
        if not value:
            return any(isinstance(m, Mapping) and m.get("exists") is False for m in matchers)
        return any(_field(matchers, item) for item in value)
    return any(_one(matcher, value) for matcher in matchers)


def _one(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, Mapping):
        return _equal(matcher, value)
    if len(matcher) != 1:
        raise PatternError(f"a matcher has exactly one operator: {dict(matcher)}")
    (operator, argument), = matcher.items()
    if operator == "exists":
        return (not isinstance(value, Mapping)) is bool(argument)
    if isinstance(value, Mapping):
        return False  # only exists looks at an object; every other matcher is for leaf values
    if operator == "prefix":
        return _affix(argument, value, str.startswith)
    if operator == "suffix":
        return _affix(argument, value, str.endswith)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and isinstance(argument, str) and value.casefold() == argument.casefold()
    if operator == "wildcard":
        return isinstance(value, str) and _wildcard(argument).fullmatch(value) is not None
    if operator == "anything-but":
        return _anything_but(argument, value)
    if operator == "numeric":
        return _numeric(argument, value)
    if operator == "cidr":
        return _cidr(argument, value)
    raise PatternError(f"unknown matcher {operator!r}")


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return expected is value or (expected == value and type(expected) is type(value))
    if isinstance(expected, int | float) and isinstance(value, int | float):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _affix(argument: Any, value: Any, test: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(argument, Mapping) and set(argument) == {"equals-ignore-case"}:
        return bool(test(value.casefold(), str(argument["equals-ignore-case"]).casefold()))
    if not isinstance(argument, str):
        raise PatternError("prefix and suffix take a string (or {equals-ignore-case: string})")
    return bool(test(value, argument))


def _wildcard(argument: Any) -> re.Pattern[str]:
    if not isinstance(argument, str):
        raise PatternError("wildcard takes a string")
    parts = re.split(r"(\\\*|\*)", argument)
    return re.compile("".join(".*" if part == "*" else re.escape("*" if part == "\\*" else part) for part in parts),
                      re.DOTALL)


def _anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, Mapping):
        if len(argument) != 1 or next(iter(argument)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise PatternError("anything-but takes a value, a list, or prefix / suffix / equals-ignore-case / wildcard")
        (operator, inner), = argument.items()
        if operator == "equals-ignore-case":
            options = inner if isinstance(inner, list) else [inner]
            return isinstance(value, str) and all(value.casefold() != str(o).casefold() for o in options)
        if operator == "wildcard":
            options = inner if isinstance(inner, list) else [inner]
            return isinstance(value, str) and not any(_wildcard(o).fullmatch(value) for o in options)
        return isinstance(value, str) and not _one({operator: inner}, value)
    options = argument if isinstance(argument, list) else [argument]
    return not any(_equal(option, value) for option in options)


def _numeric(argument: Any, value: Any) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2 or len(argument) > 4:
        raise PatternError("numeric takes one or two (operator, number) pairs")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    for operator, bound in zip(argument[::2], argument[1::2], strict=True):
        if operator not in _COMPARE or isinstance(bound, bool) or not isinstance(bound, int | float):
            raise PatternError(f"numeric: {operator!r} {bound!r} is not an operator and a number")
        if not _COMPARE[operator](float(value), float(bound)):
            return False
    return True


def _cidr(argument: Any, value: Any) -> bool:
    try:
        network = ipaddress.ip_network(str(argument), strict=False)
    except ValueError:
        raise PatternError(f"cidr: {argument!r} is not a network") from None
    try:
        return isinstance(value, str) and ipaddress.ip_address(value) in network
    except ValueError:
        return False

"""Extension 13: searching customers (``GET /v1/customers/search``), as Stripe answers it.

Stripe's search query language, in the part the product uses: clauses ``field:'value'`` with ``field``
one of ``email``, ``name``, ``phone``, or ``metadata['key']`` (single or double quotes; a backslash escapes
a quote), joined by ``AND`` or by ``OR`` (not both, as on Stripe; a space is ``AND``). Values match exactly.
The answer is a ``search_result``, newest customer first, ``limit`` (1 to 100, default 10) at a time, with
``next_page`` to pass back as ``page`` while ``has_more``.

Left out: substring (``~``), numeric and ``created`` comparisons, negation (``-field:...``), ``null``
values, ``expand`` (``total_count`` included), and Stripe's delay before a new customer is searchable:
here it is found at once. Anything left out is a 400 ``invalid_request_error`` naming the query.
"""

from __future__ import annotations

import re
from typing import Any

from localstripe import resources
from localstripe.resources import Customer, store

from devstack.stripe_emulator.common import as_int, invalid, missing, reject_unknown

SEARCH_URL = "/v1/customers/search"
FIELDS = ("email", "name", "phone")

_QUOTED = r"""(?P<{q}>['"])(?P<{name}>(?:\\.|(?!(?P={q})).)*)(?P={q})"""
_CLAUSE = re.compile(r"(?:metadata\[" + _QUOTED.format(q="kq", name="key") + r"\]|(?P<field>[a-z_]+))"
                     r":" + _QUOTED.format(q="vq", name="value"))
_JOINER = re.compile(r"\s+(?:(?P<word>and|or)\s+)?", re.IGNORECASE)
_ESCAPE = re.compile(r"\\(.)")

Clause = tuple[str, str | None, str]  # (field, metadata key, value)


def parse_query(query: str) -> tuple[list[Clause], str]:
    """The clauses of ``query`` and how they combine (``"and"`` or ``"or"``); a 400 for anything else."""
    clauses: list[Clause] = []
    joiners: set[str] = set()
    text, position = query.strip(), 0
    while True:
        found = _CLAUSE.match(text, position)
        if found is None or found.group("field") not in (*FIELDS, None):
            raise invalid("query", f"The Stripe emulator cannot search customers by {query!r}: it supports "
                          "email:'...', name:'...', phone:'...' and metadata['key']:'...', joined by AND or OR.")
        key = found.group("key")
        field = found.group("field") or "metadata"
        clauses.append((field, key and _ESCAPE.sub(r"\1", key), _ESCAPE.sub(r"\1", found.group("value"))))
        if found.end() == len(text):
            break
        joiner = _JOINER.match(text, found.end())
        if joiner is None:
            raise invalid("query", f"Could not parse the search query {query!r} after {text[:found.end()]!r}.")
        joiners.add((joiner.group("word") or "and").lower())
        position = joiner.end()
    if len(joiners) > 1:
        raise invalid("query", f"AND and OR cannot be combined in one search query: {query!r}.")
    return clauses, joiners.pop() if joiners else "and"


def _matches(customer: Customer, clause: Clause) -> bool:
    field, key, value = clause
    if field == "metadata":
        return (customer.metadata or {}).get(key) == value
    return getattr(customer, field, None) == value


class SearchResult:
    """One page of a search, answered by localstripe's route wrapper (which calls :meth:`_export`)."""

    def __init__(self, found: list[Customer], offset: int, limit: int):
        self.page = found[offset:offset + limit]
        self.next_offset = offset + limit if offset + limit < len(found) else None

    def _export(self, expand: Any = None) -> dict[str, Any]:
        if expand:
            raise invalid("expand", "The Stripe emulator's search expands nothing.")
        return {
            "object": "search_result",
            "url": SEARCH_URL,
            "has_more": self.next_offset is not None,
            "data": [customer._export() for customer in self.page],
            "next_page": None if self.next_offset is None else f"page_{self.next_offset}",
        }


def search(query: Any = None, limit: Any = None, page: Any = None, **kwargs: Any) -> SearchResult:
    """``GET /v1/customers/search?query=...[&limit=][&page=]``."""
    reject_unknown(kwargs, what="customer search")
    if not isinstance(query, str) or not query.strip():
        raise missing("query")
    clauses, combine = parse_query(query)
    limit = 10 if limit is None else as_int(limit, "limit", 1)
    if limit > 100:
        raise invalid("limit", "limit must be at most 100.")
    if page is not None and not (isinstance(page, str) and re.fullmatch(r"page_\d+", page)):
        raise invalid("page", f"Invalid page: {page!r} (pass back a next_page of this search).")
    test = all if combine == "and" else any
    customers = [obj for key, obj in store.items() if key.startswith(f"{Customer.object}:")]
    found = [c for c in reversed(customers) if test(_matches(c, clause) for clause in clauses)]
    return SearchResult(found, 0 if page is None else int(page.removeprefix("page_")), limit)


def install() -> None:
    """Add the route. Before ``localstripe.server`` is imported: its extra routes come before
    ``/v1/customers/{id}`` only then."""
    resources.extra_apis.append(("GET", SEARCH_URL, search))

"""The part of Auth0's user search syntax (Lucene, search engine v3) tests need.

Supported: `field:value`, `field:"quoted value"`, a trailing `*` wildcard, dotted paths into
`app_metadata`/`user_metadata`/`identities`, `_exists_:field`, and terms joined by `AND`/`OR`
(plain juxtaposition means AND here). Anything else is refused with Auth0's 400, so a query the
emulator would misread fails loudly instead of matching the wrong users.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import ManagementError

_TERM = re.compile(r'\s*(?:(?P<field>[A-Za-z_][\w.]*):(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^\s()"]+)))\s*')
_JOIN = re.compile(r"\s*(AND|OR)\s+")

Predicate = Callable[[dict[str, Any]], bool]


def _invalid(query: str) -> ManagementError:
    return ManagementError(400, f"Invalid query: {query}", "invalid_query_string")


def _values(document: Any, path: list[str]) -> list[Any]:
    if not path:
        return document if isinstance(document, list) else [document]
    if isinstance(document, list):
        found: list[Any] = []
        for item in document:
            found.extend(_values(item, path))
        return found
    if isinstance(document, dict) and path[0] in document:
        return _values(document[path[0]], path[1:])
    return []


def _term(field: str, value: str) -> Predicate:
    if field == "_exists_":
        path = value.split(".")
        return lambda user: bool(_values(user, path))
    path = field.split(".")
    wanted = value.lower()
    if wanted.endswith("*"):
        prefix = wanted[:-1]
        match: Callable[[str], bool] = lambda found: found.startswith(prefix)
    else:
        match = lambda found: found == wanted

    def predicate(user: dict[str, Any]) -> bool:
        return any(match(str(found).lower()) for found in _values(user, path) if not isinstance(found, (dict, list)))

    return predicate


def compile_query(query: str) -> Predicate:
    """Turn `q` into a predicate over a user's profile, or raise Auth0's 400."""
    position = 0
    clauses: list[list[Predicate]] = [[]]
    while position < len(query):
        term = _TERM.match(query, position)
        if not term:
            raise _invalid(query)
        value = term.group("quoted") if term.group("quoted") is not None else term.group("bare")
        clauses[-1].append(_term(term.group("field"), value.replace('\\"', '"')))
        position = term.end()
        join = _JOIN.match(query, position)
        if join:
            position = join.end()
            if join.group(1) == "OR":
                clauses.append([])
            if position >= len(query):
                raise _invalid(query)
    if not clauses[0]:
        raise _invalid(query)
    return lambda user: any(all(p(user) for p in clause) for clause in clauses)

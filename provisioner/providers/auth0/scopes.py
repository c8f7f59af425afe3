"""The Management API scopes the lab needs, and which ones a token was granted."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ...oidc.jwt import claims_of

#: The Management API scopes the lab's calls need, by what they touch.
REQUIRED_SCOPES = (
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "read:connections",
    "create:connections",
    "update:connections",
    "delete:connections",
    "read:tenant_settings",
    "update:tenant_settings",
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
)


def missing_scopes(granted: Iterable[str]) -> list[str]:
    have = set(granted)
    return [scope for scope in REQUIRED_SCOPES if scope not in have]


def granted_scopes(answer: Mapping[str, Any]) -> list[str] | None:
    """The scopes of a client-credentials answer: its `scope` field, else the token's claim."""
    if isinstance(answer.get("scope"), str):
        return answer["scope"].split()
    try:
        claims = claims_of(answer["access_token"])
    except (KeyError, TypeError, AttributeError, ValueError):  # ValueError: MalformedToken
        return None
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [str(item) for item in scope]
    return None

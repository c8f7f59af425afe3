"""Read a JWT's header and claims without verifying it (standard library only).

The plugin got the token over verified TLS straight from the IdP, and kube-apiserver checks the
signature anyway; the plugin only needs `exp` to know how long it may reuse the token. `lab up`
and `lab doctor` read the other claims to explain what the apiserver will make of a token.
"""

from __future__ import annotations

import binascii
import json

_URLSAFE = str.maketrans("-_", "+/")


class MalformedToken(ValueError):
    """The text is not a JWT whose payload carries a numeric `exp`."""


def _segment(text: str) -> dict:
    try:
        decoded = json.loads(binascii.a2b_base64((text + "=" * (-len(text) % 4)).translate(_URLSAFE)))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken(f"unreadable segment ({exc.__class__.__name__})") from None
    if not isinstance(decoded, dict):
        raise MalformedToken("a segment is not a JSON object")
    return decoded


def unverified(token: str) -> tuple[dict, dict]:
    """The JOSE header and the claims of a JWT, signature unchecked."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("not a JWT: expected three dot-separated parts")
    return _segment(parts[0]), _segment(parts[1])


def claims_of(token: str) -> dict:
    """The claims of a JWT, signature unchecked (the header is not read)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedToken("not a JWT: expected three dot-separated parts")
    return _segment(parts[1])


def expiry_of(id_token: str) -> int:
    """The token's `exp` claim, in Unix seconds."""
    exp = claims_of(id_token).get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise MalformedToken("the payload has no numeric exp claim")
    return int(exp)

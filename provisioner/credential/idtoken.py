"""Read an id_token's expiry without verifying it.

The plugin got the token over verified TLS straight from the IdP, and kube-apiserver checks the
signature anyway; the plugin only needs `exp` to know how long it may reuse the token.
"""

from __future__ import annotations

import binascii
import json

_URLSAFE = str.maketrans("-_", "+/")


class MalformedToken(ValueError):
    """The text is not a JWT whose payload carries a numeric `exp`."""


def expiry_of(id_token: str) -> int:
    """The token's `exp` claim, in Unix seconds."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise MalformedToken("not a JWT: expected three dot-separated parts")
    payload = parts[1]
    try:
        raw = binascii.a2b_base64((payload + "=" * (-len(payload) % 4)).translate(_URLSAFE))
        claims = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken(f"unreadable payload ({exc.__class__.__name__})") from None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise MalformedToken("the payload has no numeric exp claim")
    return int(exp)

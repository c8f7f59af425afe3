"""The kube-apiserver's view of an id_token, so the tool can say exactly why a token is refused.

The apiserver answers a bad token with a bare 401 and keeps the reason in its log; these checks
mirror its rules (DESIGN.md section 6) so `lab up` and `lab doctor` can name the reason instead.
Decoding here does not verify signatures: that is the apiserver's job, and `lab doctor` checks
them separately against the issuer's JWKS.
"""

from __future__ import annotations

import time
from typing import Any

from .settings import OidcSettings


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JOSE header and claims of a JWT, without checking its signature (ValueError if not a JWT)."""
    from .jwt import unverified

    return unverified(token)


def refusal_reasons(token: str, settings: OidcSettings, now: float | None = None) -> list[str]:
    """Why the apiserver would refuse `token` under `settings` (empty if it would accept it)."""
    try:
        header, claims = decode_unverified(token)
    except ValueError:  # MalformedToken
        return ["the token is not a JWT"]
    now = time.time() if now is None else now
    reasons = []
    if header.get("alg") not in settings.signing_algs:
        reasons.append(f"it is signed with {header.get('alg')}, but the apiserver accepts only {', '.join(settings.signing_algs)}")
    if claims.get("iss") != settings.issuer_url:
        reasons.append(f"its iss {claims.get('iss')!r} is not the configured issuer {settings.issuer_url!r} "
                       "(they must match character for character, trailing slash included)")
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else (audiences or [])
    if settings.client_id not in audiences:
        reasons.append(f"its aud {audiences} does not contain the client id {settings.client_id!r}")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or exp <= now:
        reasons.append("it has expired" if isinstance(exp, (int, float)) else "it has no exp claim")
    if settings.username_claim not in claims:
        reasons.append(f"it has no {settings.username_claim!r} claim, the configured username claim")
    elif settings.username_claim == "email" and "email_verified" in claims and claims["email_verified"] is not True:
        reasons.append("oidc: email not verified (its email_verified claim is false)")
    for name, value in settings.required_claims:
        if claims.get(name) != value:
            reasons.append(f"the required claim {name}={value} is missing")
    return reasons

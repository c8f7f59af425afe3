"""What the issuer publishes about itself: the discovery document and the claims of its id_tokens.

The kube-apiserver reads discovery (its `issuer` must equal the configured URL character for
character) and then the JWKS; the id_token carries exactly the claims it checks (iss, aud, exp)
and maps (email, groups).
"""

from __future__ import annotations

from typing import Any

from .files import IssuerSettings, UserRecord

DEFAULT_SCOPE = "openid email profile offline_access"
SCOPES = ("openid", "email", "profile", "groups", "offline_access")
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ("password", "refresh_token")
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "email", "email_verified", "name", "groups", "preferred_username")
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATHS = ("/jwks", "/.well-known/jwks.json")


def id_token_claims(settings: IssuerSettings, user: UserRecord, now: int) -> dict[str, Any]:
    """The id_token of `user`: what the apiserver checks (iss, aud, exp) and maps (email, groups)."""
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": user.sub,
        "aud": settings.client.client_id,
        "iat": now,
        "exp": now + settings.id_token_ttl_seconds,
        "name": user.name or user.username,
        "preferred_username": user.username,
        "groups": list(user.groups),
    }
    if user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": list(SCOPES),
        "claims_supported": list(CLAIMS),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
    }

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
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES = ("password", "refresh_token", "authorization_code", DEVICE_CODE_GRANT)
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "email", "email_verified", "name", "groups", "preferred_username")
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATHS = ("/jwks", "/.well-known/jwks.json")


def id_token_claims(settings: IssuerSettings, user: UserRecord, now: int, nonce: str | None = None) -> dict[str, Any]:
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
    if nonce:
        claims["nonce"] = nonce  # binds the token to the authorization request that asked for it
    if user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "device_authorization_endpoint": f"{issuer}/device/code",
        "jwks_uri": f"{issuer}/jwks",
        "grant_types_supported": list(GRANT_TYPES),
        # "none": a public client (kubelogin without a secret) may redeem a code or a device code, with PKCE
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS + ["none"],
        "code_challenge_methods_supported": ["S256"],
        "response_modes_supported": ["query"],
        "scopes_supported": list(SCOPES),
        "claims_supported": list(CLAIMS),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code"],
    }

"""The tenant's signing key and the JWTs it issues: Management API tokens and id_tokens.

Signing uses joserfc so that tests (and the kube-apiserver double) can judge the tokens with an
independent library (PyJWT). An RSA key takes a noticeable moment to generate, so emulators in
one test process share one key unless asked for their own; each emulator still has its own `kid`.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey, RSAKey

_shared_key: RSAKey | None = None
_shared_lock = threading.Lock()


def _process_key() -> RSAKey:
    global _shared_key
    with _shared_lock:
        if _shared_key is None:
            _shared_key = RSAKey.generate_key(2048, private=True)
        return _shared_key


class SigningKey:
    """The tenant's RS256 key, published at `/.well-known/jwks.json` under `kid`."""

    def __init__(self, own_key: bool = False) -> None:
        self.kid = secrets.token_urlsafe(16)
        key = RSAKey.generate_key(2048, private=True) if own_key else _process_key()
        self._key = RSAKey.import_key(key.as_dict(private=True), parameters={"kid": self.kid})

    def jwks(self) -> dict[str, Any]:
        public = self._key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any], alg: str = "RS256") -> str:
        return jwt.encode({"alg": alg, "typ": "JWT", "kid": self.kid}, claims, self._key, algorithms=[alg])

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a token this key signed, or None if it is not one (expiry is checked by callers)."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=["RS256"])
        except (JoseError, ValueError):
            return None
        if decoded.header.get("kid") != self.kid:
            return None
        return dict(decoded.claims)


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """What Auth0 does for a client whose `jwt_configuration.alg` is unset or HS256: sign with its secret."""
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, OctKey.import_key(secret.encode()))

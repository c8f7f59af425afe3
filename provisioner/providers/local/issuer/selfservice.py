"""The self-service page on the built-in issuer (`/me`): the shared page (provisioner/selfservice)
answered from the issuer's own directory.

The code is redeemed in this process (no HTTP round trip), so the id_token's `sub` names the
person; their kubeconfig is the handout `lab up` wrote for that `sub` (`handouts.json`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from ....fsutil import read_json
from ....handouts import handouts_file
from ....oidc.jwt import claims_of
from ....selfservice.session import ME_PATH, Person, SelfServicePages, SignInFailed
from .grants import Authority, FormRequest

__all__ = ["ME_PATH", "SelfService"]


class IssuerSignIn:
    """The issuer as the page's sign-in backend; a person's key is their `sub`."""

    def __init__(self, authority: Authority) -> None:
        self.authority = authority

    @property
    def lab(self) -> str:
        return self.authority.directory.settings.lab or "oidc-lab"

    def base(self) -> str:
        settings = self.authority.directory.settings
        return f"https://{settings.host_address}:{settings.port}"

    def authorization_url(self, redirect_uri: str, state: str, challenge: str, nonce: str) -> str:
        query = {"response_type": "code", "client_id": self.authority.directory.settings.client.client_id,
                 "redirect_uri": redirect_uri, "scope": "openid email profile", "state": state, "nonce": nonce,
                 "code_challenge": challenge, "code_challenge_method": "S256"}
        return f"/authorize?{urlencode(query)}"

    def finish(self, code: str, verifier: str, redirect_uri: str, nonce: str) -> str:
        settings = self.authority.directory.settings
        form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                "redirect_uri": redirect_uri, "client_id": settings.client.client_id}
        request = FormRequest(f"{settings.issuer}/token", {}, form, client_address="self")
        status, body, _ = self.authority.create_token_response(request)
        if status != 200:
            raise SignInFailed("The sign-in could not be completed; open the page again.")
        claims = claims_of(body["id_token"])  # issued a moment ago, in this process
        if claims.get("nonce") != nonce:
            raise SignInFailed("The sign-in could not be completed; open the page again.")
        return claims["sub"]

    def person(self, key: str) -> Person | None:
        user = self.authority.directory.user_by_sub(key)
        if user is None:
            return None
        name = user.email or user.username
        return Person(key, name, user.name or user.username, user.username)

    def handout(self, key: str) -> dict[str, Any] | None:
        document = read_json(handouts_file(self.authority.directory.files.folder)) or {}
        found = document.get(key)
        return found if isinstance(found, dict) else None


def SelfService(authority: Authority) -> SelfServicePages:  # noqa: N802 (what the issuer's server constructs)
    backend = IssuerSignIn(authority)
    return SelfServicePages(backend, backend.base)

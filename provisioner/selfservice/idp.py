"""`lab serve`'s sign-in backend: the lab's own IdP (Auth0, Casdoor or the built-in issuer) over HTTP.

The browser goes to the IdP's authorization endpoint with the lab's client (PKCE, `state`,
`nonce`); the code comes back to the page and is redeemed at the IdP's token endpoint over TLS,
so the id_token arrives straight from the IdP: OpenID Connect Core 3.1.3.7 (6) lets the client
rely on that TLS connection instead of the token's signature. Its `iss`, `aud`, `exp` and `nonce`
are checked, and the person is a lab user only if the token's username claim carries the value
the cluster's bindings name that user by (the provider predicts it, as RBAC does): anyone else the
IdP knows is turned away.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from ..credential.client import HttpTokenClient
from ..credential.flow import GrantRefused
from ..errors import CredentialError
from ..oidc.jwt import MalformedToken, claims_of
from ..secrets import TokenClient
from .session import Person, SignInFailed

SCOPE = "openid email profile"


class IdpSignIn:
    """The lab's IdP as the page's sign-in backend; a person's key is their handle in the lab."""

    def __init__(self, lab: str, client: TokenClient, username_claim: str, people: dict[str, Person],
                 claim_values: dict[str, str], handouts: dict[str, dict[str, Any]]) -> None:
        self.lab = lab
        self.client = client
        self.username_claim = username_claim
        self.people = people  # handle -> Person
        self.claim_values = claim_values  # the username claim's value -> handle
        self.handouts = handouts  # handle -> kubeconfig
        self._http = HttpTokenClient(client, login="", password="")

    def authorization_url(self, redirect_uri: str, state: str, challenge: str, nonce: str) -> str:
        endpoint = self.client.authorization_endpoint or ""
        query = {"response_type": "code", "client_id": self.client.client_id, "redirect_uri": redirect_uri,
                 "scope": SCOPE, "state": state, "nonce": nonce, "code_challenge": challenge,
                 "code_challenge_method": "S256"}
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"

    def finish(self, code: str, verifier: str, redirect_uri: str, nonce: str) -> str:
        try:
            answer = self._http.redeem({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                        "code_verifier": verifier})
        except (GrantRefused, CredentialError):
            raise SignInFailed("The identity provider would not finish this sign-in.", "Open the page again.") from None
        try:
            claims = claims_of(answer.get("id_token") or "")
        except MalformedToken:
            raise SignInFailed("The identity provider answered without a readable ID token.") from None
        audiences = claims.get("aud") if isinstance(claims.get("aud"), list) else [claims.get("aud")]
        if (claims.get("iss") != self.client.issuer or self.client.client_id not in audiences
                or not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= time.time()
                or claims.get("nonce") != nonce):
            raise SignInFailed("The identity provider's answer does not belong to this sign-in.", "Open the page again.")
        value = claims.get(self.username_claim)
        handle = self.claim_values.get(value) if isinstance(value, str) else None
        if handle is None:
            raise SignInFailed(f"You signed in as {value or 'someone'}, who is not a user of lab {self.lab}.",
                               "Sign out at the identity provider and sign in with your lab account.")
        return handle

    def person(self, key: str) -> Person | None:
        return self.people.get(key)

    def handout(self, key: str) -> dict[str, Any] | None:
        return self.handouts.get(key)

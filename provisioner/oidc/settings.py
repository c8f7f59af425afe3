"""What the kube-apiserver's OIDC authenticator is told: issuer, audience, claims and prefixes.

Shared by the cluster driver (which turns it into flags), the RBAC step (which names users and
groups as the apiserver will) and the token rules (which judge a token against it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OidcSettings:
    """The kube-apiserver's OIDC authenticator settings the lab wants."""

    issuer_url: str
    client_id: str
    username_claim: str = "email"
    username_prefix: str | None = None
    groups_claim: str | None = None
    groups_prefix: str | None = None
    signing_algs: tuple[str, ...] = ("RS256",)
    required_claims: tuple[tuple[str, str], ...] = ()
    ca_pem: bytes | None = None

    def username_for(self, claim_value: str) -> str:
        """The Kubernetes username the apiserver derives from the username claim (prefix rules)."""
        if self.username_prefix == "-":
            return claim_value
        if self.username_prefix is not None:
            return self.username_prefix + claim_value
        if self.username_claim == "email":
            return claim_value
        return f"{self.issuer_url}#{claim_value}"

    def group_for(self, group: str) -> str:
        return (self.groups_prefix or "") + group

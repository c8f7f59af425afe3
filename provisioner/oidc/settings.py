"""What the kube-apiserver's OIDC authenticator is told: issuer, audience, claims and prefixes.

Shared by the cluster driver (which turns it into flags), the RBAC step (which names users and
groups as the apiserver will) and the token rules (which judge a token against it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    # Only the structured AuthenticationConfiguration can carry these (cluster.authentication: config).
    username_expression: str | None = None
    groups_expression: str | None = None
    #: (claim, required_value, expression, message) per rule, as lab.yaml gives them.
    claim_validation_rules: tuple[tuple[str | None, str | None, str | None, str | None], ...] = ()
    #: (expression, message) per rule.
    user_validation_rules: tuple[tuple[str, str | None], ...] = ()
    audiences: tuple[str, ...] = ()  # accepted besides the client id

    @property
    def all_audiences(self) -> tuple[str, ...]:
        return (self.client_id,) + tuple(a for a in self.audiences if a != self.client_id)

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

    def username_from_claims(self, claims: dict[str, Any], claim_value: str | None = None) -> str:
        """The username the apiserver maps `claims` to: the CEL expression when there is one
        (evaluated with the same library that checked it), else the claim and prefix rules."""
        if self.username_expression:
            from .cel import compile_expression, evaluate

            program = compile_expression(self.username_expression, "oidc.username_expression")
            return str(evaluate(program, {"claims": claims}))
        value = claim_value if claim_value is not None else claims[self.username_claim]
        return self.username_for(value)

    def groups_from_claims(self, claims: dict[str, Any]) -> list[str]:
        """The groups the apiserver maps `claims` to (a string counts as a one-item list)."""
        if self.groups_expression:
            from .cel import compile_expression, evaluate

            program = compile_expression(self.groups_expression, "oidc.groups_expression")
            value = evaluate(program, {"claims": claims})
        else:
            value = claims.get(self.groups_claim) if self.groups_claim else None
            value = [self.group_for(v) for v in ([value] if isinstance(value, str) else value or [])]
        return [value] if isinstance(value, str) else [str(v) for v in value or []]

"""lab.yaml's `oidc:` section: what the kube-apiserver is told about tokens, and how users sign in.

The claim and prefix keys work with both the `--oidc-*` flags and the structured authentication
configuration; the CEL expressions, validation rules and extra audiences only with the latter.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .strict import _Strict

#: How `lab token` signs a user in: the password grant, a browser (authorization code with PKCE), or a device code.
SignInFlow = Literal["password", "browser", "device"]


class ClaimValidationRule(_Strict):
    """A `claimValidationRules` entry: a claim that must have a value, or a CEL condition on `claims`."""

    claim: str | None = None
    required_value: str | None = None
    expression: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "ClaimValidationRule":
        # The apiserver's own rules (validation.go validateClaimValidationRules), checked before it sees them.
        if bool(self.claim) == bool(self.expression):
            raise ValueError("give either claim (with required_value) or expression (with message)")
        if self.claim and self.message:
            raise ValueError("message may not be specified when claim is set")
        if self.expression and self.required_value:
            raise ValueError("required_value may not be specified when expression is set")
        return self


class UserValidationRule(_Strict):
    """A `userValidationRules` entry: a CEL condition on the mapped `user`, and what to say when it fails."""

    expression: str
    message: str | None = None


#: Keys only the structured AuthenticationConfiguration can express (`cluster.authentication: config`).
CONFIG_ONLY_OIDC_KEYS = ("username_expression", "groups_expression", "claim_validation_rules",
                         "user_validation_rules", "audiences")


class OidcSpec(_Strict):
    """The kube-apiserver's --oidc-* settings (see Kubernetes' "OpenID Connect Tokens"), and what
    only its structured authentication configuration allows (CEL mappings, rules, audiences)."""

    username_claim: str = "email"
    username_prefix: str | None = Field(
        None, description="prefix for usernames; '-' disables it; unset keeps the apiserver default"
    )
    groups_claim: str | None = "groups"
    groups_prefix: str | None = None
    signing_algs: list[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"]] = [
        "RS256"
    ]
    required_claims: dict[str, str] = Field(default_factory=dict)
    flow: SignInFlow = Field("password", description="how `lab token` signs users in; a user's own `flow` wins")
    redirect_ports: list[int] = Field(
        default_factory=lambda: [8000, 18000], min_length=1, max_length=5,
        description="loopback ports the browser flow listens on (registered with the IdP as redirect URIs)")

    @field_validator("redirect_ports")
    @classmethod
    def _redirect_ports(cls, value: list[int]) -> list[int]:
        if any(not 1024 <= port <= 65535 for port in value) or len(set(value)) != len(value):
            raise ValueError("must be distinct ports from 1024 to 65535 (no privileges needed to listen on them)")
        return value

    username_expression: str | None = Field(None, description="CEL over `claims`; replaces username_claim/prefix")
    groups_expression: str | None = Field(None, description="CEL over `claims`; replaces groups_claim/prefix")
    claim_validation_rules: list[ClaimValidationRule] = Field(default_factory=list)
    user_validation_rules: list[UserValidationRule] = Field(default_factory=list)
    audiences: list[str] = Field(default_factory=list, description="audiences accepted besides the client id")

    @property
    def config_only_keys(self) -> list[str]:
        """The keys set here that the --oidc-* flags cannot express."""
        return [key for key in CONFIG_ONLY_OIDC_KEYS if getattr(self, key)]

    @model_validator(mode="after")
    def _expression_or_claim(self) -> "OidcSpec":
        if self.username_expression and self.username_prefix is not None:
            raise ValueError("username_prefix may not be specified when username_expression is set "
                             "(put the prefix in the expression)")
        if self.groups_expression and self.groups_prefix is not None:
            raise ValueError("groups_prefix may not be specified when groups_expression is set")
        return self

    @field_validator("required_claims")
    @classmethod
    def _one_required_claim(cls, value: dict[str, str]) -> dict[str, str]:
        # minikube keeps only the last value of a repeated --extra-config key, so only one survives.
        if len(value) > 1:
            raise ValueError("minikube keeps only one apiserver.oidc-required-claim; give at most one")
        return value

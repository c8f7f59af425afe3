"""The interface every identity provider implements.

A provider owns step 1 of a lab: the OAuth application, the username/password directory and the
users at the IdP. It tells the cluster which issuer to trust (`Issuer`) and the credential
plugin how to get tokens (`TokenClient`). Adding Keycloak later is one new module with one
`Provider` subclass; the steps (provisioner/steps/: the identity step wraps the provider) do not change.

Rules for implementations:
- `ensure` is idempotent: it looks objects up (by name and the lab's ownership mark) before
  creating, adopts what is already the lab's, borrows what existed before (recorded, never
  deleted), and refuses a same-named object that is not the lab's.
- It records every created object in its state section and calls `state.save()` right after the
  create call returns, so an interrupted run can be resumed or torn down.
- `teardown` deletes only what the state says the lab created, restores what it changed, and
  tolerates objects that are already gone. It leaves its state section empty when done.
- Errors the user can fix are raised as `ProviderError(message, hint)`; secrets never appear in
  messages, logs or argv.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from ..config import LabConfig, UserSpec
from ..paths import LabPaths
from ..progress import Reporter
from ..secrets import LabSecrets, TokenClient
from ..state import LabState


@dataclass(frozen=True)
class Issuer:
    """What the kube-apiserver must be told to trust."""

    url: str  # exactly the `iss` of the tokens, trailing slash included when the IdP adds one
    client_id: str  # the `aud` of the id_tokens
    ca_pem: bytes | None = None  # the CA of the issuer's TLS certificate, when it is private


class Provider(ABC):
    kind: ClassVar[str]
    section: ClassVar[str] = "provider"
    #: The IdP's limits on token requests, as (requests a second, burst) buckets a sign-in spends
    #: from: `lab up`'s verify paces its sign-ins by them. None of them for an IdP the lab runs.
    token_request_limits: ClassVar[tuple[tuple[float, int], ...]] = ()

    def __init__(self, lab: LabConfig, paths: LabPaths, ui: Reporter) -> None:
        self.lab = lab
        self.paths = paths
        self.ui = ui

    # checks ------------------------------------------------------------------------------------
    def preflight(self) -> None:
        """Cheap checks before anything changes (credentials present, URL https, port free)."""

    @abstractmethod
    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        """What `ensure` would create, change or delete, one sentence each; changes nothing."""

    # the step ----------------------------------------------------------------------------------
    @abstractmethod
    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        """Create or adopt the application, directory and users; return the issuer to trust."""

    @abstractmethod
    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        """Delete what the state says the lab created; restore what it changed."""

    @abstractmethod
    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        """How the credential plugin gets tokens for this lab's users (valid after `ensure`)."""

    # descriptions ------------------------------------------------------------------------------
    def login_name(self, user: UserSpec) -> str:
        """What a user types as the username of the password grant."""
        assert user.email is not None
        return user.email

    def predictable_claims(self, user: UserSpec) -> dict[str, str | None]:
        """The claims of the user's id_token whose values are known before any token is issued.
        Providers whose tokens carry other claims (or other values) override this."""
        return {"email": user.email, "name": user.display_name, "preferred_username": user.handle}

    def claim_value(self, user: UserSpec, claim: str) -> str:
        """The value of `claim` in the user's id_token, known before any token is issued.

        RBAC bindings name users as the apiserver will (DESIGN.md section 6), so the username
        claim must be predictable.
        """
        values = self.predictable_claims(user)
        value = values.get(claim)
        if value is None:
            from ..errors import ConfigError

            raise ConfigError(
                f"oidc.username_claim {claim!r} is not supported with provider {self.kind!r}",
                f"use one of: {', '.join(k for k, v in values.items() if v)}",
            )
        return value

    def group_claim_value(self, group: str) -> str:
        """How the lab group `group` appears in this IdP's groups claim (before the apiserver's
        groups prefix). Bindings name groups this way, so a user the IdP puts in the group is bound."""
        return group

    def explain_login_refusal(self, error: str, description: str | None, login: str) -> Exception | None:
        """A sentence about this IdP's settings for a refused password grant, or None for the generic one."""
        return None

    def status(self, state: LabState) -> dict[str, Any]:
        """Provider facts for `lab status` (no secrets)."""
        return dict(state.section(self.section))

"""Step 3: the lab's RBAC, rendered from templates/ and applied by `Manifests`.

Users are bound by the Kubernetes username the apiserver will derive from their token, groups by
the value the IdP puts in the groups claim, both with the lab's prefixes: so the settings come
from the context (the provider step's issuer), never from a guess.
"""

from __future__ import annotations

from typing import Any

from ..manifests import rbac_for, render
from ..oidc.settings import OidcSettings
from ..providers import Issuer
from ..records import ClusterRecord, ManifestsRecord
from .base import Change, Step
from .context import LabContext


def predicted_claims(provider: Any, user: Any) -> dict[str, Any]:
    """The claims of a user's id_token known before it is issued, for the CEL mappings."""
    claims: dict[str, Any] = {k: v for k, v in provider.predictable_claims(user).items() if v is not None}
    claims.setdefault("email_verified", user.email_verified)
    claims.setdefault("groups", [provider.group_claim_value(g) for g in user.groups])
    return claims


def username_of(ctx: LabContext, settings: OidcSettings, user: Any) -> str:
    """The Kubernetes username the apiserver derives for `user` (its CEL expression evaluated on the
    predicted claims, with the library that checked it, or the claim and prefix rules)."""
    if not settings.username_expression:
        return settings.username_for(ctx.provider.claim_value(user, settings.username_claim))
    from ..errors import ConfigError

    try:
        return settings.username_from_claims(predicted_claims(ctx.provider, user))
    except LookupError as exc:
        raise ConfigError(f"oidc.username_expression cannot be evaluated for user {user.handle!r} ({exc})",
                          "use claims the provider issues: " + ", ".join(sorted(predicted_claims(ctx.provider, user))))


def rbac_objects(ctx: LabContext, settings: OidcSettings) -> list[dict[str, Any]]:
    """The lab's RBAC objects, naming users and groups as the apiserver will with `settings`."""
    provider = ctx.provider
    usernames = {user.handle: username_of(ctx, settings, user) for user in ctx.lab.users}
    return render(ctx.lab, rbac_for(ctx.lab, usernames, lambda group: group_of(settings, provider.group_claim_value(group))))


def group_of(settings: OidcSettings, value: str) -> str:
    """A lab group as the apiserver names it: the groups expression applied to a token whose groups
    claim holds just that group, or the groups prefix."""
    if not settings.groups_expression:
        return settings.group_for(value)
    try:
        mapped = settings.groups_from_claims({"groups": [value]})
    except LookupError:
        return value  # the expression reads another claim: bind the IdP's name as it is
    return mapped[0] if len(mapped) == 1 else value


class RbacStep(Step):
    name = "rbac"

    def title(self, ctx: LabContext) -> str:
        return "RBAC"

    def preflight(self, ctx: LabContext) -> None:
        # Render once with a provisional issuer so a template error stops us before any change.
        rbac_objects(ctx, ctx.settings_for(Issuer("https://issuer.invalid", "client")))

    def plan(self, ctx: LabContext) -> list[Change]:
        if ctx.settings is None:
            return self.changes("apply the lab's ClusterRole and ClusterRoleBindings")
        if not ctx.cluster.is_running():
            return []
        return self.changes(*ctx.manifests.plan(rbac_objects(ctx, ctx.settings)))

    def ensure(self, ctx: LabContext) -> str:
        assert ctx.settings is not None, "the provider step runs first"
        changed = ctx.manifests.apply(rbac_objects(ctx, ctx.settings), ctx.state)
        return f"{changed} change(s)" if changed else "up to date"

    def has_teardown(self, ctx: LabContext) -> bool:
        return ctx.state.get(ManifestsRecord) is not None

    def teardown(self, ctx: LabContext) -> str:
        cluster = ctx.cluster
        if cluster.profile_exists() is False:
            ctx.state.forget(ManifestsRecord)
            return "the cluster profile no longer exists"
        if not cluster.is_running():
            if not ctx.keep_cluster and ctx.state.get(ClusterRecord) is not None:
                # Deleting RBAC needs a running apiserver; starting it with the restored flags saves a restart.
                cluster.restore(ctx.state)
            else:
                cluster.ensure_running()
        return f"deleted {ctx.manifests.teardown(ctx.state)} object(s)"

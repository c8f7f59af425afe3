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


def rbac_objects(ctx: LabContext, settings: OidcSettings) -> list[dict[str, Any]]:
    """The lab's RBAC objects, naming users and groups as the apiserver will with `settings`."""
    provider = ctx.provider
    usernames = {user.handle: settings.username_for(provider.claim_value(user, settings.username_claim))
                 for user in ctx.lab.users}
    return render(ctx.lab, rbac_for(ctx.lab, usernames, lambda group: settings.group_for(provider.group_claim_value(group))))


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

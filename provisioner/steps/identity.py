"""Step 1: the identity provider's application, directory and users (a `Provider` does the work).

Its result, the issuer the cluster must trust, is recorded in the state (`IssuerRecord`) and set
on the context, where the cluster, RBAC and verify steps read it.
"""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..records import IssuerRecord
from .base import Change, Step
from .context import LabContext


class IdentityStep(Step):
    name = "provider"

    def title(self, ctx: LabContext) -> str:
        return f"Identity provider ({ctx.lab.provider})"

    def preflight(self, ctx: LabContext) -> None:
        ctx.provider.preflight()

    def plan(self, ctx: LabContext) -> list[Change]:
        changes = self.changes(*ctx.provider.plan(ctx.state, ctx.secrets))
        ctx.issuer_pending = bool(changes)
        return changes

    def ensure(self, ctx: LabContext) -> str:
        issuer = ctx.provider.ensure(ctx.state, ctx.secrets)
        ctx.state.put(IssuerRecord(issuer.url, issuer.client_id))
        ctx.issuer = issuer
        return f"issuer {issuer.url}, client {issuer.client_id}, {len(ctx.lab.users)} user(s)"

    def teardown(self, ctx: LabContext) -> str:
        ctx.provider.teardown(ctx.state, ctx.secrets)
        return "removed what the lab created"

    def status(self, ctx: LabContext) -> dict[str, Any]:
        recorded = ctx.state.get(IssuerRecord)
        try:
            facts = ctx.provider.status(ctx.state)
        except LabError as exc:
            facts = {"error": exc.message}
        return {"provider": ctx.lab.provider, "issuer_url": recorded.url if recorded else None,
                "client_id": recorded.client_id if recorded else None, "identity_provider": facts}

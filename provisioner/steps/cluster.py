"""Step 2: the kube-apiserver's OIDC flags (and the issuer's CA file); a `Cluster` driver does the work.

Reads the OIDC settings from the context (the provider step's issuer); `lab down --keep-cluster`
forgets the record and leaves the flags.
"""

from __future__ import annotations

from typing import Any

from ..errors import LabError
from ..records import ClusterRecord
from .base import Change, Step
from .context import LabContext


class ClusterStep(Step):
    name = "cluster"

    def title(self, ctx: LabContext) -> str:
        return f"Cluster (minikube profile {ctx.lab.cluster.profile!r})"

    def preflight(self, ctx: LabContext) -> None:
        ctx.cluster.preflight()

    def plan(self, ctx: LabContext) -> list[Change]:
        if ctx.settings is None:
            return self.changes(f"restart minikube profile {ctx.lab.cluster.profile!r} with the OIDC flags "
                                "for the issuer, if they differ")
        return self.changes(*ctx.cluster.plan_oidc(ctx.settings, ctx.state))

    def ensure(self, ctx: LabContext) -> str:
        assert ctx.settings is not None, "the provider step runs first"
        restarted = ctx.cluster.ensure_oidc(ctx.settings, ctx.state)
        return "restarted with the OIDC flags" if restarted else "OIDC flags already in place"

    def has_teardown(self, ctx: LabContext) -> bool:
        return ctx.state.get(ClusterRecord) is not None

    def teardown(self, ctx: LabContext) -> str:
        if ctx.keep_cluster:
            ctx.state.forget(ClusterRecord)  # the flags stay: a later `lab down` must not "restore" them
            return "OIDC flags left in place (--keep-cluster)"
        ctx.cluster.restore(ctx.state)
        return "previous apiserver flags restored"

    def status(self, ctx: LabContext) -> dict[str, Any]:
        try:
            return {"cluster": ctx.cluster.status(ctx.state)}
        except LabError as exc:
            return {"cluster": {"error": exc.message}}

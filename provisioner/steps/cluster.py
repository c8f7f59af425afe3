"""Step 2: the kube-apiserver's OIDC flags (and the issuer's CA file); a `Cluster` driver does the work.

Reads the OIDC settings from the context (the provider step's issuer); `lab down --keep-cluster`
forgets the record and leaves the flags.
"""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError, LabError
from ..records import ClusterRecord
from .base import Change, Step
from .context import LabContext


class ClusterStep(Step):
    name = "cluster"

    def title(self, ctx: LabContext) -> str:
        return f"Cluster (minikube profile {ctx.lab.cluster.profile!r})"

    def preflight(self, ctx: LabContext) -> None:
        ctx.cluster.preflight()
        if ctx.cluster.authentication_mode() == "config":
            # CEL and the apiserver's file rules are checked before anything is written: a typo
            # is an error in `lab plan`, never a reload the apiserver silently ignores.
            from ..cluster.authconfig import check_settings
            from ..providers import Issuer

            check_settings(ctx.settings_for(Issuer("https://issuer.invalid", "client")))
            ctx.cluster.preflight_mode(ctx.state)
        elif ctx.lab.oidc.config_only_keys:
            raise ConfigError(f"oidc.{ctx.lab.oidc.config_only_keys[0]} needs the structured authentication "
                              f"configuration, but minikube profile {ctx.lab.cluster.profile!r} uses the --oidc-* flags",
                              "use a profile with Kubernetes 1.30 or newer, or remove the key")

    def plan(self, ctx: LabContext) -> list[Change]:
        if ctx.settings is None:
            return self.changes(f"restart minikube profile {ctx.lab.cluster.profile!r} with the OIDC flags "
                                "for the issuer, if they differ")
        return self.changes(*ctx.cluster.plan_oidc(ctx.settings, ctx.state))

    def ensure(self, ctx: LabContext) -> str:
        assert ctx.settings is not None, "the provider step runs first"
        restarted = ctx.cluster.ensure_oidc(ctx.settings, ctx.state)
        record = ctx.state.get(ClusterRecord)
        if record is not None and record.mode == "config":
            return ("restarted with the authentication configuration" if restarted
                    else "authentication configuration in place (no restart)")
        return "restarted with the OIDC flags" if restarted else "OIDC flags already in place"

    def has_teardown(self, ctx: LabContext) -> bool:
        return ctx.state.get(ClusterRecord) is not None

    def teardown(self, ctx: LabContext) -> str:
        if ctx.keep_cluster:
            ctx.state.forget(ClusterRecord)  # the flags stay: a later `lab down` must not "restore" them
            return "OIDC flags left in place (--keep-cluster)"
        record = ctx.state.get(ClusterRecord)
        ctx.cluster.restore(ctx.state)
        if record is not None and record.mode == "config":
            return "the lab's entry removed from the authentication configuration"
        return "previous apiserver flags restored"

    def status(self, ctx: LabContext) -> dict[str, Any]:
        try:
            return {"cluster": ctx.cluster.status(ctx.state)}
        except LabError as exc:
            return {"cluster": {"error": exc.message}}

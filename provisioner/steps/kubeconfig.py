"""Step 4: a kubeconfig context and user per lab user, running `lab token` (the credential plugin).

The plugin reads the lab's credentials file, so this step also records there how to get tokens
(the provider's token client) and each user's login, and forgets the users the lab no longer has.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import LabError
from ..kubeconfig import exec_user
from ..paths import labs_root
from ..records import KubeconfigRecord
from ..secrets import TokenClient
from .base import Change, Step
from .context import LabContext


def plugin_command() -> tuple[str, list[str]]:
    """How kubectl should start `lab token`: this installation's `lab`, by absolute path.

    On POSIX systems that is `lab-plugin` beside `lab` when installed: it answers a cache hit in
    the shell and runs `lab` for everything else. Windows runs `lab.exe`.
    """
    lab = _installed_lab()
    if lab is not None and os.name == "posix" and (lab.parent / "lab-plugin").is_file():
        return str(lab.parent / "lab-plugin"), []
    if lab is not None:
        return str(lab), []
    return sys.executable, ["-m", "provisioner"]


def kubelogin_user(client: TokenClient, flow: str, login: str) -> dict[str, Any]:
    """A user that runs kubelogin (`kubeconfig.plugin: kubelogin`) for the lab's issuer and client."""
    from .. import kubelogin

    args = kubelogin.get_token_args(client.issuer, client.client_id, flow, client.ca_file, client.redirect_ports,
                                    login, client.scope)
    entry = exec_user("kubectl", args, {})
    entry["exec"]["installHint"] = kubelogin.INSTALL_HINT
    return entry


def write_local_handouts(ctx: LabContext, kubeconfig: Any) -> None:
    """Each user's own attendee kubeconfig (the kind `lab handout` writes), for the built-in issuer's
    self-service page (`/me`), keyed by `sub`."""
    from ..handouts import AttendeeKubeconfigs, handouts_file
    from ..providers.local.issuer.files import write_if_changed
    from ..providers.local.provider import subject

    by_handle = AttendeeKubeconfigs(ctx).all(kubeconfig)
    if not by_handle:
        return  # no cluster entry to hand out (minikube stopped); the next `lab up` writes them
    write_if_changed(handouts_file(ctx.paths.issuer), {subject(ctx.lab, h): d for h, d in by_handle.items()})


def _installed_lab() -> Path | None:
    """The `lab` running now, else the one pip put in this Python's scripts folder, else PATH's.

    Windows: `lab.exe`, whose launcher passes its own full path as argv[0]. Its scripts folder is
    `Scripts\\` beside a system-wide python.exe (not the folder of python.exe itself), the venv's
    `Scripts\\`, or the user scheme's after `pip install --user`; sysconfig knows which.
    """
    import sysconfig

    name = "lab.exe" if os.name == "nt" else "lab"
    argv0 = Path(sys.argv[0])
    if argv0.name in ("lab", "lab.exe") and argv0.exists():
        return argv0.resolve()
    for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user")):
        installed = Path(sysconfig.get_path("scripts", scheme)) / name
        if installed.is_file():
            return installed
    found = shutil.which("lab")
    return Path(found).resolve() if found else None


class KubeconfigStep(Step):
    name = "kubeconfig"

    def preflight(self, ctx: LabContext) -> None:
        """A context or user named like a lab context that the lab did not make is someone else's."""
        kubeconfig = ctx.open_kubeconfig()
        recorded = ctx.state.get(KubeconfigRecord)
        ours = set(recorded.contexts if recorded else ())
        for user in ctx.lab.users:
            name = ctx.context_name(user.handle)
            for kind in ("contexts", "users"):
                if name not in ours and kubeconfig.get(kind, name) is not None:
                    raise LabError(f"the kubeconfig {kubeconfig.path} already has a {kind[:-1]} named {name!r} "
                                   "that this lab did not create",
                                   "rename or remove that entry, or give the lab another name in lab.yaml")

    def plan(self, ctx: LabContext) -> list[Change]:
        kubeconfig = ctx.open_kubeconfig()
        missing = [ctx.context_name(u.handle) for u in ctx.lab.users
                   if kubeconfig.get("contexts", ctx.context_name(u.handle)) is None]
        return self.changes(*(f"add context {name} to {kubeconfig.path}" for name in missing))

    def ensure(self, ctx: LabContext) -> str:
        lab, secrets = ctx.lab, ctx.secrets
        client = ctx.provider.token_client(ctx.state, secrets)
        previous = secrets.client
        secrets.set_client(client)
        if previous is not None and (previous.issuer, previous.client_id) != (client.issuer, client.client_id):
            shutil.rmtree(ctx.paths.tokens, ignore_errors=True)  # tokens of another issuer are useless
        with secrets.deferred_saves():  # credentials.json once, not once per user
            for user in lab.users:
                secrets.set_login(user.handle, ctx.provider.login_name(user))
                secrets.set_flow(user.handle, lab.flow_for(user))

        kubeconfig = ctx.open_kubeconfig()
        recorded = ctx.state.get(KubeconfigRecord) or KubeconfigRecord()
        command, prefix = plugin_command()
        # kubectl may run without this shell's OIDC_LAB_HOME or XDG_STATE_HOME: name the folder then.
        # lab-plugin always needs it named: it knows no platform's folder rules.
        root = labs_root()
        default = root == Path.home() / ".local" / "state" / "oidc-lab" and Path(command).name != "lab-plugin"
        env = {} if default else {"OIDC_LAB_HOME": str(root)}
        changed = False
        wanted = {ctx.context_name(user.handle): user.handle for user in lab.users}
        for name in recorded.contexts:
            if name not in wanted:
                changed |= kubeconfig.remove("contexts", name)
                changed |= kubeconfig.remove("users", name)
        for name, handle in wanted.items():
            if lab.kubeconfig.plugin == "kubelogin":
                user_entry = kubelogin_user(client, lab.flow_for(lab.user(handle)), ctx.provider.login_name(lab.user(handle)))
            else:
                user_entry = exec_user(command, prefix + ["token", "--lab", lab.name, "--user", handle], env)
            changed |= kubeconfig.put_user(name, user_entry)
            namespace = lab.namespace_for(lab.user(handle)) or "default"
            changed |= kubeconfig.put_context(name, cluster=ctx.cluster.kubeconfig_cluster, user=name, namespace=namespace)
        for handle in set(secrets.document.get("users", {})) - {u.handle for u in lab.users}:
            secrets.forget_user(handle)
            for leftover in [*ctx.paths.tokens.glob(f"{handle}.*"), *ctx.paths.tokens.glob(f"*/{handle}.*")]:
                leftover.unlink()
        if lab.provider == "local":
            write_local_handouts(ctx, kubeconfig)
        ctx.state.put(KubeconfigRecord(str(kubeconfig.path), tuple(sorted(wanted))))
        if changed:
            kubeconfig.save()
        return f"{len(lab.users)} context(s) in {kubeconfig.path}" + ("" if changed else " (unchanged)")

    def teardown(self, ctx: LabContext) -> str:
        recorded = ctx.state.get(KubeconfigRecord)
        removed = 0
        if recorded is not None:
            kubeconfig = ctx.open_kubeconfig()
            for name in recorded.contexts:
                removed += kubeconfig.remove("contexts", name)
                kubeconfig.remove("users", name)
            if removed:
                kubeconfig.save()
            ctx.state.forget(KubeconfigRecord)
        return f"removed {removed} context(s)"

    def status(self, ctx: LabContext) -> dict[str, Any]:
        recorded = ctx.state.get(KubeconfigRecord)
        contexts = set(recorded.contexts if recorded else ())
        return {
            "kubeconfig": recorded.path if recorded else None,
            "users": [
                {"user": u.handle, "email": u.email, "role": u.role, "groups": list(u.groups),
                 "context": ctx.context_name(u.handle) if ctx.context_name(u.handle) in contexts else None}
                for u in ctx.lab.users
            ],
        }

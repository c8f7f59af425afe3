"""Attendee kubeconfigs: the one way a lab makes a kubeconfig for a person to take away.

A room's handout (`lab handout`), the self-service page's download (`lab serve`) and the built-in
issuer's `/me` all hand out what this module makes, so they cannot drift. Such a kubeconfig needs
no oidc-lab state where it is used: the cluster (the room's address when the lab serves a room,
its CA inlined), one context (in the user's namespace when namespaces are per user) and one user
that signs in by itself, through the configured plugin:
- `lab token --issuer URL --client-id ID --login NAME --flow F` (credential/standalone.py), with the
  issuer's CA in the exec env when it is private; or
- kubelogin (`kubeconfig.plugin: kubelogin`) with the same issuer, client, grant and CA.
The client is always one that needs no secret: the built-in issuer's and Casdoor's take a public
client for every flow; on Auth0 it is the lab's Native application (PKCE), and attendees who
would use the password grant, which needs the secret there, sign in in the browser
(`oidc.flows.attendee_flow`). Nothing secret and nothing of another user goes in.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .credential.standalone import CA_ENV
from .errors import LabError
from .oidc.flows import BROWSER, PASSWORD, attendee_flow

if TYPE_CHECKING:
    from .config import LabConfig, UserSpec
    from .steps.context import LabContext

INSTALL_HINT = "`lab token` comes with oidc-lab: `pip install oidc-lab` (Windows: `py -m pip install oidc-lab`)."
EXEC_API_VERSION = "client.authentication.k8s.io/v1"


def room_server(server: str, address: str) -> str:
    """The apiserver URL the room reaches: the same port, published on the room's address."""
    parts = urlsplit(server)
    host = f"[{address}]" if ":" in address else address
    return urlunsplit((parts.scheme, f"{host}:{parts.port or 443}", parts.path, "", ""))


def lab_token_user(issuer: str, client_id: str, login: str, flow: str, issuer_ca: bytes | None,
                   redirect_ports: list[int] | tuple[int, ...] = (), issuer_address: str | None = None) -> dict[str, Any]:
    """A kubeconfig user running the stateless `lab token`: everything it needs is in its arguments."""
    args = ["token", "--issuer", issuer, "--client-id", client_id, "--login", login, "--flow", flow]
    if flow == BROWSER and redirect_ports:
        args += ["--redirect-ports", ",".join(str(port) for port in redirect_ports)]
    if issuer_address:
        args += ["--issuer-address", issuer_address]
    exec_spec: dict[str, Any] = {"apiVersion": EXEC_API_VERSION, "command": "lab", "args": args,
                                 "interactiveMode": "IfAvailable", "provideClusterInfo": False,
                                 "installHint": INSTALL_HINT}
    if issuer_ca:
        exec_spec["env"] = [{"name": CA_ENV, "value": issuer_ca.decode()}]
    return {"exec": exec_spec}


def kubelogin_user(issuer: str, client_id: str, login: str, flow: str, issuer_ca: bytes | None,
                   redirect_ports: list[int] | tuple[int, ...], scope: str) -> dict[str, Any]:
    """A kubeconfig user running kubelogin; its CA goes inline (the instructor's CA file is not there)."""
    from . import kubelogin

    args = kubelogin.get_token_args(issuer, client_id, flow, None, list(redirect_ports), login, scope)
    if issuer_ca:
        args.append(f"--certificate-authority-data={base64.b64encode(issuer_ca).decode()}")
    return {"exec": {"apiVersion": EXEC_API_VERSION, "command": "kubectl", "args": args,
                     "interactiveMode": "IfAvailable", "provideClusterInfo": False,
                     "installHint": kubelogin.INSTALL_HINT}}


def attendee_kubeconfig(cluster_name: str, context: str, namespace: str | None, server: str, cluster_ca: bytes,
                        user: dict[str, Any]) -> dict[str, Any]:
    """A whole kubeconfig for one person (pure: everything it holds is given)."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(cluster_ca).decode()}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": context,
                                                    "namespace": namespace or "default"}}],
        "current-context": context,
        "preferences": {},
    }


class AttendeeKubeconfigs:
    """Every lab user's attendee kubeconfig, from an up lab's context (its issuer, client and cluster)."""

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        lab = ctx.lab
        issuer, client = ctx.issuer, ctx.secrets.client
        if issuer is None or client is None:
            raise LabError(f"lab {lab.name!r} is not up yet", "run `lab up` first")
        if lab.provider == "auth0" and not client.public_client:
            raise LabError(f"lab {lab.name!r} signs in through a confidential Auth0 application: a kubeconfig handed "
                           "out could not sign in without its client secret",
                           "add `room: {address: ...}` to lab.yaml (attendees then sign in through a Native "
                           "application, with PKCE and no secret), then run `lab up`")
        self.issuer, self.client = issuer, client
        # Without a room the built-in issuer's name (host.minikube.internal) resolves only in the node:
        # this machine reaches the same process at its listen address (a SAN of its certificate).
        self.issuer_address = None
        if lab.provider == "local" and lab.room is None:
            from .providers.local.issuer.files import host_address

            self.issuer_address = host_address(lab.local.listen)

    def cluster(self, kubeconfig: Any = None) -> tuple[str, bytes] | None:
        """The server attendees reach (the room's address, if any) and the cluster CA, from the
        profile's own kubeconfig entry; None when it has none (minikube stopped)."""
        ctx = self.ctx
        name = ctx.cluster.kubeconfig_cluster
        kubeconfig = kubeconfig if kubeconfig is not None else ctx.open_kubeconfig()
        entry = (kubeconfig.get("clusters", name) or {}).get("cluster") or {}
        if not entry.get("server"):
            return None
        if entry.get("certificate-authority-data"):
            ca = base64.b64decode(entry["certificate-authority-data"])
        else:
            try:
                ca = Path(entry.get("certificate-authority", "")).expanduser().read_bytes()
            except OSError:
                raise LabError(f"cannot read the CA of cluster {name!r} ({entry.get('certificate-authority')})",
                               f"run `minikube update-context -p {ctx.lab.cluster.profile}`, then try again") from None
        room = ctx.lab.room
        return (room_server(entry["server"], room.address) if room else entry["server"]), ca

    def flow(self, user: UserSpec) -> str:
        return attendee_flow(self.ctx.lab, user)

    def user_entry(self, user: UserSpec) -> dict[str, Any]:
        lab, issuer, client = self.ctx.lab, self.issuer, self.client
        login, flow = self.ctx.provider.login_name(user), self.flow(user)
        if lab.kubeconfig.plugin == "kubelogin":
            return kubelogin_user(issuer.url, issuer.client_id, login, flow, issuer.ca_pem, client.redirect_ports,
                                  client.scope)
        return lab_token_user(issuer.url, issuer.client_id, login, flow, issuer.ca_pem, client.redirect_ports,
                              self.issuer_address)

    def for_user(self, user: UserSpec, cluster: tuple[str, bytes]) -> dict[str, Any]:
        ctx = self.ctx
        server, cluster_ca = cluster
        return attendee_kubeconfig(ctx.lab.name, ctx.context_name(user.handle), ctx.lab.namespace_for(user), server,
                                   cluster_ca, self.user_entry(user))

    def all(self, kubeconfig: Any = None) -> dict[str, dict[str, Any]]:
        """Every lab user's kubeconfig by handle ({} when the kubeconfig has no entry for the cluster)."""
        cluster = self.cluster(kubeconfig)
        if cluster is None:
            return {}
        return {user.handle: self.for_user(user, cluster) for user in self.ctx.lab.users}


def self_service_url(lab: LabConfig, issuer_url: str | None) -> str | None:
    """Where a lab user fetches their kubeconfig by signing in: `lab serve`'s page when it is served to
    the room (lab.yaml has a `serve` section in a room lab: its host is then the room's address), else
    the built-in issuer's own `/me`; None when the lab serves no page."""
    if lab.room is not None and lab.serve.host == lab.room.address:
        return lab.serve.callback
    if lab.provider == "local" and issuer_url:
        return f"{issuer_url.rstrip('/')}/me"
    return None


def uses_password(lab: LabConfig, user: UserSpec) -> bool:
    return attendee_flow(lab, user) == PASSWORD


def handouts_file(issuer_folder: Path) -> Path:
    """The built-in issuer's copy of every user's kubeconfig (0600, keyed by `sub`), for its `/me`."""
    return issuer_folder / "handouts.json"

"""Handouts: per attendee, a kubeconfig that works from their own laptop and a printable sheet.

The kubeconfig needs no oidc-lab state: the cluster's server is the room's address with the
cluster CA embedded, and the user runs `lab token --issuer ... --client-id ... --login ...` with
the issuer's CA in the exec env. No handout carries a client secret. The sheet (one printed
page) names the attendee, how to install the plugin on Windows, macOS and Linux, the commands to
try, and the initial password only when they sign in with the password flow; such a sheet is 0600.
Everything written is recorded (`HandoutsRecord`), so `lab up` keeps the set in step with the
roster and `lab down` removes exactly those files.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import yaml

from ..errors import LabError
from ..fsutil import write_private

if TYPE_CHECKING:
    from ..steps.context import LabContext

CA_ENV = "OIDC_LAB_CA"  # credential/standalone.py reads it
INSTALL_HINT = "`lab token` comes with oidc-lab: `pip install oidc-lab` (Windows: `py -m pip install oidc-lab`)."


@dataclass(frozen=True)
class HandoutsRecord:
    """Where the handouts are, and every file written there (relative to `folder`)."""

    where: ClassVar[tuple[str, ...]] = ("sections", "handouts")
    folder: str
    files: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "HandoutsRecord":
        return cls(raw["folder"], tuple(raw.get("files", [])))

    def to_dict(self) -> dict[str, Any]:
        return {"folder": self.folder, "files": list(self.files)}


@dataclass(frozen=True)
class Handout:
    """What one attendee is given."""

    handle: str
    name: str
    login: str
    context: str
    namespace: str | None
    kubeconfig: dict[str, Any]
    password: str | None  # only with the password flow

    @property
    def kubeconfig_file(self) -> str:
        return f"{self.handle}/kubeconfig"

    @property
    def sheet_file(self) -> str:
        return f"{self.handle}/sheet.html"


def attendee_flow(provider: str) -> str:
    """How attendees sign in. Auth0's password grant needs the client secret, which a laptop in the
    room must not hold, so an Auth0 room signs in in the browser; the built-in issuer and Casdoor
    take a public client for the password grant."""
    return "browser" if provider == "auth0" else "password"


def room_server(server: str, address: str) -> str:
    """The apiserver URL the room reaches: the same port, published on the room's address."""
    parts = urlsplit(server)
    host = f"[{address}]" if ":" in address else address
    return urlunsplit((parts.scheme, f"{host}:{parts.port or 443}", parts.path, "", ""))


def attendee_kubeconfig(lab_name: str, context: str, namespace: str | None, server: str, cluster_ca: bytes,
                        issuer: str, client_id: str, login: str, flow: str, issuer_ca: bytes | None) -> dict[str, Any]:
    """A whole kubeconfig for one attendee (pure: everything it holds is given)."""
    exec_spec: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": "lab",
        "args": ["token", "--issuer", issuer, "--client-id", client_id, "--login", login, "--flow", flow],
        "interactiveMode": "IfAvailable",
        "provideClusterInfo": False,
        "installHint": INSTALL_HINT,
    }
    if issuer_ca:
        exec_spec["env"] = [{"name": CA_ENV, "value": issuer_ca.decode()}]
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": lab_name, "cluster": {
            "server": server, "certificate-authority-data": base64.b64encode(cluster_ca).decode()}}],
        "users": [{"name": context, "user": {"exec": exec_spec}}],
        "contexts": [{"name": context, "context": {"cluster": lab_name, "user": context,
                                                    "namespace": namespace or "default"}}],
        "current-context": context,
        "preferences": {},
    }


class Handouts:
    """The room's handouts for one lab context: made from the state, written into one folder."""

    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        lab = ctx.lab
        if lab.room is None:
            raise LabError(f"lab {lab.name!r} has no room.address, so its cluster is reachable only from this machine",
                           "add `room: {address: <this machine's address on the room's network>}` to lab.yaml "
                           "and run `lab up`")
        self.address = lab.room.address
        self.flow = attendee_flow(lab.provider)

    def _cluster(self) -> tuple[str, bytes]:
        """The room's server URL and the cluster CA, from the profile's own kubeconfig entry."""
        kubeconfig = self.ctx.open_kubeconfig()
        name = self.ctx.cluster.kubeconfig_cluster
        entry = (kubeconfig.get("clusters", name) or {}).get("cluster") or {}
        if not entry.get("server"):
            raise LabError(f"the kubeconfig {kubeconfig.path} has no cluster {name!r}",
                           f"start the cluster (`minikube start -p {self.ctx.lab.cluster.profile}`), then run `lab up`")
        if entry.get("certificate-authority-data"):
            ca = base64.b64decode(entry["certificate-authority-data"])
        else:
            try:
                ca = Path(entry.get("certificate-authority", "")).expanduser().read_bytes()
            except OSError:
                raise LabError(f"cannot read the CA of cluster {name!r} ({entry.get('certificate-authority')})",
                               f"run `minikube update-context -p {self.ctx.lab.cluster.profile}`, then `lab handout`") from None
        return room_server(entry["server"], self.address), ca

    def make(self) -> list[Handout]:
        ctx = self.ctx
        issuer = ctx.issuer
        if issuer is None:
            raise LabError(f"lab {ctx.lab.name!r} is not up yet", "run `lab up` first")
        server, cluster_ca = self._cluster()
        users = ctx.secrets.document.get("users") or {}
        made = []
        for user in ctx.lab.users:
            context = ctx.context_name(user.handle)
            namespace = ctx.lab.namespace_for(user)
            login = ctx.provider.login_name(user)
            config = attendee_kubeconfig(ctx.lab.name, context, namespace, server, cluster_ca, issuer.url,
                                         issuer.client_id, login, self.flow, issuer.ca_pem)
            password = (users.get(user.handle) or {}).get("password") if self.flow == "password" else None
            made.append(Handout(user.handle, user.display_name, login, context, namespace, config, password))
        return made

    def write(self, folder: Path) -> tuple[HandoutsRecord, int, int]:
        """Write every handout and the index, remove the ones of attendees who left; returns the
        record and how many attendees were added and removed."""
        from .sheet import render_index, render_sheet

        folder = folder.expanduser().absolute()
        previous = self.ctx.state.get(HandoutsRecord)
        before = set(previous.files) if previous and Path(previous.folder) == folder else set()
        handouts = self.make()
        written: list[str] = []
        for handout in handouts:
            _write_if_changed(folder / handout.kubeconfig_file, yaml.safe_dump(handout.kubeconfig, sort_keys=False))
            sheet = render_sheet(self.ctx.lab, handout, self.flow)
            _write_if_changed(folder / handout.sheet_file, sheet, mode=0o600 if handout.password else 0o644)
            written += [handout.kubeconfig_file, handout.sheet_file]
        _write_if_changed(folder / "index.html", render_index(self.ctx.lab, handouts), mode=0o644)
        written.append("index.html")
        gone = sorted(before - set(written))
        if previous and Path(previous.folder) != folder:
            remove_recorded(previous)  # moved: the old folder's files are the lab's no more
        else:
            _remove_files(folder, gone)
        record = HandoutsRecord(str(folder), tuple(written))
        self.ctx.state.put(record)
        had = {name.split("/")[0] for name in before if "/" in name}
        now = {handout.handle for handout in handouts}
        return record, len(now - had), len(had - now)


def _write_if_changed(path: Path, text: str, mode: int = 0o600) -> None:
    """An attendee whose handout is unchanged keeps the very file (a re-run touches nobody else)."""
    try:
        if path.read_text() == text and (path.stat().st_mode & 0o777) == mode:
            return
    except OSError:
        pass
    write_private(path, text, mode=mode)


def _remove_files(folder: Path, files: list[str]) -> list[str]:
    """Remove `files` (relative to `folder`) and the folders they leave empty; returns those left."""
    left: list[str] = []
    for name in files:
        path = folder / name
        try:
            path.unlink(missing_ok=True)
        except OSError:
            left.append(str(path))
            continue
        for parent in path.parents:
            if parent == folder.parent or parent == folder.parent.parent:
                break
            try:
                parent.rmdir()  # only when empty: anything the instructor put there stays
            except OSError:
                break
    return left


def remove_recorded(record: HandoutsRecord) -> list[str]:
    """For `lab down`: remove the handouts the state records; returns the paths it could not remove."""
    return _remove_files(Path(record.folder), list(record.files))


def default_folder(lab_name: str) -> Path:
    return Path.cwd() / f"{lab_name}-handouts"

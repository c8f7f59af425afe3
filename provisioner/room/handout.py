"""Handouts: per attendee, a kubeconfig that works from their own laptop and a printable sheet.

The kubeconfig is the lab's one kind of attendee kubeconfig (provisioner/handouts.py, the same the
self-service page hands out): no oidc-lab state needed, no client secret. The sheet (one printed
page) names the attendee, how to install the plugin on Windows, macOS and Linux, the commands to
try, the self-service page's address when the lab serves one, and the initial password only when
they sign in with the password flow; such a sheet is 0600. Everything written is recorded
(`HandoutsRecord`), so `lab up` keeps the set in step with the roster and `lab down` removes
exactly those files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from ..errors import LabError
from ..fsutil import write_private
from ..handouts import AttendeeKubeconfigs, self_service_url

if TYPE_CHECKING:
    from ..steps.context import LabContext


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
    flow: str = "password"

    @property
    def kubeconfig_file(self) -> str:
        return f"{self.handle}/kubeconfig"

    @property
    def sheet_file(self) -> str:
        return f"{self.handle}/sheet.html"


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

    def make(self) -> list[Handout]:
        ctx = self.ctx
        kubeconfigs = AttendeeKubeconfigs(ctx)
        cluster = kubeconfigs.cluster()
        if cluster is None:
            raise LabError(f"the kubeconfig {ctx.open_kubeconfig().path} has no cluster {ctx.cluster.kubeconfig_cluster!r}",
                           f"start the cluster (`minikube start -p {ctx.lab.cluster.profile}`), then run `lab up`")
        users = ctx.secrets.document.get("users") or {}
        made = []
        for user in ctx.lab.users:
            flow = kubeconfigs.flow(user)
            password = (users.get(user.handle) or {}).get("password") if flow == "password" else None
            made.append(Handout(user.handle, user.display_name, ctx.provider.login_name(user),
                                ctx.context_name(user.handle), ctx.lab.namespace_for(user),
                                kubeconfigs.for_user(user, cluster), password, flow))
        return made

    @property
    def self_service_url(self) -> str | None:
        issuer = self.ctx.issuer
        return self_service_url(self.ctx.lab, issuer.url if issuer else None)

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
            sheet = render_sheet(self.ctx.lab, handout, self.self_service_url)
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

"""Step 6: the room. Checks that the cluster can serve the room, and keeps the handouts in step.

`lab handout` writes the attendees' handouts the first time (provisioner/room/handout.py); from then
on `lab up` rewrites them for the roster as it is (a new attendee gets one, a departed one's are
removed) and `lab down` removes every file it recorded, naming any it could not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..config import LabConfig
from ..progress import Reporter
from ..room.cluster import room_problem
from ..oidc.flows import PASSWORD, attendee_flow
from ..room.handout import Handouts, HandoutsRecord, default_folder, remove_recorded
from .base import Change, Step
from .context import LabContext


class RoomStep(Step):
    name = "room"

    def title(self, ctx: LabContext) -> str:
        return f"Room ({ctx.lab.room.address})" if ctx.lab.room else "Room"

    def preflight(self, ctx: LabContext) -> None:
        room = ctx.lab.room
        if room is None:
            return
        profile_config = getattr(ctx.cluster, "profile_config", None)
        if profile_config is not None:
            problem = room_problem(profile_config(), ctx.lab.cluster.profile, room.address)
            if problem is not None:
                raise problem

    def plan(self, ctx: LabContext) -> list[Change]:
        recorded = ctx.state.get(HandoutsRecord)
        if ctx.lab.room is None or recorded is None:
            return []
        had = {name.split("/")[0] for name in recorded.files if "/" in name}
        now = {user.handle for user in ctx.lab.users}
        return self.changes(*(f"write the handout of {handle} in {recorded.folder}" for handle in sorted(now - had)),
                            *(f"remove the handout of {handle} from {recorded.folder}" for handle in sorted(had - now)))

    def ensure(self, ctx: LabContext) -> str:
        room = ctx.lab.room
        if room is None:
            return "no room.address: the lab serves this machine only"
        moved = [u.handle for u in ctx.lab.users if ctx.lab.flow_for(u) == PASSWORD and attendee_flow(ctx.lab, u) != PASSWORD]
        if moved:
            ctx.ui.warn(f"{ctx.lab.provider}'s password grant needs the client secret, which attendees must not hold: "
                        f"{len(moved)} attendee(s) sign in with the browser flow instead (PKCE through the lab's "
                        "Native application, no secret)")
        recorded = ctx.state.get(HandoutsRecord)
        if recorded is None:
            return f"reachable at {room.address}; run `lab handout` to write the attendees' handouts"
        _, added, removed = Handouts(ctx).write(Path(recorded.folder))
        return f"handouts in {recorded.folder} ({added} added, {removed} removed)"

    def has_teardown(self, ctx: LabContext) -> bool:
        return ctx.state.get(HandoutsRecord) is not None

    def teardown(self, ctx: LabContext) -> str:
        recorded = ctx.state.get(HandoutsRecord)
        assert recorded is not None
        left = remove_recorded(recorded)
        for path in left:
            ctx.ui.warn(f"could not remove {path}: remove it yourself")
        ctx.state.forget(HandoutsRecord)
        removed = len(recorded.files) - len(left)
        return f"removed {removed} handout file(s) from {recorded.folder}" + (f", {len(left)} left" if left else "")

    def status(self, ctx: LabContext) -> dict[str, Any]:
        recorded = ctx.state.get(HandoutsRecord)
        return {"room": {"address": ctx.lab.room.address if ctx.lab.room else None,
                         "handouts": recorded.folder if recorded else None,
                         "handout_files": len(recorded.files) if recorded else 0}}


def write_handouts(lab: LabConfig, ui: Reporter, out: Path | None) -> HandoutsRecord:
    """`lab handout [--out DIR]`: write every attendee's handout, recorded for `lab up` and `lab down`."""
    from ..labs import open_state
    from ..paths import LabPaths
    from ..state import LabLock

    paths = LabPaths.for_lab(lab.name)
    with LabLock(paths, lab.name), LabContext(lab, ui, paths, open_state(lab, paths)) as ctx:
        handouts = Handouts(ctx)
        recorded = ctx.state.get(HandoutsRecord)
        folder = out or (Path(recorded.folder) if recorded else default_folder(lab.name))
        with ui.step(f"Handouts for {len(lab.users)} attendee(s)") as shown:
            record, _, removed = handouts.write(folder)
            shown.summary = f"{len(lab.users)} sheet(s) and kubeconfig(s) in {record.folder}" + (
                f", {removed} departed attendee(s) removed" if removed else "")
        return record

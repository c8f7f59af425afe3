"""`lab up`, `lab plan`, `lab down` and `lab status`: the steps of a lab, in order, with state between.

The steps and their order live in `provisioner/steps/` (STEPS); this module only sequences them:
take the lab's lock, run the preflight checks, run each step saving the state after it, and for
`down` run the teardowns in reverse, driven by the state alone (the config used is kept in it),
so it works after a partial `up` and without lab.yaml.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from .config import LabConfig
from .labs import open_state, remember_config
from .paths import LabPaths
from .progress import Reporter
from .records import IssuerRecord
from .state import LabLock, LabState
from .steps import STEPS, Change, LabContext
from .steps.verify import Verdict


class Orchestrator:
    def __init__(self, lab: LabConfig, ui: Reporter, paths: LabPaths | None = None) -> None:
        self.lab = lab
        self.ui = ui
        self.paths = paths or LabPaths.for_lab(lab.name)

    def context(self, state: LabState | None = None, keep_cluster: bool = False) -> LabContext:
        return LabContext(self.lab, self.ui, self.paths, state, keep_cluster)

    def preflight(self, ctx: LabContext) -> None:
        """Every step's cheap checks, before anything changes. The last steps' checks are local
        (kubeconfig names, templates) and the first ones' remote (cluster, IdP): those run first."""
        with self.ui.step("Preflight checks") as shown:
            for step in reversed(STEPS):
                step.preflight(ctx)
            shown.summary = f"minikube profile {self.lab.cluster.profile!r}, provider {self.lab.provider}"

    def up(self) -> list[Verdict]:
        """Run every step; returns the verify step's verdicts (one per user)."""
        # Folders this run would create; removed again if it stops before the first change.
        made = [folder for folder in (self.paths.root.parent, self.paths.root) if not folder.exists()]
        try:
            with LabLock(self.paths, self.lab.name), self.context(open_state(self.lab, self.paths)) as ctx:
                self.preflight(ctx)
                made = []  # from here on the state records what the lab makes
                return self._ensure(ctx)
        finally:
            _remove_unused(made)

    def _ensure(self, ctx: LabContext) -> list[Verdict]:
        remember_config(ctx.state, self.lab)
        for step in STEPS:
            with self.ui.step(step.title(ctx)) as shown:
                shown.summary = step.ensure(ctx)
            ctx.state.save()
            step.report(ctx)
            for later in STEPS:
                if later.head_start_after == step.name:
                    later.head_start(ctx)
        return ctx.verdicts

    def plan(self) -> list[Change]:
        """What `up` would change, step by step; changes nothing."""
        with self.context(open_state(self.lab, self.paths)) as ctx:
            self.preflight(ctx)
            return [change for step in STEPS for change in step.plan(ctx)]

    def down(self, keep_cluster: bool = False) -> bool:
        """Undo the lab. Returns False if there was nothing to do."""
        with LabLock(self.paths, self.lab.name):
            state = LabState.load(self.paths, self.lab.name)
            if not state.exists or (state.empty and state.get(IssuerRecord) is None):
                state.remove()
                return False
            with self.context(state, keep_cluster) as ctx:
                for step in reversed(STEPS):
                    if step.has_teardown(ctx):
                        with self.ui.step(step.title(ctx)) as shown:
                            shown.summary = step.teardown(ctx)
                        ctx.state.save()
            state.remove()
            return True

    def status(self) -> dict[str, Any]:
        """What each step reports, without changing anything (and without the lock)."""
        with self.context() as ctx:
            if not ctx.state.exists:
                return {"lab": self.lab.name, "exists": False}
            report: dict[str, Any] = {"lab": self.lab.name, "exists": True, "state_dir": str(self.paths.root)}
            for step in STEPS:
                report.update(step.status(ctx))
            return report


def _remove_unused(folders: list[Path]) -> None:
    """A refused `lab up` leaves nothing behind: the lab folder (and the labs folder) it made, lock included."""
    for folder in folders:
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)

"""The one shape every step of a lab has.

A step answers the same questions for `lab up`, `plan`, `down` and `status`, so those commands
only loop over the steps (provisioner/steps/__init__.py: STEPS) and never re-derive what a step
knows. What a step needs from an earlier one (the issuer, the OIDC settings) it reads from the
`LabContext`, which reads it from the state when the earlier step did not run in this process.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import LabContext


@dataclass(frozen=True)
class Change:
    """One thing `lab up` would do, said by the step that would do it."""

    step: str
    what: str

    def __str__(self) -> str:
        return f"{self.step:<10} {self.what}"


class Step(ABC):
    #: The short name `lab plan` shows in its first column.
    name: str

    def title(self, ctx: "LabContext") -> str:
        """The line `lab up` and `lab down` show while the step works."""
        return self.name

    def preflight(self, ctx: "LabContext") -> None:
        """Cheap checks before anything changes; raise a LabError naming the fix."""

    @abstractmethod
    def plan(self, ctx: "LabContext") -> list[Change]:
        """What `ensure` would change, one sentence each; touches nothing."""

    def changes(self, *what: str) -> list[Change]:
        return [Change(self.name, sentence) for sentence in what]

    @abstractmethod
    def ensure(self, ctx: "LabContext") -> str:
        """Make it so, recording what was made in `ctx.state`; returns the step's summary line."""

    def report(self, ctx: "LabContext") -> None:
        """Once the step's line is shown: what the user should read below it, or a failure the
        work uncovered (the verify step raises there when the cluster refuses a user)."""

    #: The step after which this step's `head_start` may begin (None: it has nothing to begin early).
    head_start_after: str | None = None

    def head_start(self, ctx: "LabContext") -> None:
        """Begin, in the background, work that needs only the steps up to `head_start_after`, while
        the steps in between run (verify signs users in while the cluster restarts). `ensure`
        collects it; the context cancels what has not started if `lab up` stops before."""

    def has_teardown(self, ctx: "LabContext") -> bool:
        """Whether the state records something `teardown` would undo (its line is shown only then)."""
        return True

    @abstractmethod
    def teardown(self, ctx: "LabContext") -> str:
        """Undo only what the state records, forget it, and return the summary line."""

    def status(self, ctx: "LabContext") -> dict[str, Any]:
        """This step's part of `lab status -o json` (no secrets)."""
        return {}

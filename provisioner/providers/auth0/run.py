"""One plan, ensure or teardown against the tenant: what every object module works with."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import LabConfig
from ...progress import Reporter
from ...state import LabState
from .api import ManagementApi
from .records import Auth0Record


@dataclass
class Run:
    lab: LabConfig
    api: ManagementApi
    ui: Reporter
    state: LabState
    section: str
    record: Auth0Record
    #: the connection was made by this run, so it holds no user and enables no application yet
    fresh_connection: bool = False

    def save(self) -> None:
        """Write the record to the lab's state, on disk, now: called right after every change at Auth0."""
        section = self.state.section(self.section)
        section.clear()
        section.update(self.record.to_json())
        self.state.save()

"""What every Casdoor object module shares: the run's context, create-once, and delete-for-sure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ...config import LabConfig
from ...errors import ProviderError
from ...progress import Reporter
from ...secrets import LabSecrets
from ...state import LabState
from . import payloads
from .api import AFFECTED, CasdoorApi, CasdoorUnavailable
from .records import CasdoorRecords

SECTION = "provider"


@dataclass
class Run:
    """One `lab up`/`lab down` against Casdoor: the config, the API, and where results are kept."""

    lab: LabConfig
    api: CasdoorApi
    state: LabState
    secrets: LabSecrets
    ui: Reporter

    @property
    def names(self) -> payloads.Names:
        return payloads.names(self.lab)

    @property
    def records(self) -> CasdoorRecords:
        return CasdoorRecords(self.state.section(SECTION))

    def save(self) -> None:
        self.state.save()


def create_once(
    what: str,
    add: Callable[[], str],
    lookup: Callable[[], dict[str, Any] | None],
    is_ours: Callable[[dict[str, Any]], bool],
) -> dict[str, Any]:
    """Create once, even when the reply is lost: after a failure, look before trying again."""
    try:
        answer = add()
    except CasdoorUnavailable:
        found = lookup()
        if found is not None and is_ours(found):
            return found
        if found is not None:
            raise ProviderError(
                f"Casdoor {what} appeared while the lab was creating it, without the lab's mark",
                "another tool or person is changing Casdoor at the same time; run the command again later",
            ) from None
        answer = add()
    found = lookup()
    if answer != AFFECTED or found is None:
        raise ProviderError(
            f"Casdoor answered {answer!r} when asked to create {what}" if answer != AFFECTED
            else f"Casdoor accepted creating {what} but does not return it",
            "look at Casdoor's log for the cause (a duplicate client id or a missing organization), "
            "then run the command again",
        )
    return found


def delete_for_sure(what: str, delete: Callable[[], str], lookup: Callable[[], dict[str, Any] | None]) -> None:
    """Delete an object the state says exists. `Unaffected` is fine only when the object is gone
    already; one that is still there after an Unaffected delete is an error, not a success."""
    if delete() == AFFECTED:
        return
    if lookup() is not None:
        raise ProviderError(
            f"Casdoor answered Unaffected when asked to delete {what}, and it is still there",
            f"delete {what} in Casdoor's web UI, or check that this Casdoor version matches the lab's API calls, "
            "then run `lab down` again",
        )

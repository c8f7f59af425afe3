"""A lab as its state remembers it: the config it was made with and the provider it uses.

`lab down`, `lab status` and `lab doctor` work without lab.yaml (or after it changed) because
`lab up` keeps the config in the state; a state made with another provider is refused before a
step runs with the wrong one.
"""

from __future__ import annotations

from .config import LabConfig, parse_config
from .errors import StateError
from .paths import LabPaths
from .state import LabState


def lab_from_state(name: str, paths: LabPaths | None = None) -> LabConfig | None:
    """The config a lab was made with, as recorded in its state (for `down` and `status` without lab.yaml)."""
    paths = paths or LabPaths.for_lab(name)
    state = LabState.load(paths, name)
    document = state.document.get("config")
    return parse_config(document, str(paths.state)) if document else None


def open_state(lab: LabConfig, paths: LabPaths) -> LabState:
    """The lab's state, refused if it was made with another provider than lab.yaml now names."""
    state = LabState.load(paths, lab.name)
    recorded = state.document.get("provider_kind")
    if recorded and recorded != lab.provider and not state.empty:
        raise StateError(
            f"lab {lab.name!r} was set up with provider {recorded!r}, but lab.yaml now says {lab.provider!r}",
            "run `lab down` first, then `lab up` with the new provider",
        )
    return state


def remember_config(state: LabState, lab: LabConfig) -> None:
    """Keep the config (without passwords) so the lab can be taken down without lab.yaml."""
    state.document["provider_kind"] = lab.provider
    state.document["config"] = lab.model_dump(mode="json", exclude={"users": {"__all__": {"password"}}})
    state.save()

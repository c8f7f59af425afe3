"""State and secrets: private, atomic, locked."""

from __future__ import annotations

import stat

import pytest

from provisioner.errors import StateError
from provisioner.paths import LabPaths
from provisioner.secrets import LabSecrets
from provisioner.state import LabLock, LabState


def test_state_is_private_and_reloads(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    state = LabState.load(paths, "demo")
    state.section("provider")["client_id"] = "abc"
    state.save()
    assert stat.S_IMODE(paths.state.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700
    assert LabState.load(paths, "demo").section("provider") == {"client_id": "abc"}


def test_state_of_another_lab_is_refused(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    LabState.load(paths, "demo").save()
    with pytest.raises(StateError, match="does not belong to lab 'other'"):
        LabState.load(paths, "other")


def test_a_damaged_state_file_is_named(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    paths.root.mkdir()
    paths.state.write_text("{not json")
    with pytest.raises(StateError, match="is damaged"):
        LabState.load(paths, "demo")


def test_two_commands_cannot_work_on_one_lab(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    with LabLock(paths, "demo"):
        with pytest.raises(StateError, match="is busy"):
            with LabLock(paths, "demo"):
                pass
    with LabLock(paths, "demo"):
        pass


def test_generated_passwords_are_strong_stable_and_private(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    secrets = LabSecrets.load(paths)
    first = secrets.password("ada")
    assert len(first) >= 20 and any(c.isupper() for c in first) and any(c.isdigit() for c in first)
    assert LabSecrets.load(paths).password("ada") == first
    assert LabSecrets.load(paths).password("ada", fixed="Given-Pass-1") == "Given-Pass-1"
    assert stat.S_IMODE(paths.credentials.stat().st_mode) == 0o600

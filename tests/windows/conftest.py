"""The Windows lane's fixtures: every test gets a user of its own.

`scripts/test-windows` runs these tests under the Windows CPython with `--confcutdir` here, so the
suite's main conftest (which drives Linux programs: the fake minikube, kubectl) stays out of it.
The tests themselves are portable and run in the Linux suite too.
"""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(autouse=True)
def own_user(tmp_path, monkeypatch):
    """A home and (on Windows) a profile under tmp_path; no OIDC_LAB_HOME, KUBECONFIG or XDG_* of the machine's."""
    home = tmp_path / "user"
    (home / "AppData" / "Local").mkdir(parents=True)
    (home / "AppData" / "Roaming").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    if sys.platform == "win32":
        monkeypatch.setenv("USERPROFILE", str(home))
        monkeypatch.setenv("LOCALAPPDATA", str(home / "AppData" / "Local"))
        monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
        # What the known-folder API answers for this profile on a real Windows (platformdirs asks it;
        # under wine it would name the prefix's own profile whatever the environment says).
        monkeypatch.setenv("WIN_PD_OVERRIDE_LOCAL_APPDATA", str(home / "AppData" / "Local"))
        monkeypatch.setenv("WIN_PD_OVERRIDE_APPDATA", str(home / "AppData" / "Roaming"))
    for name in ("OIDC_LAB_HOME", "KUBECONFIG", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    return home


def python_child(code: str, *args: str) -> list[str]:
    """argv running `code` in a fresh interpreter that imports this checkout's provisioner."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {os.getcwd()!r}); {code}", *args]

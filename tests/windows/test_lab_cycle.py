"""One lab's life as a Windows user lives it: `lab up`, kubectl signing in through the exec plugin,
a second `lab up` that restarts nothing, `lab down` that leaves nothing.

Portable: the Linux suite runs it with the installed `lab`, and `scripts/test-windows` runs it under
Windows CPython with `lab.exe` (the console script pip makes), `minikube.exe` (the fake minikube
behind the launcher pip gives console scripts) and the real `kubectl.exe`. Every path here has
spaces in it, as `C:\\Users\\Ada Lovelace\\...` does. One cycle only: under wine every Python start
costs about 3 seconds.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from provisioner import platform
from tests.fakes.sandbox import LabEnv
from tests.support.labcli import lab_command

LAB_YAML = """
name: demo
local:
  port: {port}
users:
  - email: ada@example.com
    name: Ada
"""


def lab(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    windows_lab = os.environ.get("OIDC_LAB_WINDOWS_LAB")
    command = [windows_lab] if windows_lab else lab_command()
    return subprocess.run([*command, *args], cwd=work, capture_output=True, text=True, encoding="utf-8",
                          errors="replace", timeout=300)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    env = LabEnv.create(tmp_path / "Ada Lovelace", monkeypatch)
    started = env.minikube("start", "-p", "minikube")
    assert started.returncode == 0, started.stdout + started.stderr
    env.work = tmp_path / "my lab"
    env.work.mkdir()
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=free_port()))
    try:
        yield env
    finally:
        lab(env.work, "down", "-q")  # no issuer left behind, whatever happened
        env.close()


def test_up_sign_in_up_again_and_down(sandbox):
    options_before = sandbox.extra_options("minikube")
    up = lab(sandbox.work, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "demo-ada: the cluster sees ada@example.com" in up.stdout + up.stderr

    # The kubeconfig runs this installation's lab by absolute path (lab.exe on Windows).
    user = next(u["user"] for u in sandbox.kubeconfig_document()["users"] if u["name"] == "demo-ada")
    command = Path(user["exec"]["command"])
    assert command.is_absolute() and command.is_file(), command
    if sys.platform == "win32":
        assert command.name == "lab.exe"
        assert user["exec"]["args"] == ["token", "--lab", "demo", "--user", "ada"]

    whoami = sandbox.kubectl("auth", "whoami", "-o", "json", context="demo-ada", timeout=120)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"

    issuer_pid = int((sandbox.oidc_lab_home / "demo" / "issuer" / "issuer.pid").read_text())
    calls = len(sandbox.minikube_calls())
    state = (sandbox.oidc_lab_home / "demo" / "state.json").read_text()
    again = lab(sandbox.work, "up")
    assert again.returncode == 0, again.stdout + again.stderr
    restarts = [c for c in sandbox.minikube_calls()[calls:] if c and c[0] in ("start", "stop")]
    assert restarts == []
    assert int((sandbox.oidc_lab_home / "demo" / "issuer" / "issuer.pid").read_text()) == issuer_pid
    assert (sandbox.oidc_lab_home / "demo" / "state.json").read_text() == state

    down = lab(sandbox.work, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert not platform.alive(issuer_pid)
    assert not (sandbox.oidc_lab_home / "demo").exists()
    assert sandbox.extra_options("minikube") == options_before
    kubeconfig = sandbox.kubeconfig_document()
    assert not [e["name"] for kind in ("contexts", "users") for e in kubeconfig.get(kind) or []
                if e["name"].startswith("demo-")]
    leftovers = sandbox.kubectl("get", "clusterroles,clusterrolebindings", "-l", "oidc-lab.io/lab=demo", "-o", "name")
    assert leftovers.returncode == 0 and leftovers.stdout.strip() == "", leftovers.stderr


def test_doctor_prints_its_marks_whatever_the_output_encoding(tmp_path):
    """`lab doctor | more` on Windows writes cp1252, which has no check marks."""
    (tmp_path / "lab.yaml").write_text(LAB_YAML.format(port=free_port()))
    env = dict(os.environ, PYTHONIOENCODING="cp1252", OIDC_LAB_HOME=str(tmp_path / "labs"))
    command = [os.environ["OIDC_LAB_WINDOWS_LAB"]] if os.environ.get("OIDC_LAB_WINDOWS_LAB") else lab_command()
    doctor = subprocess.run([*command, "doctor"], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    output = doctor.stdout.decode("cp1252") + doctor.stderr.decode("cp1252")
    assert doctor.returncode == 1, output
    assert "x lab: lab 'demo' is not up" in output
    assert "Traceback" not in output and "UnicodeEncodeError" not in output

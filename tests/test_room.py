"""A room: the instructor brings a roster, each attendee works from their own laptop.

Two HOMEs on one machine play instructor and attendee. The instructor's lab serves the room at
127.0.0.2 (a second loopback address standing in for the machine's address on the room's network:
the fake minikube publishes the apiserver there, the built-in issuer listens there, and the node
reaches it, as a real node reaches the host's LAN address). The attendee has only the handout
kubeconfig, their sheet and the installed package, and runs real kubectl.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import labcli
from tests.support.labcli import free_port

ROOM = "127.0.0.2"
LAB_YAML = """
name: room
local:
  port: {port}
room:
  address: {room}
namespaces:
  per_user: true
  role: edit
users_file: attendees.csv
"""


def roster(rows: list[tuple[str, str, str, str]]) -> str:
    return "email,name,groups,role\n" + "".join(",".join(row) + "\n" for row in rows)


@pytest.fixture
def instructor(lab_env, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NODE_HOSTS", f"{ROOM}={ROOM}")  # the node reaches the room address
    lab_env.work = tmp_path / "work"
    lab_env.work.mkdir()
    (lab_env.work / "lab.yaml").write_text(LAB_YAML.format(port=free_port(ROOM), room=ROOM))
    (lab_env.work / "attendees.csv").write_text(roster([
        ("ada@example.com", "Ada Lovelace", "", ""),
        ("grace@example.com", '"Hopper, Grace"', "navy", ""),
    ]))
    yield lab_env
    labcli.run_lab(lab_env.work, "down", "-q", check=False)


def attendee_env(home: Path, kubeconfig: Path, password: str | None = None) -> dict[str, str]:
    """A laptop: its own HOME, only the handout kubeconfig, the installed package and kubectl on PATH."""
    keep = ("LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(home), KUBECONFIG=str(kubeconfig),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), str(Path(labcli.kubectl_path()).parent),
                                     "/usr/bin", "/bin"]))
    if password:
        env["OIDC_LAB_PASSWORD"] = password
    return env


def kubectl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([labcli.kubectl_path(), *args], env=env, capture_output=True, text=True, timeout=60)


def sheet_password(sheet: str) -> str:
    found = re.search(r'<span class="password">([^<]+)</span>', sheet)
    assert found, "the sheet shows the initial password with the password flow"
    return found.group(1)


def test_a_profile_the_room_cannot_reach_stops_lab_up_with_the_command_that_fixes_it(instructor):
    assert instructor.minikube("start", "-p", "minikube").returncode == 0
    config_before = instructor.profile_config()
    up = labcli.run_lab(instructor.work, "up", check=False)
    assert up.returncode != 0
    assert "publishes the apiserver on 127.0.0.1 only" in up.stderr
    hint = next(line for line in up.stderr.splitlines() if line.startswith("hint:"))
    command = re.search(r"`([^`]+)`", hint).group(1)
    assert command.startswith("minikube delete -p minikube && minikube start -p minikube --driver=docker "
                              f"--listen-address=0.0.0.0 --apiserver-ips={ROOM}")
    assert instructor.profile_config() == config_before  # nothing changed: not the profile, not its flags
    assert not (instructor.oidc_lab_home / "room").exists()
    assert [c[0] for c in instructor.minikube_calls()].count("start") == 1  # only the test's own start

    # The instructor runs the command; only --apiserver-ips on a later start reaches an existing profile.
    for part in command.split(" && "):
        assert instructor.minikube(*shlex.split(part)[1:]).returncode == 0
    config = instructor.profile_config()
    assert config["ListenAddress"] == "0.0.0.0" and config["KubernetesConfig"]["APIServerIPs"] == [ROOM]
    labcli.run_lab(instructor.work, "plan")  # the preflight passes now


def test_an_attendee_with_only_the_handout_works_in_their_namespace_and_nowhere_else(instructor, tmp_path):
    started = instructor.minikube("start", "-p", "minikube", "--listen-address=0.0.0.0", f"--apiserver-ips={ROOM}")
    assert started.returncode == 0, started.stdout + started.stderr
    labcli.run_lab(instructor.work, "up")
    out = tmp_path / "handouts"
    labcli.run_lab(instructor.work, "handout", "--out", str(out))

    status = labcli.run_lab(instructor.work, "status").stdout
    assert f"Room:       {ROOM}, handouts in {out}" in status
    kubeconfig_file, sheet_file = out / "ada" / "kubeconfig", out / "ada" / "sheet.html"
    assert stat.S_IMODE(sheet_file.stat().st_mode) == 0o600  # it carries the password
    handout = yaml.safe_load(kubeconfig_file.read_text())
    assert handout["clusters"][0]["cluster"]["server"].startswith(f"https://{ROOM}:")
    text = kubeconfig_file.read_text()
    assert "secret" not in text.lower() and sheet_password(sheet_file.read_text()) not in text
    assert "Ada Lovelace" in sheet_file.read_text() and "Hopper, Grace" in (out / "index.html").read_text()

    # The laptop: a fresh HOME with the handout kubeconfig, nothing of the instructor's.
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    (laptop / "kubeconfig").write_text(text)
    first = attendee_env(laptop, laptop / "kubeconfig", password=sheet_password(sheet_file.read_text()))
    whoami = kubectl(first, "auth", "whoami", "-o", "json")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    cached = list((laptop / ".cache" / "oidc-lab" / "tokens").glob("*.tokens"))
    assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o600

    later = attendee_env(laptop, laptop / "kubeconfig")  # no password any more: the cache serves
    made = kubectl(later, "create", "configmap", "notes", "--from-literal=hello=room")
    assert made.returncode == 0, made.stderr
    assert kubectl(later, "get", "configmap", "notes", "-o", "name").stdout.strip() == "configmap/notes"
    other = kubectl(later, "get", "configmaps", "-n", "room-grace")
    assert other.returncode != 0 and "Forbidden" in other.stderr
    assert not (laptop / ".local").exists()  # no oidc-lab state on the laptop

    down = labcli.run_lab(instructor.work, "down")
    assert "removed 5 handout file(s)" in down.stderr + down.stdout
    assert not out.exists()
    again = labcli.run_lab(instructor.work, "down")
    assert "nothing to do" in again.stdout

"""Killed at any point, a re-run converges and `lab down` leaves nothing.

`lab up` and `lab down` run as the installed command in their own process group and are killed
with SIGKILL to that group: at each step boundary (when the step's `✓` line appears, as a user
would see it and press Ctrl-\\ or lose power) and inside the minikube restart (the fake minikube's
`$FAKE_MINIKUBE_KILL_AT` hook kills the group at a named point of `stop` or `start`, like a
reboot in the middle of it). Then the same command runs again and must succeed; after `lab down`
there is no kubeconfig entry of the lab, no RBAC object with its labels, no OIDC flag on the
profile, no issuer process, no state folder, and minikube's own context works.

One sandbox (and one started profile) serves every kill point, and each case pairs a kill of
`lab up` with one of the `lab down` that follows: each starts from, and must end in, the clean
machine the previous one left.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.fakes import minikube as fake_minikube
from tests.fakes.sandbox import LabEnv
from tests.support.labcli import lab_command

LAB_YAML = """
name: demo
local:
  port: {port}
users:
  - email: ada@example.com
"""

#: Where `lab up` is killed: after the Nth step line, or at a point inside the fake minikube.
UP_KILLS = [
    "after 1 step lines",   # preflight done, nothing made yet
    "after 2 step lines",   # identity: issuer running, CA and keys made
    "stop:stopped",         # restart: the profile stopped, its kubeconfig entries gone
    "start:saved",          # restart: the new options saved, the node not up
    "start:apiserver-up",   # restart: the apiserver up, the kubeconfig not written (Misconfigured)
    "after 3 step lines",   # cluster: OIDC flags in place
    "after 4 step lines",   # RBAC applied
    "after 5 step lines",   # kubeconfig written, verify running
]
#: Where `lab down` is killed (None: not killed), paired with the `lab up` kills above.
DOWN_KILLS = [
    "after 1 step lines",   # kubeconfig entries removed
    "after 2 step lines",   # RBAC deleted
    "stop:stopped",         # restore: the profile stopped
    "start:saved",          # restore: the old options saved, the node not up
    "start:apiserver-up",   # restore: the apiserver up, the kubeconfig not written (Misconfigured)
    "after 3 step lines",   # apiserver flags restored
    None,
    None,
]
CASES = list(zip(UP_KILLS, DOWN_KILLS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def machine(tmp_path_factory) -> Iterator[LabEnv]:
    with pytest.MonkeyPatch.context() as patch:
        env = LabEnv.create(tmp_path_factory.mktemp("converge") / "sandbox", patch)
        try:
            started = env.minikube("start", "-p", "minikube")
            assert started.returncode == 0, started.stderr
            env.work = env.root / "work"
            env.work.mkdir()
            (env.work / "lab.yaml").write_text(LAB_YAML.format(port=_free_port()))
            env.options_before = env.extra_options("minikube")
            yield env
        finally:
            subprocess.run([*lab_command(), "down", "-q"], cwd=env.root / "work", capture_output=True, timeout=120)
            env.close()


def lab(env: LabEnv, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*lab_command(), *args], cwd=env.work, capture_output=True, text=True, timeout=120)


def killed(env: LabEnv, command: str, where: str) -> str:
    """Run `lab <command>` and SIGKILL its process group at `where`; its output up to then."""
    extra = {}
    lines_wanted = None
    if where.startswith("after "):
        lines_wanted = int(where.split()[1])
    else:
        extra[fake_minikube.KILL_ENV] = where
    process = subprocess.Popen([*lab_command(), command], cwd=env.work, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, **extra})
    seen, done = [], 0
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if line.startswith("✓") and lines_wanted is not None:
            done += 1
            if done == lines_wanted:
                os.killpg(process.pid, signal.SIGKILL)
                break
    process.stdout.close()
    code = process.wait(timeout=120)
    output = "".join(seen)
    assert code == -signal.SIGKILL, f"`lab {command}` was not killed at {where} (exit {code}):\n{output}"
    return output


def issuer_processes(env: LabEnv) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"provisioner.providers.local.issuer" in argv and str(env.oidc_lab_home).encode() in b" ".join(argv) \
                and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def assert_nothing_left(env: LabEnv) -> None:
    kubeconfig = env.kubeconfig_document()
    names = {entry["name"] for kind in ("contexts", "users") for entry in kubeconfig.get(kind) or []}
    assert not {name for name in names if name.startswith("demo-")}, names
    assert env.extra_options("minikube") == env.options_before
    leftovers = env.kubectl("get", "clusterroles,clusterrolebindings,roles,rolebindings", "-A",
                            "-l", "oidc-lab.io/lab=demo", "-o", "name", context="minikube")
    assert leftovers.returncode == 0 and leftovers.stdout.strip() == "", leftovers.stdout + leftovers.stderr
    assert issuer_processes(env) == []
    assert not (env.oidc_lab_home / "demo").exists()
    status = json.loads(env.minikube("status", "-p", "minikube", "-o", "json").stdout)
    assert status["Kubeconfig"] == "Configured" and status["APIServer"] == "Running", status
    admin = env.kubectl("auth", "whoami", "-o", "json", context="minikube")
    assert admin.returncode == 0, admin.stderr
    assert json.loads(admin.stdout)["status"]["userInfo"]["username"] == "minikube-user"


@pytest.mark.parametrize(("up_kill", "down_kill"), CASES,
                         ids=[f"up-{u}-down-{d}".replace(" ", "-") for u, d in CASES])
def test_a_killed_run_converges_on_the_next_and_lab_down_leaves_nothing(machine, up_kill, down_kill):
    env = machine
    assert not (env.oidc_lab_home / "demo").exists()  # the clean machine the previous case left

    killed(env, "up", up_kill)
    again = lab(env, "up")
    assert again.returncode == 0, f"the re-run of `lab up` after a kill at {up_kill} failed:\n{again.stdout}{again.stderr}"
    whoami = env.kubectl("auth", "whoami", "-o", "json", context="demo-ada")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"

    if down_kill is not None:
        killed(env, "down", down_kill)
    down = lab(env, "down")
    assert down.returncode == 0, f"`lab down` after a kill at {down_kill} failed:\n{down.stdout}{down.stderr}"
    assert_nothing_left(env)

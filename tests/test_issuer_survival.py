"""The built-in issuer outlives what kills it: a `lab up` killed before recording it, a reboot, a crash.

Through the installed `lab` command and real kubectl, as an instructor meets these: the issuer
process is SIGKILLed (what a reboot or the OOM killer does to it), or its pid and serving files are
missing (what a `lab up` killed right after starting it leaves behind).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import labcli
from tests.support.labcli import alive, lab_command
from tests.support.labcli import free_port

LAB_YAML = """
name: demo
local:
  port: {port}
users:
  - email: ada@example.com
  - email: carl@example.com
"""


@pytest.fixture
def lab(minikube_profile, tmp_path):
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()
    env.port = free_port()
    env.issuer = Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "issuer"
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=env.port))
    labcli.run_lab(env.work, "up", "-q")
    yield env
    import subprocess

    subprocess.run([*lab_command(), "down", "-q"], cwd=env.work, capture_output=True, timeout=180)
    for pid in listening_pids(env):  # whatever the test did, no issuer outlives it
        os.kill(pid, signal.SIGKILL)


def recorded_pid(env) -> int | None:
    pidfile = env.issuer / "issuer.pid"
    return int(pidfile.read_text()) if pidfile.exists() else None


def listening_pids(env) -> list[int]:
    """Every live issuer process of this lab's folder, recorded or not."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(env.issuer).encode() in argv and alive(int(proc.name)):
                found.append(int(proc.name))
    return found


def kill_issuer(env) -> None:
    """What a reboot does to it: gone without a word, its pid file left behind."""
    pid = recorded_pid(env)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    shutil.rmtree(env.issuer.parent / "tokens", ignore_errors=True)  # the cached tokens have expired by now


def status(env) -> dict:
    return json.loads(labcli.run_lab(env.work, "status", "-o", "json").stdout)


def issuer_starts(env) -> int:
    return (env.issuer / "issuer.log").read_text().count(" listening on ")


def test_after_the_issuer_died_kubectl_starts_it_again_and_signs_in(lab):
    kill_issuer(lab)
    assert status(lab)["identity_provider"]["running"] is False

    whoami = lab.kubectl("auth", "whoami", "-o", "json", context="demo-ada")

    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    pid = recorded_pid(lab)
    assert pid and alive(pid) and listening_pids(lab) == [pid]
    plan = labcli.run_lab(lab.work, "plan")
    assert "No changes" in plan.stdout, plan.stdout  # the issuer lab token started is the one lab up wants


def test_parallel_kubectl_calls_start_a_dead_issuer_once(lab):
    kill_issuer(lab)
    starts = issuer_starts(lab)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: lab.kubectl("auth", "whoami", context=("demo-ada", "demo-carl")[i % 2]),
                                range(8)))

    assert [r.returncode for r in results] == [0] * 8, [r.stderr for r in results if r.returncode]
    assert issuer_starts(lab) == starts + 1
    assert len(listening_pids(lab)) == 1


def test_an_issuer_that_cannot_start_is_explained_by_lab_token(lab):
    kill_issuer(lab)
    (lab.issuer / "tls.key").write_text("not a key\n")

    result = labcli.run_lab(lab.work, "token", "--lab", "demo", "--user", "ada", check=False)

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "error: the lab's built-in issuer is not running and could not be started" in result.stderr
    assert "hint:" in result.stderr and "run `lab up` for lab 'demo'" in result.stderr


@pytest.mark.parametrize("lost", [("issuer.pid", "serving.json"), ("serving.json",)],
                         ids=["killed-before-the-pid-file", "killed-before-serving.json"])
def test_an_issuer_a_killed_lab_up_never_recorded_is_adopted(lab, lost):
    pid = recorded_pid(lab)
    for name in lost:
        (lab.issuer / name).unlink()

    assert status(lab)["identity_provider"]["running"] is True  # lab status and lab up agree
    up = labcli.run_lab(lab.work, "up", check=False)

    assert up.returncode == 0, up.stderr
    assert "already in use" not in up.stderr
    assert listening_pids(lab) == [recorded_pid(lab)]
    assert lab.kubectl("auth", "whoami", context="demo-ada").returncode == 0

    labcli.run_lab(lab.work, "down", "-q")
    assert not alive(pid) and listening_pids(lab) == []


def test_lab_down_stops_an_issuer_nobody_recorded(lab):
    pid = recorded_pid(lab)
    (lab.issuer / "issuer.pid").unlink()
    (lab.issuer / "serving.json").unlink()

    labcli.run_lab(lab.work, "down", "-q")

    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)

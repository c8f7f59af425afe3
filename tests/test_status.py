"""`lab status` answers from the lab's records without running minikube, and says what the steps say.

The quick report (provisioner/status.py) and the steps' report (`Orchestrator.status`) must stay
one answer: each story below compares them on the same lab, as the cluster and the issuer change.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support import labcli
from tests.support.labcli import free_port


@pytest.fixture
def lab(minikube_profile, tmp_path, request):
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()
    mode = getattr(request, "param", "auto")  # auto: the structured file on the fake's Kubernetes 1.35
    (env.work / "lab.yaml").write_text(
        f"name: demo\ncluster:\n  authentication: {mode}\nlocal:\n  port: {free_port()}\nusers:\n"
        "  - email: ada@example.com\n  - email: Carl_B@example.com\n    role: view\n    groups: [viewers]\n")
    labcli.run_lab(env.work, "up", "-q")
    yield env
    labcli.run_lab(env.work, "down", "-q", check=False)


def steps_report(env) -> dict:
    """What the steps report for the lab (the full reading of lab.yaml and the state)."""
    from provisioner.cli import Context
    from provisioner.orchestrator import Orchestrator
    from provisioner.progress import Reporter

    cwd = os.getcwd()
    os.chdir(env.work)
    try:
        return Orchestrator(Context().config(prefer_state=True), Reporter(quiet=True)).status()
    finally:
        os.chdir(cwd)


def quick(env, *args: str) -> dict:
    return json.loads(labcli.run_lab(env.work, "status", "-o", "json", *args).stdout)


@pytest.mark.parametrize("lab", ["auto", "flags"], indirect=True)
def test_status_of_a_running_lab_runs_no_minikube_and_matches_the_steps(lab):
    calls = len(lab.minikube_calls())

    report = quick(lab)

    assert lab.minikube_calls()[calls:] == []
    assert report == steps_report(lab)
    assert report["cluster"]["running"] is True and report["cluster"]["oidc_flags_in_place"] is True
    assert [u["context"] for u in report["users"]] == ["demo-ada", "demo-carl-b"]
    assert quick(lab, "--lab", "demo") == report
    text = labcli.run_lab(lab.work, "status").stdout
    assert "Cluster:    minikube profile 'minikube', running, OIDC flags in place" in text
    assert "Provider:   local (issuer running)" in text


def test_a_stopped_cluster_and_a_dead_issuer_are_reported_as_the_steps_see_them(lab):
    pid = quick(lab)["identity_provider"]["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while labcli.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert lab.minikube("stop", "-p", "minikube").returncode == 0

    report = quick(lab)

    assert report["cluster"]["running"] is False and report["identity_provider"]["running"] is False
    assert report == steps_report(lab)
    assert "Cluster:    minikube profile 'minikube', stopped" in labcli.run_lab(lab.work, "status").stdout
    assert lab.minikube("start", "-p", "minikube").returncode == 0


def test_a_deleted_profile_is_named(lab):
    assert lab.minikube("delete", "-p", "minikube").returncode == 0

    report = quick(lab)

    assert report["cluster"]["error"] == "minikube profile 'minikube' does not exist"
    assert report == steps_report(lab)


def test_a_lab_yaml_that_is_not_valid_is_still_refused_when_the_lab_is_not_up(lab, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "lab.yaml").write_text("name: Not A Label\n")

    result = labcli.run_lab(other, "status", check=False)

    assert result.returncode != 0 and "error: lab.yaml: name:" in result.stderr

"""The instructor's story on the built-in issuer, end to end, with real kubectl.

`lab up` runs as the installed console script in a sandboxed HOME, against the fake minikube and
its apiserver double (which judges tokens with PyJWT by the kube-apiserver's rules); kubectl is the
real binary, running `lab token` through the kubeconfig's exec entry as it would on a laptop.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import labcli
from tests.support.labcli import alive, lab_command
from tests.support.labcli import free_port

LAB_YAML = """
name: demo
local:
  port: {port}
oidc:
  groups_prefix: "oidc:"
users:
  - email: ada@example.com
    name: Ada
  - email: carl@example.com
    role: null
    groups: [viewers]
  - email: eve@example.com
    email_verified: false
groups:
  - name: viewers
    role: view
"""


#: The --oidc-* flags story (the default on Kubernetes 1.30+ is the structured configuration:
#: tests/test_e2e_authconfig.py).
FLAGS_MODE = "cluster:\n  authentication: flags\n"


def use_flags(env) -> None:
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=env.port) + FLAGS_MODE)


def run_lab(env, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return labcli.run_lab(env.work, *args, check=check)


@pytest.fixture
def lab(minikube_profile, tmp_path):
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()
    env.port = free_port()
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=env.port))
    yield env
    # Never leave an issuer process behind, whatever the test did.
    subprocess.run([*lab_command(), "down", "-q"], cwd=env.work, capture_output=True, timeout=180)


def issuer_pid(env) -> int | None:
    pidfile = Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "issuer" / "issuer.pid"
    return int(pidfile.read_text()) if pidfile.exists() else None


def test_lab_up_gives_each_user_a_working_context_and_lab_down_leaves_no_trace(lab):
    use_flags(lab)
    before_options = lab.extra_options("minikube")
    kubeconfig_before = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())

    up = run_lab(lab, "up")
    assert "demo-ada: the cluster sees ada@example.com (groups: system:authenticated)" in up.stderr + up.stdout
    assert "demo-carl: the cluster sees carl@example.com (groups: oidc:viewers, system:authenticated)" in up.stderr + up.stdout
    assert "demo-eve: refused by the cluster" in up.stderr + up.stdout

    options = labcli.option_map(lab.profile_config("minikube"))
    assert options["apiserver.oidc-issuer-url"] == f"https://host.minikube.internal:{lab.port}"
    assert options["apiserver.oidc-client-id"] == "oidc-lab-demo"
    assert options["apiserver.authorization-mode"] == "Node,RBAC"
    assert options["apiserver.oidc-ca-file"] == "/var/lib/minikube/certs/oidc-lab-demo.crt"

    whoami = lab.kubectl("auth", "whoami", "-o", "json", context="demo-ada")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"

    services = lab.kubectl("get", "services", context="demo-ada")
    assert services.returncode == 0, services.stderr
    assert "kubernetes" in services.stdout

    # carl has no role of his own: the view binding of his group lets him read, not list clusterroles.
    assert lab.kubectl("get", "services", context="demo-carl").returncode == 0
    forbidden = lab.kubectl("get", "clusterroles", context="demo-carl")
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()

    # eve's e-mail is not verified: the apiserver refuses her and says why in its log.
    refused = lab.kubectl("auth", "whoami", context="demo-eve")
    assert refused.returncode != 0 and "Unauthorized" in refused.stderr
    assert "email not verified" in lab.minikube("logs", "-p", "minikube").stdout

    # The kubeconfig holds no secret: only the plugin command.
    kubeconfig_text = Path(os.environ["KUBECONFIG"]).read_text()
    secrets = json.loads((Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "credentials.json").read_text())
    for user in secrets["users"].values():
        assert user["password"] not in kubeconfig_text
    assert stat.S_IMODE(Path(os.environ["KUBECONFIG"]).stat().st_mode) == 0o600

    status = json.loads(run_lab(lab, "status", "-o", "json").stdout)
    assert status["provider"] == "local"
    assert status["issuer_url"] == f"https://host.minikube.internal:{lab.port}"
    assert status["cluster"]["oidc_flags_in_place"] is True
    assert {u["context"] for u in status["users"]} == {"demo-ada", "demo-carl", "demo-eve"}
    pid = issuer_pid(lab)
    assert pid and alive(pid)

    down = run_lab(lab, "down")
    assert "is down" in down.stdout
    assert lab.extra_options("minikube") == before_options
    kubeconfig_after = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
    assert {c["name"] for c in kubeconfig_after["contexts"]} == {c["name"] for c in kubeconfig_before["contexts"]}
    assert {u["name"] for u in kubeconfig_after["users"]} == {u["name"] for u in kubeconfig_before["users"]}
    leftovers = lab.kubectl("get", "clusterroles,clusterrolebindings", "-l", "oidc-lab.io/lab=demo", "-o", "name")
    assert leftovers.returncode == 0 and leftovers.stdout.strip() == ""
    assert not alive(pid)
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "demo").exists()

    again = run_lab(lab, "down")
    assert "nothing to do" in again.stdout


def test_a_second_lab_up_restarts_nothing_and_changes_nothing(lab):
    run_lab(lab, "up", "-q")
    calls_before = len(lab.minikube_calls())
    state_before = (Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "state.json").read_text()
    kubeconfig_before = Path(os.environ["KUBECONFIG"]).read_text()
    pid = issuer_pid(lab)

    plan = run_lab(lab, "plan")
    assert "No changes" in plan.stdout, plan.stdout

    run_lab(lab, "up")
    new_calls = lab.minikube_calls()[calls_before:]
    assert not [c for c in new_calls if c and c[0] in ("start", "stop")], new_calls
    assert (Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "state.json").read_text() == state_before
    assert Path(os.environ["KUBECONFIG"]).read_text() == kubeconfig_before
    assert issuer_pid(lab) == pid


def test_a_tampered_token_is_refused(lab):
    run_lab(lab, "up", "-q")
    token = run_lab(lab, "token", "--lab", "demo", "--user", "ada", "--raw").stdout.strip()
    header, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    cluster = next(c for c in yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())["clusters"] if c["name"] == "minikube")
    standalone = lab.work / "standalone.yaml"
    for candidate, expect_ok in ((token, True), (f"{header}.{payload}.{flipped}", False)):
        standalone.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "t",
            "clusters": [{"name": "c", "cluster": cluster["cluster"]}],
            "users": [{"name": "u", "user": {"token": candidate}}],
            "contexts": [{"name": "t", "context": {"cluster": "c", "user": "u"}}],
        }))
        result = lab.kubectl("--kubeconfig", str(standalone), "auth", "whoami")
        assert (result.returncode == 0) is expect_ok, result.stderr


def test_without_minikube_lab_up_says_so_and_leaves_nothing(lab, monkeypatch):
    monkeypatch.setenv("PATH", os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if not (Path(p) / "minikube").exists()))
    result = run_lab(lab, "up", check=False)
    assert result.returncode != 0
    assert "error: minikube is not installed: no `minikube` on PATH\n" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "state.json").exists()


def test_a_missing_profile_is_named(lab):
    (lab.work / "lab.yaml").write_text(LAB_YAML.format(port=lab.port) + "cluster:\n  profile: workshop\n")
    result = run_lab(lab, "up", check=False)
    assert result.returncode != 0
    assert "error: minikube profile 'workshop' does not exist" in result.stderr
    assert "minikube start -p workshop" in result.stderr


def test_a_busy_port_is_refused_before_anything_changes(lab):
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", lab.port))
        squatter.listen()
        calls = len(lab.minikube_calls())
        result = run_lab(lab, "up", check=False)
    assert result.returncode != 0
    assert f"port {lab.port} is already in use" in result.stderr
    assert not [c for c in lab.minikube_calls()[calls:] if c and c[0] in ("start", "stop")]


def test_a_broken_lab_yaml_exits_2_with_the_key_named(lab):
    (lab.work / "lab.yaml").write_text("name: demo\nusers:\n  - email: ada@example.com\n    role: superuser\n")
    result = run_lab(lab, "up", check=False)
    assert result.returncode == 2
    assert "users[0].role: 'superuser' is not a known role" in result.stderr
    assert "Traceback" not in result.stderr


def test_lab_doctor_walks_the_chain_and_names_the_broken_link(lab):
    run_lab(lab, "up", "-q")
    doctor = run_lab(lab, "doctor", check=False)
    lines = doctor.stdout.splitlines()
    assert any(line.startswith("✓ discovery:") for line in lines), doctor.stdout
    assert any(line.startswith("✓ jwks: 1 key(s)") for line in lines), doctor.stdout
    assert "✓ demo-ada: the cluster sees ada@example.com" in doctor.stdout
    assert "✗ demo-eve: oidc: email not verified" in doctor.stdout
    # eve is refused on purpose, so the doctor exits non-zero and names her.
    assert doctor.returncode == 1 and "error: 1 check(s) failed, first: demo-eve" in doctor.stderr


def test_lab_down_keep_cluster_leaves_the_flags_and_restarts_nothing(lab):
    use_flags(lab)
    run_lab(lab, "up", "-q")
    calls = len(lab.minikube_calls())
    run_lab(lab, "down", "--keep-cluster")
    assert not [c for c in lab.minikube_calls()[calls:] if c and c[0] in ("start", "stop")]
    assert "apiserver.oidc-issuer-url" in labcli.option_map(lab.profile_config("minikube"))
    assert not any(c["name"].startswith("demo-") for c in labcli.kubeconfig()["contexts"])
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "demo").exists()


def test_a_lab_up_that_fails_mid_restart_is_resumed_by_a_rerun_and_cleaned_by_lab_down(lab, monkeypatch):
    before = lab.extra_options("minikube")
    monkeypatch.setenv("FAKE_MINIKUBE_FAIL", "start=80")
    failed = run_lab(lab, "up", check=False)
    assert failed.returncode == 1
    assert "error: `minikube start -p minikube` failed (exit 80)" in failed.stderr
    assert "hint: see `minikube logs -p minikube`" in failed.stderr and "Traceback" not in failed.stderr

    monkeypatch.delenv("FAKE_MINIKUBE_FAIL")
    run_lab(lab, "up", "-q")
    assert lab.kubectl("auth", "whoami", context="demo-ada").returncode == 0

    # Fail again, this time on the way down's restart: the state survives, and the next down finishes.
    monkeypatch.setenv("FAKE_MINIKUBE_FAIL", "start=80")
    assert run_lab(lab, "down", check=False).returncode == 1
    assert (Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "state.json").exists()
    monkeypatch.delenv("FAKE_MINIKUBE_FAIL")
    run_lab(lab, "down", "-q")
    assert lab.extra_options("minikube") == before
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "demo").exists()


SANDBOX_YAML = """
name: ws
local:
  port: {port}
namespaces:
  per_user: true
  role: edit
users:
  - email: ada@example.com
    role: null
  - email: bob@example.com
    role: null
"""


def test_each_attendee_gets_a_namespace_of_their_own(lab):
    (lab.work / "lab.yaml").write_text(SANDBOX_YAML.format(port=lab.port))
    run_lab(lab, "up", "-q")
    context = next(c for c in labcli.kubeconfig()["contexts"] if c["name"] == "ws-ada")
    assert context["context"]["namespace"] == "ws-ada"

    created = lab.kubectl("create", "configmap", "notes", "--from-literal=step=1", context="ws-ada")
    assert created.returncode == 0, created.stderr
    assert "notes" in lab.kubectl("get", "configmaps", context="ws-ada").stdout
    peeking = lab.kubectl("get", "configmaps", "-n", "ws-bob", context="ws-ada")
    assert peeking.returncode != 0 and "forbidden" in peeking.stderr.lower()

    run_lab(lab, "down", "-q")
    for namespace in ("ws-ada", "ws-bob"):
        assert lab.kubectl("get", "namespace", namespace).returncode != 0


def test_lab_plan_on_a_fresh_machine_lists_the_work_and_touches_nothing(lab):
    kubeconfig_before = Path(os.environ["KUBECONFIG"]).read_text()
    calls = len(lab.minikube_calls())
    plan = run_lab(lab, "plan")
    assert "provider   start the built-in issuer" in plan.stdout
    assert "kubeconfig add context demo-ada" in plan.stdout
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "demo").exists()
    assert Path(os.environ["KUBECONFIG"]).read_text() == kubeconfig_before
    assert not [c for c in lab.minikube_calls()[calls:] if c and c[0] in ("start", "stop")]


def test_after_lab_down_keep_cluster_the_next_lab_down_removes_the_flags(lab):
    before = lab.extra_options("minikube")
    run_lab(lab, "up", "-q")
    run_lab(lab, "down", "-q", "--keep-cluster")
    run_lab(lab, "up", "-q")
    run_lab(lab, "down", "-q")
    assert lab.extra_options("minikube") == before


def test_a_same_named_context_of_someone_else_is_never_taken_over(lab):
    lab.add_token_context("demo-ada")
    kubeconfig_before = Path(os.environ["KUBECONFIG"]).read_text()
    result = run_lab(lab, "up", check=False)
    assert result.returncode == 1
    assert "already has a context named 'demo-ada' that this lab did not create" in result.stderr
    assert Path(os.environ["KUBECONFIG"]).read_text() == kubeconfig_before

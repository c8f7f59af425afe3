"""Damaged files, unusable folders and refusals, through `lab` as a user runs it.

Each damaged file or unusable folder is one sentence naming the file and the fix, a non-zero exit
and no traceback; a `lab up` refused before it changed anything leaves no lab folder, no state,
no lock, no empty `oidc-lab` folder, and `lab status` lists no lab. The built-in issuer listens
where the node reaches it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from provisioner.cluster.host_network import kic_gateway
from tests.support import labcli
from tests.support.labcli import lab_command
from tests.support.labcli import free_port

LAB_YAML = """
name: demo
local:
  port: {port}
users:
  - email: ada@example.com
"""


@pytest.fixture
def lab(minikube_profile, tmp_path):
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()
    env.port = free_port()
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=env.port))
    env.folder = env.oidc_lab_home / "demo"
    yield env
    subprocess.run([*lab_command(), "down", "-q"], cwd=env.work, capture_output=True, timeout=120)


def run_lab(env, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run([*lab_command(), *args], cwd=env.work, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **extra_env})


def assert_one_sentence(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr, result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(error) == 1, result.stderr
    for word in words:
        assert word in error[0], result.stderr
    assert "hint: " in result.stderr


# damaged files -------------------------------------------------------------------------------------
def test_damaged_credentials_are_named_by_lab_up_and_by_kubectl_through_lab_token(lab):
    labcli.run_lab(lab.work, "up", "-q")
    credentials = lab.folder / "credentials.json"
    credentials.write_text(credentials.read_text()[:40])
    assert_one_sentence(run_lab(lab, "up"), str(credentials), "damaged")
    for cache in (lab.folder / "tokens").glob("*"):
        cache.unlink()  # a cache miss: the plugin must read the credentials
    token = run_lab(lab, "token", "--lab", "demo", "--user", "ada")
    assert_one_sentence(token, str(credentials), "damaged")
    whoami = lab.kubectl("auth", "whoami", context="demo-ada")
    assert whoami.returncode != 0 and "Traceback" not in whoami.stderr and str(credentials) in whoami.stderr

    credentials.unlink()  # the hint's fix
    labcli.run_lab(lab.work, "up", "-q")
    assert lab.kubectl("auth", "whoami", context="demo-ada").returncode == 0


def test_a_state_file_that_is_json_but_not_an_object_is_named(lab):
    lab.folder.mkdir(parents=True)
    (lab.folder / "state.json").write_text("[1, 2]\n")
    for command in ("up", "down", "status"):
        assert_one_sentence(run_lab(lab, command), str(lab.folder / "state.json"), "damaged")


def test_a_half_truncated_kubeconfig_is_named_not_reported_as_a_refusal(lab):
    labcli.run_lab(lab.work, "up", "-q")
    text = lab.kubeconfig.read_text()
    lab.kubeconfig.write_text(text[: len(text) // 2])
    for command in ("up", "down"):
        result = run_lab(lab, command)
        assert_one_sentence(result, str(lab.kubeconfig))
        assert "403" not in result.stderr and "refused" not in result.stderr
    lab.kubeconfig.write_text(text)  # restored: the lab goes down cleanly


def test_a_kubeconfig_that_is_not_yaml_any_more_is_named(lab):
    labcli.run_lab(lab.work, "up", "-q")
    lab.kubeconfig.write_text(lab.kubeconfig.read_text() + "users: [unclosed\n")
    assert_one_sentence(run_lab(lab, "up"), str(lab.kubeconfig), "damaged")


@pytest.mark.parametrize("obstacle", ["a file in its way", "not writable"])
def test_a_state_folder_that_cannot_be_made_is_named(lab, obstacle):
    if obstacle == "a file in its way":
        lab.oidc_lab_home.rmdir()
        lab.oidc_lab_home.write_text("not a folder\n")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        lab.oidc_lab_home.chmod(0o500)
    calls = len(lab.minikube_calls())
    try:
        result = run_lab(lab, "up")
        assert_one_sentence(result, "state folder", str(lab.folder))
        assert "OIDC_LAB_HOME" in result.stderr
        assert not [c for c in lab.minikube_calls()[calls:] if c and c[0] in ("start", "stop")]
    finally:
        if lab.oidc_lab_home.is_dir():
            lab.oidc_lab_home.chmod(0o700)


# a refusal leaves nothing behind ---------------------------------------------------------------------
def test_a_refused_lab_up_leaves_no_folder_and_status_lists_no_lab(lab, tmp_path):
    labs_root = tmp_path / "fresh-home" / "oidc-lab"
    with socket.socket() as squatter:
        squatter.bind(("0.0.0.0", lab.port))
        squatter.listen()
        result = run_lab(lab, "up", OIDC_LAB_HOME=str(labs_root))
    assert_one_sentence(result, f"port {lab.port}")
    assert not labs_root.exists()  # no lab folder, state, lock, nor an empty oidc-lab folder
    status = run_lab(lab, "status", OIDC_LAB_HOME=str(labs_root))
    assert status.returncode == 0 and "is not up" in status.stdout
    assert not labs_root.exists()


# the built-in issuer listens where the node reaches it -----------------------------------------------
def test_on_a_docker_network_the_issuer_listens_on_its_gateway_only(lab_env, tmp_path):
    started = lab_env.minikube("start", "-p", "minikube", "--driver=docker", "--subnet=127.0.49.0/24")
    assert started.returncode == 0, started.stderr
    assert lab_env.profile_config()["Nodes"][0]["IP"] == "127.0.49.2"
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    (work / "lab.yaml").write_text(LAB_YAML.format(port=port))
    try:
        labcli.run_lab(work, "up", "-q")
        serving = json.loads((lab_env.oidc_lab_home / "demo" / "issuer" / "issuer.json").read_text())
        assert serving["listen"] == "127.0.49.1"
        with pytest.raises(OSError):  # not on every address: loopback's 127.0.0.1 is not it
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        socket.create_connection(("127.0.49.1", port), timeout=2).close()
        whoami = lab_env.kubectl("auth", "whoami", context="demo-ada")
        assert whoami.returncode == 0, whoami.stderr  # the node reached it as host.minikube.internal

    finally:
        labcli.run_lab(work, "down", "-q", check=False)


def test_local_listen_overrides_the_gateway(lab_env, tmp_path):
    assert lab_env.minikube("start", "-p", "minikube", "--subnet=127.0.49.0/24").returncode == 0
    work = tmp_path / "work"
    work.mkdir()
    port = free_port()
    (work / "lab.yaml").write_text(f"name: demo\nlocal:\n  port: {port}\n  listen: 0.0.0.0\nusers:\n  - email: ada@example.com\n")
    try:
        labcli.run_lab(work, "up", "-q")
        serving = json.loads((lab_env.oidc_lab_home / "demo" / "issuer" / "issuer.json").read_text())
        assert serving["listen"] == "0.0.0.0"
    finally:
        labcli.run_lab(work, "down", "-q", check=False)


@pytest.mark.parametrize(("config", "platform", "gateway"), [
    ({"Driver": "docker", "Nodes": [{"IP": "192.168.49.2", "ControlPlane": True}]}, "linux", "192.168.49.1"),
    ({"Driver": "podman", "Nodes": [{"IP": "192.168.58.2", "ControlPlane": True}]}, "linux", "192.168.58.1"),
    ({"Driver": "docker", "Nodes": [{"IP": "192.168.49.2", "ControlPlane": True}]}, "darwin", None),  # host.docker.internal
    ({"Driver": "kvm2", "Nodes": [{"IP": "192.168.39.10", "ControlPlane": True}]}, "linux", None),
    ({"Driver": "docker", "Nodes": [{"IP": "", "ControlPlane": True}]}, "linux", None),
])
def test_the_gateway_rule_follows_minikube(config, platform, gateway):
    assert kic_gateway(config, platform) == gateway


# lab doctor --------------------------------------------------------------------------------------------
def test_lab_doctor_says_when_kubectls_plugin_policy_refuses_lab_and_how_to_allow_it(lab):
    labcli.run_lab(lab.work, "up", "-q")
    healthy = run_lab(lab, "doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "kubectl plugin policy: kubectl may run" in healthy.stdout
    assert "discovery:" in healthy.stdout

    kuberc = lab.home / ".kube" / "kuberc"
    kuberc.write_text("apiVersion: kubectl.config.k8s.io/v1beta1\nkind: Preference\n"
                      "credentialPluginPolicy: Allowlist\ncredentialPluginAllowlist:\n  - name: kubelogin\n")
    refused_by_kubectl = lab.kubectl("auth", "whoami", context="demo-ada")
    assert refused_by_kubectl.returncode != 0  # the real kubectl agrees: the plugin is not allowed

    doctor = run_lab(lab, "doctor")
    assert doctor.returncode != 0
    assert "✗ kubectl plugin policy" in doctor.stdout and str(kuberc) in doctor.stdout
    command = labcli.kubeconfig()["users"]
    lab_command_path = next(u["user"]["exec"]["command"] for u in command if u["name"] == "demo-ada")
    assert f"- name: {lab_command_path}" in doctor.stdout  # the line to add

    kuberc.write_text(kuberc.read_text() + f"  - name: {lab_command_path}\n")
    assert lab.kubectl("auth", "whoami", context="demo-ada").returncode == 0
    assert run_lab(lab, "doctor").returncode == 0


# README is true ----------------------------------------------------------------------------------------
def test_the_readmes_token_example_authenticates_with_the_token_not_the_certificate(lab):
    labcli.run_lab(lab.work, "up", "-q")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("needs a context whose user has no client\ncertificate:\n\n```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.replace("oidc-lab", "demo").replace("learner", "ada") for line in block.splitlines() if line]
    for line in commands:
        result = subprocess.run(["bash", "-c", line], cwd=lab.work, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "PATH": f"{Path(lab_command()[0]).parent}:{os.environ['PATH']}"})
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    assert "ada@example.com" in result.stdout  # the last command: answered as the token's user

    trap = subprocess.run(["bash", "-c", commands[-1].replace("--context token-only", "--context minikube")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": f"{Path(lab_command()[0]).parent}:{os.environ['PATH']}"})
    assert "minikube-user" in trap.stdout  # the trap the README explains

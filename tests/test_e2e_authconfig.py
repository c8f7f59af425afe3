"""Structured authentication configuration, end to end with real kubectl (issue 11).

Two labs share one minikube profile, each its own `jwt` entry and issuer; a change of claims is
applied by rewriting the file in the running node (no restart); an invalid change is refused by
`lab plan` before anything is written. The apiserver double reads the file from the node,
validates it with the real rules, re-reads it every 0.3 s here and judges CEL with another library
than the product's.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import labcli
from tests.support.labcli import lab_command
from tests.support.labcli import free_port

LAB_YAML = """
name: {name}
local:
  port: {port}
users:
  - email: {user}@example.com
"""

NODE_FILE = "/var/lib/minikube/certs/oidc-lab-minikube-authentication.yaml"


class Lab:
    def __init__(self, root: Path, name: str, user: str) -> None:
        self.name, self.user = name, user
        self.work = root / name
        self.work.mkdir()
        self.port = free_port()
        self.yaml = LAB_YAML.format(name=name, port=self.port, user=user)
        self.write()

    def write(self, extra: str = "") -> None:
        (self.work / "lab.yaml").write_text(self.yaml + extra)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return labcli.run_lab(self.work, *args, check=check)

    @property
    def context(self) -> str:
        return f"{self.name}-{self.user}"


@pytest.fixture
def labs(minikube_profile, tmp_path):
    made: list[Lab] = []

    def make(name: str, user: str) -> Lab:
        lab = Lab(tmp_path, name, user)
        made.append(lab)
        return lab

    yield make
    for lab in made:  # never leave an issuer process behind
        subprocess.run([*lab_command(), "down", "-q"], cwd=lab.work, capture_output=True, timeout=180)


def whoami(env, context: str) -> str:
    result = env.kubectl("auth", "whoami", "-o", "json", context=context)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["status"]["userInfo"]["username"]


def entries(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text())["jwt"]


def restarts(env) -> int:
    return sum(1 for call in env.minikube_calls() if call and call[0] in ("start", "stop"))


def test_two_labs_share_a_profile_each_user_judged_by_their_own_issuer(minikube_profile, labs):
    env = minikube_profile
    before = env.extra_options("minikube")
    first, second = labs("alpha", "ada"), labs("beta", "bob")

    first.run("up")
    calls_after_first = restarts(env)
    second.run("up")
    assert restarts(env) == calls_after_first, "the second lab joins the file without a restart"

    options = labcli.option_map(env.profile_config("minikube"))
    assert options["apiserver.authentication-config"] == NODE_FILE
    assert not [key for key in options if key.startswith("apiserver.oidc-")]
    node_copy = env.profile("minikube").node_root / NODE_FILE.lstrip("/")
    host_copy = env.mk / "files" / NODE_FILE.lstrip("/")
    assert node_copy.read_bytes() == host_copy.read_bytes()
    assert [e["issuer"]["audiences"] for e in entries(host_copy)] == [["oidc-lab-alpha"], ["oidc-lab-beta"]]

    assert whoami(env, first.context) == "ada@example.com"
    assert whoami(env, second.context) == "bob@example.com"
    # Each lab's ClusterRole is its own: no cluster-wide name is shared.
    roles = env.kubectl("get", "clusterroles", "-o", "name", context=first.context)
    assert "clusterrole.rbac.authorization.k8s.io/alpha-admin-role" in roles.stdout
    assert "clusterrole.rbac.authorization.k8s.io/beta-admin-role" in roles.stdout

    status = json.loads(first.run("status", "-o", "json").stdout)["cluster"]
    assert status["authentication"] == "config"
    assert [e["lab"] for e in status["entries"]] == ["alpha", "beta"]

    first.run("down")
    assert whoami(env, second.context) == "bob@example.com"
    assert [e["issuer"]["audiences"] for e in entries(host_copy)] == [["oidc-lab-beta"]]
    refused = env.kubectl("auth", "whoami", context=first.context)
    assert refused.returncode != 0

    second.run("down")
    assert env.extra_options("minikube") == before
    assert not host_copy.exists()


def test_a_change_of_claims_is_applied_without_a_restart(minikube_profile, labs):
    env = minikube_profile
    lab = labs("gamma", "cleo")
    lab.run("up")
    assert whoami(env, lab.context) == "cleo@example.com"
    calls = restarts(env)

    lab.write("""
oidc:
  username_expression: "'lab:' + claims.email"
  claim_validation_rules:
    - expression: "claims.email_verified == true"
      message: "email not verified"
""")
    plan = lab.run("plan")
    assert "username" in plan.stdout + plan.stderr and "expression" in plan.stdout + plan.stderr
    up = lab.run("up")
    assert restarts(env) == calls, up.stdout + up.stderr
    assert "the cluster sees lab:cleo@example.com" in up.stdout + up.stderr
    assert whoami(env, lab.context) == "lab:cleo@example.com"
    # The binding names the user as the mapping does, so the rights follow.
    assert env.kubectl("get", "services", context=lab.context).returncode == 0
    assert "reloaded authentication config" in env.apiserver_log("minikube")


def test_an_invalid_change_is_refused_by_lab_plan_before_anything_is_written(minikube_profile, labs):
    env = minikube_profile
    lab = labs("delta", "dan")
    lab.run("up")
    host_copy = env.mk / "files" / NODE_FILE.lstrip("/")
    written = host_copy.read_bytes()
    calls = len(env.minikube_calls())

    lab.write("""
oidc:
  username_expression: "'lab:' + claims.email +"
""")
    plan = lab.run("plan", check=False)
    assert plan.returncode != 0
    assert "error: oidc.username_expression is not a valid CEL expression" in plan.stderr
    assert "Traceback" not in plan.stderr

    lab.write("""
oidc:
  username_expression: "'lab:' + claims.email"
""")
    refused = lab.run("up", check=False)
    assert refused.returncode != 0
    assert "claims.email_verified" in refused.stderr
    assert host_copy.read_bytes() == written
    assert not [c for c in env.minikube_calls()[calls:] if c[0] in ("cp", "start", "stop")]
    assert whoami(env, lab.context) == "dan@example.com"


def test_two_labs_coming_up_at_the_same_moment_both_keep_their_entry(minikube_profile, labs):
    env = minikube_profile
    first, second = labs("east", "eli"), labs("west", "wes")
    running = [subprocess.Popen([*lab_command(), "up", "-q"], cwd=lab.work, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for lab in (first, second)]
    for process in running:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, out + err
    host_copy = env.mk / "files" / NODE_FILE.lstrip("/")
    assert sorted(e["issuer"]["audiences"][0] for e in entries(host_copy)) == ["oidc-lab-east", "oidc-lab-west"]
    assert whoami(env, first.context) == "eli@example.com"
    assert whoami(env, second.context) == "wes@example.com"
    assert restarts(env) <= 3, "one restart (stop + start) switches the profile, whichever lab came first"


def test_a_lab_left_by_the_old_code_with_the_shared_admin_role_upgrades_and_tears_down(minikube_profile, labs, tmp_path):
    env = minikube_profile
    lab = labs("omega", "oz")
    lab.run("up")

    def leave_old_role() -> None:
        """What the earlier code left: one cluster-wide `admin-role`, labelled as the lab's, in its state."""
        manifest = tmp_path / "admin-role.yaml"
        manifest.write_text(yaml.safe_dump({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "admin-role", "labels": {"app.kubernetes.io/managed-by": "oidc-lab",
                                                          "oidc-lab.io/lab": "omega"}},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}))
        assert env.kubectl("apply", "-f", str(manifest)).returncode == 0
        state_file = env.oidc_lab_home / "omega" / "state.json"
        state = json.loads(state_file.read_text())
        state["sections"]["manifests"]["objects"].append("ClusterRole/admin-role")
        state_file.write_text(json.dumps(state))

    leave_old_role()
    lab.run("up")
    assert "NotFound" in env.kubectl("get", "clusterrole", "admin-role").stderr
    binding = env.kubectl("get", "clusterrolebinding", "oidc-lab:omega:admin-role", "-o", "jsonpath={.roleRef.name}")
    assert binding.stdout == "omega-admin-role"
    assert env.kubectl("get", "services", context=lab.context).returncode == 0

    leave_old_role()
    lab.run("down")
    assert "NotFound" in env.kubectl("get", "clusterrole", "admin-role").stderr
    assert "NotFound" in env.kubectl("get", "clusterrole", "omega-admin-role").stderr


def test_lab_doctor_reads_the_file_from_the_node_and_names_the_failing_entry(minikube_profile, labs):
    env = minikube_profile
    lab = labs("eps", "eva")
    lab.run("up")
    healthy = lab.run("doctor", check=False)
    assert "the apiserver runs this file" in healthy.stdout + healthy.stderr, healthy.stdout + healthy.stderr
    assert "jwt[0]" in healthy.stdout + healthy.stderr

    # Someone edits the node's copy by hand: a typo the apiserver ignores (it keeps the last valid file).
    broken = env.profile("minikube").node_root / NODE_FILE.lstrip("/")
    broken.write_text(broken.read_text().replace("claim: email", "expression: claims.email +"))
    sick = lab.run("doctor", check=False)
    out = sick.stdout + sick.stderr
    assert sick.returncode != 0
    assert "differs from the one in $MINIKUBE_HOME/files" in out
    assert "jwt[0]" in out and "not a valid CEL expression" in out
    assert "has not reloaded this file yet" in out


def test_switching_a_lab_from_the_flags_to_the_file_is_one_restart_and_down_restores_the_profile(minikube_profile, labs):
    env = minikube_profile
    env.minikube("start", "--extra-config=apiserver.v=1")  # an option of the user's own, kept throughout
    before = env.extra_options("minikube")
    lab = labs("zeta", "zoe")
    lab.write("cluster:\n  authentication: flags\n")
    lab.run("up")
    assert "apiserver.oidc-issuer-url" in labcli.option_map(env.profile_config("minikube"))
    calls = restarts(env)

    lab.write()  # auto: the file, on the fake's Kubernetes 1.35
    lab.run("up")
    assert restarts(env) == calls + 2, "one stop and one start"
    options = labcli.option_map(env.profile_config("minikube"))
    assert options["apiserver.authentication-config"] == NODE_FILE and options["apiserver.v"] == "1"
    assert not [key for key in options if key.startswith("apiserver.oidc-")]
    assert whoami(env, lab.context) == "zoe@example.com"

    lab.run("down")
    assert env.extra_options("minikube") == before


def test_with_the_flags_a_second_lab_is_refused_rather_than_taking_the_profile_over(minikube_profile, labs):
    env = minikube_profile
    first, second = labs("iota", "ian"), labs("kappa", "kim")
    first.write("cluster:\n  authentication: flags\n")
    first.run("up")
    second.write("cluster:\n  authentication: flags\n")
    refused = second.run("up", check=False)
    assert refused.returncode != 0
    assert "already trusts another issuer through the --oidc-* flags (client id 'oidc-lab-iota')" in refused.stderr
    assert "cluster.authentication: config" in refused.stderr
    second.write()  # the file cannot be combined with the first lab's flags either: refused before any write
    refused = second.run("plan", check=False)
    assert refused.returncode != 0 and "kube-apiserver cannot combine with the authentication configuration" in refused.stderr
    assert whoami(env, first.context) == "ian@example.com"

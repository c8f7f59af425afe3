"""The Auth0 recipe end to end: `lab up` against the Auth0 emulator, real kubectl, `lab down`.

The emulator stands for a public SaaS tenant: the apiserver double may reach it (FAKE_NODE_HOSTS),
as a real node reaches auth0.com, and trusts its test CA through SSL_CERT_FILE, as a real node
trusts Auth0's public CA.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support import labcli

LAB_YAML = """
name: zero
provider: auth0
cluster:
  authentication: flags  # the --oidc-* story; the structured file: test_e2e_authconfig.py
users:
  - email: Ada@Example.com
  - email: eve@example.com
    email_verified: false
"""


@pytest.fixture
def lab(minikube_profile, auth0_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_NODE_HOSTS", "127.0.0.1=127.0.0.1")
    work = tmp_path / "work"
    work.mkdir()
    (work / "lab.yaml").write_text(LAB_YAML)
    minikube_profile.work = work
    minikube_profile.auth0 = auth0_emulator
    yield minikube_profile
    labcli.run_lab(work, "down", "-q", check=False)


def test_lab_up_with_auth0_gives_working_contexts_and_lab_down_leaves_the_tenant_as_it_was(lab):
    tenant_before = lab.auth0.snapshot()
    options_before = lab.extra_options("minikube")

    up = labcli.run_lab(lab.work, "up")
    assert "zero-ada: the cluster sees ada@example.com" in up.stderr + up.stdout
    assert "zero-eve: refused by the cluster: oidc: email not verified" in up.stderr + up.stdout

    options = labcli.option_map(lab.profile_config("minikube"))
    assert options["apiserver.oidc-issuer-url"] == f"https://{lab.auth0.domain}/"  # Auth0's trailing slash
    [client] = lab.auth0.client_by_name("oidc-lab zero")
    assert options["apiserver.oidc-client-id"] == client["client_id"]
    assert client["jwt_configuration"]["alg"] == "RS256"
    assert lab.auth0.tenant.settings["default_directory"] == "zero-users"

    whoami = lab.kubectl("auth", "whoami", "-o", "json", context="zero-ada")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    assert lab.kubectl("get", "services", context="zero-ada").returncode == 0
    assert lab.kubectl("auth", "whoami", context="zero-eve").returncode != 0

    # A second run with nothing changed makes no write call and no restart.
    writes_before = sum(lab.auth0.writes.values())
    calls_before = len(lab.minikube_calls())
    labcli.run_lab(lab.work, "up", "-q")
    assert sum(lab.auth0.writes.values()) == writes_before
    assert not [c for c in lab.minikube_calls()[calls_before:] if c and c[0] in ("start", "stop")]

    labcli.run_lab(lab.work, "down")
    assert lab.auth0.snapshot() == tenant_before
    assert lab.extra_options("minikube") == options_before
    assert not any(c["name"].startswith("zero-") for c in labcli.kubeconfig()["contexts"])
    assert not (Path(os.environ["OIDC_LAB_HOME"]) / "zero").exists()


def test_missing_scopes_stop_lab_up_before_anything_changes(lab):
    tenant_before = lab.auth0.snapshot()
    lab.auth0.set_scopes(["read:clients", "read:connections", "read:users"])
    calls_before = len(lab.minikube_calls())
    result = labcli.run_lab(lab.work, "up", check=False)
    assert result.returncode != 0
    assert "insufficient" in result.stderr.lower() or "scope" in result.stderr.lower()
    assert "create:clients" in result.stderr
    assert "Traceback" not in result.stderr
    assert lab.auth0.snapshot() == tenant_before
    assert not [c for c in lab.minikube_calls()[calls_before:] if c and c[0] in ("start", "stop")]


def test_a_refused_login_is_explained_in_auth0_terms(lab):
    labcli.run_lab(lab.work, "up", "-q")
    # Someone clears the tenant's default directory behind the lab's back.
    lab.auth0.set_default_directory(None)
    for cached in (Path(os.environ["OIDC_LAB_HOME"]) / "zero" / "tokens").glob("*"):
        cached.unlink()  # so the doctor signs in afresh
    doctor = labcli.run_lab(lab.work, "doctor", check=False)
    assert doctor.returncode == 1
    assert "has no default directory" in doctor.stdout
    assert "auth0.set_default_directory" in doctor.stdout


def test_each_user_signs_in_once_across_the_restart_and_kubectl_reuses_that_token(lab):
    lab.auth0.reset_observations()

    labcli.run_lab(lab.work, "up", "-q")

    token_requests = [r for r in lab.auth0.requests if r.path == "/oauth/token"]
    restart = [i for i, call in enumerate(lab.minikube_calls()) if call[:1] == ["start"]]
    assert restart, "the lab's flags need a restart"
    assert len(token_requests) == 3  # the management token, then one sign-in per user (verify's head start)
    signed_in = len(token_requests)
    whoami = lab.kubectl("auth", "whoami", "-o", "json", context="zero-ada")
    assert whoami.returncode == 0, whoami.stderr
    assert len([r for r in lab.auth0.requests if r.path == "/oauth/token"]) == signed_in  # a cache hit
    labcli.run_lab(lab.work, "up", "-q")
    assert len([r for r in lab.auth0.requests if r.path == "/oauth/token"]) == signed_in + 1  # management only

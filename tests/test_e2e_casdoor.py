"""The Casdoor recipe end to end: `lab up` against the Casdoor emulator, real kubectl, `lab down`.

The emulator stands for a Casdoor server the node can reach (FAKE_NODE_HOSTS lets the apiserver
double reach the host's loopback, as a real node reaches a real Casdoor), served with a private CA
(casdoor.ca_file, placed in the node).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import requests

from tests.support import labcli

LAB_YAML = """
name: demo
provider: casdoor
cluster:
  authentication: flags  # the --oidc-* story; the structured file: test_e2e_authconfig.py
casdoor:
  ca_file: {ca_file}
oidc:
  groups_prefix: "casdoor:"
users:
  - email: ada@example.com
    name: Ada{ada_password}
  - email: carl@example.com
    role: null
    groups: [viewers]
groups:
  - name: viewers
    role: view
"""


def write_lab_yaml(env, ada_password: str | None = None) -> None:
    extra = f"\n    password: {json.dumps(ada_password)}" if ada_password else ""
    (env.work / "lab.yaml").write_text(LAB_YAML.format(ca_file=env.casdoor.ca_file, ada_password=extra))


def lab_home() -> Path:
    return Path(os.environ["OIDC_LAB_HOME"]) / "demo"


def forget_cached_tokens() -> None:
    """So the next kubectl call signs in with the password instead of using a cached token."""
    for cached in (lab_home() / "tokens").glob("*"):
        cached.unlink()


@pytest.fixture
def lab(minikube_profile, casdoor_emulator, tmp_path, monkeypatch):
    """A laptop with minikube running, Casdoor reachable, and a lab.yaml for it."""
    monkeypatch.setenv("FAKE_NODE_HOSTS", "127.0.0.1=127.0.0.1")
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()
    env.casdoor = casdoor_emulator
    write_lab_yaml(env)
    yield env
    labcli.run_lab(env.work, "down", "-q", check=False)


def test_kubectl_users_get_casdoor_tokens_and_group_bindings_and_down_leaves_casdoor_as_it_was(lab):
    before = lab.casdoor.snapshot()
    options_before = lab.extra_options("minikube")

    up = labcli.run_lab(lab.work, "up")
    assert "demo-ada: the cluster sees ada@example.com" in up.stdout + up.stderr
    options = labcli.option_map(lab.profile_config("minikube"))
    assert options["apiserver.oidc-issuer-url"] == lab.casdoor.endpoint
    assert options["apiserver.oidc-client-id"] == lab.casdoor.application("demo-kubernetes")["clientId"]
    assert options["apiserver.oidc-groups-claim"] == "groups"
    assert "apiserver.oidc-ca-file" in options  # casdoor.ca_file, placed in the node

    whoami = lab.kubectl("auth", "whoami", "-o", "json", context="demo-ada")
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"

    # carl has no role of his own: Casdoor's groups claim carries the group's id, demo/viewers,
    # which the lab bound to `view` with the groups prefix.
    carl = lab.kubectl("auth", "whoami", "-o", "json", context="demo-carl")
    assert "casdoor:demo/viewers" in json.loads(carl.stdout)["status"]["userInfo"]["groups"]
    assert lab.kubectl("get", "services", context="demo-carl").returncode == 0
    forbidden = lab.kubectl("get", "clusterroles", context="demo-carl")
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()

    assert "No changes" in labcli.run_lab(lab.work, "plan").stdout
    status = labcli.run_lab(lab.work, "status", "-o", "json").stdout
    assert json.loads(status)["identity_provider"]["organization"] == {"name": "demo", "created": True}
    assert lab.casdoor.application("demo-kubernetes")["clientSecret"] not in status

    writes = lab.casdoor.requests.writes
    labcli.run_lab(lab.work, "up", "-q")
    assert lab.casdoor.requests.writes == writes  # a second lab up changes nothing in Casdoor

    labcli.run_lab(lab.work, "down")
    assert lab.casdoor.snapshot() == before  # organization, application, groups and users all gone
    assert lab.extra_options("minikube") == options_before
    assert not lab_home().exists()


def test_a_password_added_and_then_changed_in_lab_yaml_works_with_kubectl_after_the_next_up(lab):
    labcli.run_lab(lab.work, "up", "-q")
    for password in ("Added-in-yaml-1", "Changed-in-yaml-2"):
        write_lab_yaml(lab, ada_password=password)
        labcli.run_lab(lab.work, "up", "-q")
        assert lab.casdoor.user("demo", "ada")["password"] == password  # stored, not only "Affected"
        forget_cached_tokens()
        whoami = lab.kubectl("auth", "whoami", "-o", "json", context="demo-ada")
        assert whoami.returncode == 0, whoami.stderr
        assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"


def test_the_labs_client_secret_is_in_no_file_the_plugin_reads_and_no_kubeconfig(lab):
    labcli.run_lab(lab.work, "up", "-q")
    assert lab.kubectl("auth", "whoami", context="demo-ada").returncode == 0  # the plugin ran, tokens cached
    secret = lab.casdoor.application("demo-kubernetes")["clientSecret"]
    files = [p for p in lab_home().rglob("*") if p.is_file()] + [Path(os.environ["KUBECONFIG"])]
    assert any(p.name == "credentials.json" for p in files)
    for path in files:
        text = path.read_bytes().decode(errors="replace")
        assert secret not in text, path
        assert lab.casdoor.admin_client_secret not in text, path
    credentials = json.loads((lab_home() / "credentials.json").read_text())
    assert credentials["client"]["client_secret"] is None and not credentials.get("client_secret")
    # kubectl's token requests carry no secret either.
    assert all(not (r.body or {}).get("client_secret")
               for r in lab.casdoor.requests.to(r"/api/login/oauth/") if isinstance(r.body, dict))


def test_a_user_put_in_a_lab_group_at_casdoor_is_allowed_what_the_groups_binding_allows(lab):
    before = lab.casdoor.snapshot()
    labcli.run_lab(lab.work, "up", "-q")
    # Someone adds dave in Casdoor's UI and puts him in the lab's group there.
    added = lab.casdoor.directory.add_user({"owner": "demo", "name": "dave", "displayName": "Dave",
                                            "password": "Dave-pass-1", "groups": ["demo/viewers"],
                                            "email": "dave@example.com", "emailVerified": True})
    assert added["data"] == "Affected"
    client_id = lab.casdoor.application("demo-kubernetes")["clientId"]
    tokens = requests.post(lab.casdoor.endpoint + "/api/login/oauth/access_token", timeout=10,
                           verify=str(lab.casdoor.ca_file), data={
                               "grant_type": "password", "client_id": client_id, "username": "dave",
                               "password": "Dave-pass-1", "scope": "openid"}).json()
    context = lab.add_token_context("dave")
    token = f"--token={tokens['id_token']}"
    assert lab.kubectl("get", "services", token, context=context).returncode == 0
    forbidden = lab.kubectl("get", "clusterroles", token, context=context)
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()

    # A lab group still holding someone else is kept by `lab down`, and said so.
    down = labcli.run_lab(lab.work, "down")
    assert "kept Casdoor group demo/viewers" in down.stdout + down.stderr
    assert lab.casdoor.snapshot()["groups"].keys() == {"demo/viewers"}
    lab.casdoor.directory.delete_user({"owner": "demo", "name": "dave"})
    lab.casdoor.directory.delete_group({"owner": "demo", "name": "viewers"})
    assert lab.casdoor.snapshot()["groups"] == before["groups"]


def test_wrong_admin_credentials_and_a_wrong_issuer_refuse_before_anything_is_created(lab, monkeypatch):
    before = lab.casdoor.snapshot()
    calls_before = len(lab.minikube_calls())
    monkeypatch.setenv("CASDOOR_CLIENT_SECRET", "not-the-secret")
    refused = labcli.run_lab(lab.work, "up", check=False)
    assert refused.returncode != 0 and "Casdoor refused the admin credentials" in refused.stderr
    assert "Traceback" not in refused.stderr and "not-the-secret" not in refused.stderr + refused.stdout
    monkeypatch.setenv("CASDOOR_CLIENT_SECRET", lab.casdoor.admin_client_secret)
    lab.casdoor.token_issuer = "https://casdoor.example.com"
    wrong = labcli.run_lab(lab.work, "up", check=False)
    assert wrong.returncode != 0 and "Casdoor's tokens name the issuer 'https://casdoor.example.com'" in wrong.stderr
    assert lab.casdoor.snapshot() == before and lab.casdoor.requests.writes == 0
    assert not [c for c in lab.minikube_calls()[calls_before:] if c and c[0] in ("start", "stop")]

"""A room's attendees sign in with the flow the lab chose, from their own laptops, in real Chromium.

Two HOMEs on one machine play instructor and attendee (as in tests/test_room.py): the instructor
runs `lab up` with `room.address` 127.0.0.2 and `lab handout`; the attendee has only the handout
kubeconfig and the installed package. `lab token` reads everything from the kubeconfig's exec
args, discovers the IdP's endpoints, and signs in through a public client: Auth0's Native
application in the browser (PKCE, loopback redirect), Casdoor's application by device code.
No client secret is anywhere on the laptop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from tests.support import labcli
from tests.test_browser_signin import CHROMIUM, Kubectl, browser, free_port, kubectl_runs  # noqa: F401 (fixtures)
from tests.test_browser_signin_idps import password_of
from tests.test_e2e_authconfig import NODE_FILE, entries
from tests.test_room import ROOM, attendee_env, kubectl

pytest.importorskip("playwright.sync_api", reason="the test extras install playwright")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")

LAB_YAML = """
name: room
provider: {provider}
{extra}room:
  address: {room}
oidc:
  flow: {flow}
  redirect_ports: [{redirect_port}]
namespaces:
  per_user: true
  role: edit
users:
  - email: ada@example.com
    name: Ada Lovelace
    role: null
  - email: grace@example.com
    name: Grace Hopper
    role: null
"""


@pytest.fixture
def room_lab(lab_env, tmp_path, monkeypatch):
    """The instructor: a profile that serves the room, `lab up` and `lab handout`; `lab down` afterwards."""
    monkeypatch.setenv("FAKE_NODE_HOSTS", f"{ROOM}={ROOM},127.0.0.1=127.0.0.1")  # the node reaches the IdP too
    started = lab_env.minikube("start", "-p", "minikube", "--listen-address=0.0.0.0", f"--apiserver-ips={ROOM}")
    assert started.returncode == 0, started.stdout + started.stderr
    lab_env.work = tmp_path / "work"
    lab_env.work.mkdir()

    def up(provider: str, flow: str, extra: str = "") -> tuple[Path, str]:
        (lab_env.work / "lab.yaml").write_text(LAB_YAML.format(provider=provider, extra=extra, room=ROOM, flow=flow,
                                                               redirect_port=free_port()))
        said = labcli.run_lab(lab_env.work, "up")
        out = tmp_path / "handouts"
        labcli.run_lab(lab_env.work, "handout", "--out", str(out))
        return out, said.stdout + said.stderr

    yield up
    labcli.run_lab(lab_env.work, "down", "-q", check=False)


def laptop(tmp_path: Path, handout: Path, **extra: str) -> dict[str, str]:
    """A fresh HOME holding only the handout kubeconfig."""
    home = tmp_path / "laptop"
    home.mkdir()
    (home / "kubeconfig").write_text(handout.read_text())
    return {**attendee_env(home, home / "kubeconfig"), **extra}


def test_an_auth0_attendee_signs_in_in_the_browser_from_the_handout_and_works_in_their_namespace(
        room_lab, auth0_emulator, lab_env, tmp_path, browser, kubectl_runs):
    out, said = room_lab("auth0", "password")
    # Auth0's password grant needs the secret: the room signs attendees in in the browser, and says so.
    assert "sign in with the browser flow instead" in said
    [native] = auth0_emulator.client_by_name("oidc-lab room (device)")
    assert native["app_type"] == "native" and native["token_endpoint_auth_method"] == "none"
    assert "authorization_code" in native["grant_types"]
    assert any(uri.startswith("http://127.0.0.1:") for uri in native["callbacks"])
    [entry] = entries(lab_env.mk / "files" / NODE_FILE.lstrip("/"))
    assert entry["issuer"]["audiences"] == [native["client_id"]]  # the cluster trusts the public client

    handout = out / "ada" / "kubeconfig"
    text = handout.read_text()
    [application] = auth0_emulator.client_by_name("oidc-lab room")
    assert application["client_secret"] not in text and "secret" not in text.lower()
    args = yaml.safe_load(text)["users"][0]["user"]["exec"]["args"]
    assert args[args.index("--flow") + 1] == "browser" and args[args.index("--client-id") + 1] == native["client_id"]
    assert "Initial password" not in (out / "ada" / "sheet.html").read_text()

    # The emulator's CA stands in for the public roots a laptop trusts for a real Auth0 tenant.
    env = laptop(tmp_path, handout, SSL_CERT_FILE=os.environ["SSL_CERT_FILE"])
    run = Kubectl(lab_env, "auth", "whoami", "-o", "json", context=None, environ=env)
    kubectl_runs.append(run)
    url = run.wait_for(r"(https://127\.0\.0\.1:\d+/authorize\?\S+)").group(1)
    assert "code_challenge_method=S256" in url and f"client_id={native['client_id']}" in url
    page = browser.new_page()
    page.goto(url)
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password").fill(password_of("room", "ada"))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=You are signed in")
    code, stdout, stderr = run.finish()
    assert code == 0, stderr
    assert json.loads(stdout)["status"]["userInfo"]["username"] == "ada@example.com"

    made = kubectl(env, "create", "configmap", "notes", "--from-literal=hello=room")  # the cached token
    assert made.returncode == 0, made.stderr
    other = kubectl(env, "get", "configmaps", "-n", "room-grace")
    assert other.returncode != 0 and "Forbidden" in other.stderr
    assert not (tmp_path / "laptop" / ".local").exists()  # no oidc-lab state on the laptop

    labcli.run_lab(lab_env.work, "down", "-q")
    assert not auth0_emulator.client_by_name("oidc-lab room (device)")


def test_a_casdoor_attendee_signs_in_by_device_code_with_no_secret(
        room_lab, casdoor_emulator, lab_env, tmp_path, browser):
    out, _ = room_lab("casdoor", "device", f"casdoor:\n  ca_file: {casdoor_emulator.ca_file}\n")
    handout = out / "grace" / "kubeconfig"
    document = yaml.safe_load(handout.read_text())
    exec_spec = document["users"][0]["user"]["exec"]
    assert exec_spec["args"][exec_spec["args"].index("--flow") + 1] == "device"
    assert [e["name"] for e in exec_spec["env"]] == ["OIDC_LAB_CA"]  # Casdoor's private CA, inline
    application = casdoor_emulator.application("room-kubernetes")
    assert application["clientSecret"] not in handout.read_text()

    env = laptop(tmp_path, handout)
    run = Kubectl(lab_env, "auth", "whoami", "-o", "json", context=None, environ=env)
    try:
        found = run.wait_for(r"open (https://\S+/login/oauth/device/\S+)\s+and enter the code")
        page = browser.new_page()
        page.goto(found.group(1))
        page.get_by_label("Username").fill("grace")
        page.get_by_label("Password").fill(password_of("room", "grace"))
        page.get_by_role("button", name="Sign In").click()
        page.wait_for_selector("text=Device signed in as grace")
        code, stdout, stderr = run.finish()
    finally:
        run.stop()
    assert code == 0, stderr
    assert json.loads(stdout)["status"]["userInfo"]["username"] == "grace@example.com"
    token_calls = casdoor_emulator.requests.to(r"/api/login/oauth/access_token")
    assert token_calls and all(not (r.body or {}).get("client_secret") for r in token_calls[-1:]
                               if isinstance(r.body, dict))
    listed = kubectl(env, "get", "configmaps")  # in her namespace, from the cache
    assert listed.returncode == 0, listed.stderr
    assert kubectl(env, "get", "configmaps", "-n", "room-ada").returncode != 0

"""Browser and device sign-in on Auth0 and Casdoor (their emulators), in real Chromium, with real kubectl.

`lab up` registers the loopback callbacks and grants at the IdP (Auth0: a Native application for
the device flow); kubectl then runs `lab token`, which sends the person to the IdP's own page,
and the cluster (the apiserver double) accepts the token as that user.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import labcli
from tests.test_browser_signin import CHROMIUM, Kubectl, browser, free_port, kubectl_runs  # noqa: F401 (fixtures)
from tests.test_room import ROOM, attendee_env

pytest.importorskip("playwright.sync_api", reason="the test extras install playwright")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")

LAB_YAML = """
name: {name}
provider: {provider}
{casdoor}oidc:
  flow: {flow}
  redirect_ports: [{redirect_port}]
users:
  - email: ada@example.com
    name: Ada Lovelace
"""


def password_of(lab: str, handle: str) -> str:
    document = json.loads((Path(os.environ["OIDC_LAB_HOME"]) / lab / "credentials.json").read_text())
    return document["users"][handle]["password"]


@pytest.fixture
def idp_lab(minikube_profile, tmp_path, monkeypatch):
    """Write lab.yaml for a provider and flow, run `lab up`; `lab down` afterwards."""
    monkeypatch.setenv("FAKE_NODE_HOSTS", "127.0.0.1=127.0.0.1")  # the node reaches the IdP on the host
    env = minikube_profile
    env.work = tmp_path / "work"
    env.work.mkdir()

    def up(provider: str, flow: str, casdoor_ca: Path | None = None):
        casdoor = f"casdoor:\n  ca_file: {casdoor_ca}\n" if casdoor_ca else ""
        (env.work / "lab.yaml").write_text(LAB_YAML.format(name="idp", provider=provider, casdoor=casdoor, flow=flow,
                                                           redirect_port=free_port()))
        labcli.run_lab(env.work, "up")
        return env

    yield up
    labcli.run_lab(env.work, "down", "-q", check=False)


def whoami(run: Kubectl) -> str:
    code, stdout, stderr = run.finish()
    assert code == 0, stderr
    return json.loads(stdout)["status"]["userInfo"]["username"]


def test_auth0_browser_sign_in_on_its_login_page(idp_lab, auth0_emulator, browser, kubectl_runs):
    env = idp_lab("auth0", "browser")
    [application] = auth0_emulator.client_by_name("oidc-lab idp")
    assert "authorization_code" in application["grant_types"]
    assert any(uri.startswith("http://127.0.0.1:") for uri in application["callbacks"])
    assert not auth0_emulator.client_by_name("oidc-lab idp (device)")  # no device user, no Native app

    run = Kubectl(env, "auth", "whoami", "-o", "json", context="idp-ada")
    kubectl_runs.append(run)
    url = run.wait_for(rf"(https://{re.escape(auth0_emulator.domain)}/authorize\?\S+)").group(1)
    page = browser.new_page()
    page.goto(url)
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    page.get_by_label("Password").fill(password_of("idp", "ada"))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=You are signed in")
    assert whoami(run) == "ada@example.com"
    # The code was redeemed with PKCE and the lab's secret (a confidential Regular Web Application).
    assert env.kubectl("get", "services", context="idp-ada").returncode == 0


def test_auth0_device_sign_in_through_a_native_application_that_lab_down_removes(
        idp_lab, auth0_emulator, browser, kubectl_runs):
    env = idp_lab("auth0", "device")
    [native] = auth0_emulator.client_by_name("oidc-lab idp (device)")
    assert native["app_type"] == "native" and native["token_endpoint_auth_method"] == "none"
    assert "urn:ietf:params:oauth:grant-type:device_code" in native["grant_types"] and native["oidc_conformant"]
    # The audience of kubectl's tokens is what the cluster trusts (Kubernetes 1.35 here: the
    # structured authentication configuration, whose entry for this lab names the Native app).
    config = env.mk / "files" / "var/lib/minikube/certs/oidc-lab-minikube-authentication.yaml"
    [entry] = yaml.safe_load(config.read_text())["jwt"]
    assert entry["issuer"]["audiences"] == [native["client_id"]]

    run = Kubectl(env, "auth", "whoami", "-o", "json", context="idp-ada")
    kubectl_runs.append(run)
    found = run.wait_for(r"open (https://\S+/activate)\s+and enter the code (\w{4}-\w{4})")
    page = browser.new_page()
    page.goto(found.group(1))
    page.get_by_label("Enter the code displayed on your device").fill(found.group(2))
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password").fill(password_of("idp", "ada"))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("text=your device is now connected")
    assert whoami(run) == "ada@example.com"
    # No secret went with the device grant: the Native application is a public client.
    credentials = json.loads((Path(os.environ["OIDC_LAB_HOME"]) / "idp" / "credentials.json").read_text())
    assert credentials["client"]["client_secret"] is None and credentials["client"]["public_client"] is True

    labcli.run_lab(env.work, "down", "-q")
    assert not auth0_emulator.client_by_name("oidc-lab idp (device)")
    assert not auth0_emulator.client_by_name("oidc-lab idp")


def test_casdoor_browser_sign_in_on_its_authorize_page(idp_lab, casdoor_emulator, browser, kubectl_runs):
    env = idp_lab("casdoor", "browser", casdoor_emulator.ca_file)
    application = casdoor_emulator.application("idp-kubernetes")
    assert "authorization_code" in application["grantTypes"]
    assert any(uri.startswith("http://127.0.0.1:") for uri in application["redirectUris"])

    run = Kubectl(env, "auth", "whoami", "-o", "json", context="idp-ada")
    kubectl_runs.append(run)
    url = run.wait_for(r"(https://127\.0\.0\.1:\d+/login/oauth/authorize\?\S+)").group(1)
    page = browser.new_page()
    page.goto(url)
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(password_of("idp", "ada"))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_selector("text=You are signed in")
    assert whoami(run) == "ada@example.com"
    # No Casdoor secret was sent: the code was redeemed with PKCE alone.
    token_calls = casdoor_emulator.requests.to(r"/api/login/oauth/access_token")
    assert token_calls and all(not (r.body or {}).get("client_secret") for r in token_calls if isinstance(r.body, dict))


def test_casdoor_device_sign_in_when_the_person_signs_in_on_the_printed_page(
        idp_lab, casdoor_emulator, browser, kubectl_runs):
    env = idp_lab("casdoor", "device", casdoor_emulator.ca_file)
    assert "urn:ietf:params:oauth:grant-type:device_code" in casdoor_emulator.application("idp-kubernetes")["grantTypes"]

    run = Kubectl(env, "auth", "whoami", "-o", "json", context="idp-ada")
    kubectl_runs.append(run)
    found = run.wait_for(r"open (https://\S+/login/oauth/device/\S+)\s+and enter the code")
    page = browser.new_page()
    page.goto(found.group(1))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(password_of("idp", "ada"))
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_selector("text=Device signed in as ada")
    assert whoami(run) == "ada@example.com"
    assert subprocess.run([str(env.kubectl_path), "--context", "idp-ada", "get", "services"],
                          capture_output=True, timeout=60).returncode == 0


SERVE_YAML = """
name: room
provider: {provider}
{casdoor}room:
  address: 127.0.0.2
serve:
  port: {serve_port}
users:
  - email: ada@example.com
    name: Ada Lovelace
  - email: carl@example.com
    role: view
"""


@pytest.fixture
def serving(lab_env, tmp_path, monkeypatch):
    """`lab up` for a provider in a room (127.0.0.2: the page is for attendees on their own laptops),
    then `lab serve` in the background; both undone afterwards."""
    monkeypatch.setenv("FAKE_NODE_HOSTS", f"{ROOM}={ROOM},127.0.0.1=127.0.0.1")
    env = lab_env
    started = env.minikube("start", "-p", "minikube", "--listen-address=0.0.0.0", f"--apiserver-ips={ROOM}")
    assert started.returncode == 0, started.stdout + started.stderr
    env.work = tmp_path / "work"
    env.work.mkdir()
    processes = []

    def start(provider: str, casdoor_ca: Path | None = None) -> str:
        port = free_port()
        casdoor = f"casdoor:\n  ca_file: {casdoor_ca}\n" if casdoor_ca else ""
        if provider == "local":
            casdoor = f"local:\n  port: {free_port()}\n"
        (env.work / "lab.yaml").write_text(SERVE_YAML.format(provider=provider, casdoor=casdoor, serve_port=port))
        labcli.run_lab(env.work, "up", "-q")
        labcli.run_lab(env.work, "handout", "--out", str(tmp_path / "handouts"))
        process = subprocess.Popen([*labcli.lab_command(), "serve"], cwd=env.work, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        for line in process.stdout:  # type: ignore[union-attr]
            if "Press Ctrl-C" in line:
                break
        else:
            raise AssertionError(f"lab serve stopped: exit {process.wait()}")
        return f"https://{ROOM}:{port}"  # serve.host is the room's address

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)
    labcli.run_lab(env.work, "down", "-q", check=False)


@pytest.mark.parametrize("provider", ["casdoor", "auth0", "local"])
def test_lab_serve_hands_each_user_their_own_kubeconfig_after_signing_in_at_the_idp(
        provider, serving, lab_env, tmp_path, browser, request):
    if provider == "casdoor":
        emulator = request.getfixturevalue("casdoor_emulator")
        page_url = serving("casdoor", emulator.ca_file)
        login_field, button = "Username", "Sign In"
        logins = {"ada": "ada", "carl": "carl"}
    elif provider == "auth0":
        request.getfixturevalue("auth0_emulator")
        page_url = serving("auth0")
        login_field, button = "Email address", "Continue"
        logins = {"ada": "ada@example.com", "carl": "carl@example.com"}
    else:
        page_url = serving("local")
        login_field, button = "Email or username", "Sign in"
        logins = {"ada": "ada@example.com", "carl": "carl@example.com"}
    # the CA attendees trust: the page's own, or the built-in issuer's
    assert (Path(os.environ["OIDC_LAB_HOME"]) / "room" / ("issuer" if provider == "local" else "serve") / "ca.crt").exists()

    page = browser.new_page()
    page.goto(f"{page_url}/me")
    page.get_by_label(login_field).fill(logins["ada"])
    page.get_by_label("Password").fill(password_of("room", "ada"))
    page.get_by_role("button", name=button).click()
    page.wait_for_selector("text=Signed in as")
    assert "ada@example.com" in page.inner_text("main") and "carl" not in page.inner_text("main")
    page.screenshot(path=str(tmp_path / f"lab-serve-{provider}.png"), full_page=True)
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download your kubeconfig").click()
    handout = tmp_path / "downloads" / downloading.value.suggested_filename
    downloading.value.save_as(str(handout))
    assert handout.name == "room-ada.kubeconfig"
    assert "carl" not in handout.read_text() and password_of("room", "ada") not in handout.read_text()

    # The download is the handout's kind: a fresh HOME with no oidc-lab state signs in with it alone.
    fresh_home = tmp_path / "fresh-home"
    fresh_home.mkdir()
    laptop = attendee_env(fresh_home, handout)
    if provider == "auth0":  # browser sign-in (the password grant would need the secret): on the IdP's page
        laptop["SSL_CERT_FILE"] = os.environ["SSL_CERT_FILE"]  # the emulator's CA: a real tenant's public roots
        run = Kubectl(lab_env, "auth", "whoami", "-o", "json", context=None, environ=laptop)
        try:
            signin = browser.new_page()
            signin.goto(run.wait_for(r"(https://127\.0\.0\.1:\d+/authorize\?\S+)").group(1))
            signin.get_by_label(login_field).fill(logins["ada"])
            signin.get_by_label("Password").fill(password_of("room", "ada"))
            signin.get_by_role("button", name=button).click()
            signin.wait_for_selector("text=You are signed in")
            code, stdout, stderr = run.finish()
        finally:
            run.stop()
        whoami = subprocess.CompletedProcess([], code, stdout, stderr)
    else:
        laptop["OIDC_LAB_PASSWORD"] = password_of("room", "ada")  # typed at the prompt on a terminal
        whoami = subprocess.run([str(lab_env.kubectl_path), "auth", "whoami", "-o", "json"], capture_output=True,
                                text=True, timeout=60, env=laptop)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    assert not (fresh_home / ".local").exists()
    assert handout.read_text() == (tmp_path / "handouts" / "ada" / "kubeconfig").read_text()  # the very handout

    # carl signs in on the same machine after ada signed out: his kubeconfig only, whatever he asks for.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("text=You are signed out")
    browser.clear_cookies()
    carl = browser.new_page()
    carl.goto(f"{page_url}/me")
    carl.get_by_label(login_field).fill(logins["carl"])
    carl.get_by_label("Password").fill(password_of("room", "carl"))
    carl.get_by_role("button", name=button).click()
    carl.wait_for_selector("text=Signed in as")
    answer = carl.request.get(f"{page_url}/me/kubeconfig?user=ada", ignore_https_errors=True)
    assert "room-carl" in answer.text() and "room-ada" not in answer.text()
    carl.get_by_role("button", name="Sign out").click()
    after = carl.request.get(f"{page_url}/me/kubeconfig", ignore_https_errors=True, max_redirects=0)
    assert after.status == 302 and "room-carl" not in after.text()


def test_lab_serve_turns_away_an_idp_account_that_is_not_a_lab_user(serving, casdoor_emulator, browser):
    page_url = serving("casdoor", casdoor_emulator.ca_file)
    # Someone else in the lab's Casdoor organization, but not in lab.yaml.
    casdoor_emulator.directory.add_user({"owner": "room", "name": "mallory", "displayName": "Mallory",
                                         "password": "Mallory-pass-1", "email": "mallory@example.com",
                                         "emailVerified": True})
    page = browser.new_page()
    page.goto(f"{page_url}/me")
    page.get_by_label("Username").fill("mallory")
    page.get_by_label("Password").fill("Mallory-pass-1")
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_selector("text=not a user of lab room")
    download = page.request.get(f"{page_url}/me/kubeconfig", ignore_https_errors=True, max_redirects=0)
    assert download.status == 302 and "apiVersion" not in download.text()

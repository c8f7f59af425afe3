"""Sign-in with a real browser: headless Chromium signs lab users in on the built-in issuer's pages
while real kubectl waits on `lab token` (browser and device flows), against the fake minikube and
its apiserver double. Screenshots of the pages are kept as test artifacts (OIDC_LAB_UPDATE_DOCS=1 refreshes docs/).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.support import labcli
from tests.support.labcli import lab_command
from tests.support.labcli import free_port

CHROMIUM = Path("/usr/bin/chromium")
playwright_api = pytest.importorskip("playwright.sync_api", reason="the test extras install playwright")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")

DOCS = Path(__file__).resolve().parent.parent / "docs"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]

LAB_YAML = """
name: demo
local:
  port: {port}
oidc:
  flow: {flow}
  redirect_ports: [{redirect_port}]
users:
  - email: ada@example.com
    name: Ada Lovelace
  - email: carl@example.com
    role: view
"""


@pytest.fixture
def browser(tmp_path):
    with playwright_api.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            ignore_https_errors=True,  # the lab's own CA signs the issuer's certificate
            viewport={"width": 900, "height": 760})
        try:
            yield context
        finally:
            context.close()


def start_lab(env, tmp_path, flow: str):
    env.work = tmp_path / "work"
    env.work.mkdir()
    (env.work / "lab.yaml").write_text(LAB_YAML.format(port=free_port(), flow=flow, redirect_port=free_port()))
    labcli.run_lab(env.work, "up")
    return env


@pytest.fixture
def lab_down():
    labs = []
    yield labs.append
    for env in labs:
        subprocess.run([*lab_command(), "down", "-q"], cwd=env.work, capture_output=True, timeout=180)


class Kubectl:
    """Real kubectl running in the background, its stderr (where `lab token` talks) read as it comes."""

    def __init__(self, env, *args: str, context: str | None, environ: dict[str, str] | None = None) -> None:
        # Its own session, so the test can end kubectl and the `lab token` it started together.
        chosen = ["--context", context] if context else []  # None: the kubeconfig's current context
        self.process = subprocess.Popen([str(env.kubectl_path), *chosen, *args], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        start_new_session=True, env=environ)
        self.stderr: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            with self._seen:
                self.stderr.append(line)
                self._seen.notify_all()

    def wait_for(self, pattern: str, seconds: float = 60) -> re.Match:
        with self._seen:
            found = self._seen.wait_for(lambda: re.search(pattern, "".join(self.stderr)) or self.process.poll() is not None,
                                        timeout=seconds)
            match = re.search(pattern, "".join(self.stderr))
        assert found and match, f"kubectl never printed {pattern!r}; stderr so far:\n{''.join(self.stderr)}"
        return match

    def finish(self, seconds: float = 90) -> tuple[int, str, str]:
        stdout = self.process.stdout.read()  # type: ignore[union-attr]
        self.process.wait(seconds)
        self._reader.join(5)
        return self.process.returncode, stdout, "".join(self.stderr)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def kubectl_runs():
    runs: list[Kubectl] = []
    yield runs
    for run in runs:
        run.stop()


def first_prompt(runs: list[Kubectl], pattern: str, seconds: float = 60) -> re.Match:
    """The sign-in prompt, from whichever kubectl's `lab token` won the token lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for run in runs:
            match = re.search(pattern, "".join(run.stderr))
            if match:
                return match
        time.sleep(0.1)
    raise AssertionError("no kubectl printed a sign-in prompt:\n" + "\n".join("".join(r.stderr) for r in runs))


def sign_in(page, login: str, password: str) -> None:
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name=re.compile("Sign in")).click()


def password_of(handle: str) -> str:
    document = json.loads((Path(os.environ["OIDC_LAB_HOME"]) / "demo" / "credentials.json").read_text())
    return document["users"][handle]["password"]


def keep_screenshot(page, tmp_path: Path, name: str, for_readme: bool = False) -> Path:
    """A test artifact in the test's tmp dir. With OIDC_LAB_UPDATE_DOCS=1 the README's pictures are
    also copied to docs/ (never by default: a test run must leave the work tree as it was)."""
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    if for_readme and os.environ.get("OIDC_LAB_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / name)
    return shot


def test_parallel_kubectl_calls_open_one_sign_in_and_all_run_as_the_user_who_signed_in(
        minikube_profile, tmp_path, browser, lab_down, kubectl_runs):
    env = start_lab(minikube_profile, tmp_path, "browser")
    lab_down(env)

    runs = [Kubectl(env, "auth", "whoami", "-o", "json", context="demo-ada") for _ in range(4)]
    kubectl_runs.extend(runs)
    url = first_prompt(runs, r"(https://127\.0\.0\.1:\d+/authorize\?\S+)").group(1)
    page = browser.new_page()
    page.goto(url)
    assert page.title() == "Sign in · demo"
    assert page.get_by_label("Email or username").input_value() == "ada@example.com"  # the login hint
    keep_screenshot(page, tmp_path, "login-page.png", for_readme=True)
    sign_in(page, "ada@example.com", password_of("ada"))
    page.wait_for_selector("text=You are signed in")

    for run in runs:
        code, stdout, stderr = run.finish()
        assert code == 0, stderr
        assert json.loads(stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    assert sum("".join(run.stderr).count("/authorize?") for run in runs) == 1, "one sign-in, not one per kubectl"

    # The token is cached: the next kubectl asks nobody.
    again = env.kubectl("get", "services", context="demo-ada")
    assert again.returncode == 0 and "sign in" not in again.stderr


def test_a_wrong_password_shows_an_error_on_the_page_and_signs_nobody_in(
        minikube_profile, tmp_path, browser, lab_down, kubectl_runs):
    env = start_lab(minikube_profile, tmp_path, "browser")
    lab_down(env)

    run = Kubectl(env, "auth", "whoami", context="demo-carl")
    kubectl_runs.append(run)
    url = run.wait_for(r"(https://127\.0\.0\.1:\d+/authorize\?\S+)").group(1)
    page = browser.new_page()
    page.goto(url)
    sign_in(page, "carl@example.com", "not-carls-password")

    alert = page.get_by_role("alert")
    assert alert.inner_text() == "Wrong username or password."
    assert "/authorize" in page.url and "code=" not in page.url
    keep_screenshot(page, tmp_path, "login-page-wrong-password.png")
    assert run.process.poll() is None, "kubectl must still be waiting for a real sign-in"

    sign_in(page, "carl@example.com", password_of("carl"))
    code, _, stderr = run.finish()
    assert code == 0, stderr


def test_device_mode_completes_when_the_person_enters_the_code(
        minikube_profile, tmp_path, browser, lab_down, kubectl_runs):
    env = start_lab(minikube_profile, tmp_path, "device")
    lab_down(env)

    run = Kubectl(env, "auth", "whoami", "-o", "json", context="demo-ada")
    kubectl_runs.append(run)
    found = run.wait_for(r"open (https://\S+/device)\s+and enter the code (\w{4}-\w{4})")
    page = browser.new_page()
    page.goto(found.group(1))
    assert page.title() == "Sign in on another device · demo"
    page.get_by_label("Code").fill(found.group(2).lower())
    keep_screenshot(page, tmp_path, "device-page.png")
    sign_in(page, "ada@example.com", password_of("ada"))
    page.wait_for_selector("text=Signed in as ada@example.com")

    code, stdout, stderr = run.finish()
    assert code == 0, stderr
    assert json.loads(stdout)["status"]["userInfo"]["username"] == "ada@example.com"


def test_the_self_service_page_hands_each_user_a_kubeconfig_that_works_from_a_fresh_home(
        minikube_profile, tmp_path, browser, lab_down):
    env = start_lab(minikube_profile, tmp_path, "password")
    lab_down(env)
    port = int(re.search(r"port: (\d+)", (env.work / "lab.yaml").read_text()).group(1))

    page = browser.new_page()
    page.goto(f"https://127.0.0.1:{port}/me")
    assert page.title() == "Sign in · demo"  # off to the issuer's sign-in first
    sign_in(page, "ada@example.com", password_of("ada"))
    page.wait_for_selector("text=Signed in as")
    assert "ada@example.com" in page.inner_text("main") and "carl" not in page.inner_text("main")
    keep_screenshot(page, tmp_path, "self-service-page.png", for_readme=True)
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download your kubeconfig").click()
    handout = tmp_path / "downloads" / downloading.value.suggested_filename
    downloading.value.save_as(str(handout))
    assert handout.name == "demo-ada.kubeconfig"
    assert "carl" not in handout.read_text() and password_of("ada") not in handout.read_text()

    # The download needs no oidc-lab state. Outside a room the issuer's password grant needs the
    # client's secret, which no download carries: it signs in in the browser, at the issuer reached
    # on this machine's address (its name, host.minikube.internal, resolves in the node only).
    from tests.test_room import attendee_env

    fresh_home = tmp_path / "fresh-home"
    fresh_home.mkdir()
    assert "--issuer-address" in handout.read_text() and "browser" in handout.read_text()
    run = Kubectl(env, "auth", "whoami", "-o", "json", context=None, environ=attendee_env(fresh_home, handout))
    try:
        signin = browser.new_page()
        signin.goto(run.wait_for(rf"(https://127\.0\.0\.1:{port}/authorize\?\S+)").group(1))
        sign_in(signin, "ada@example.com", password_of("ada"))
        signin.wait_for_selector("text=You are signed in")
        code, stdout, stderr = run.finish()
    finally:
        run.stop()
    assert code == 0, stderr
    assert json.loads(stdout)["status"]["userInfo"]["username"] == "ada@example.com"
    assert not (fresh_home / ".local").exists()

    # carl, after ada (a shared machine: her cookies gone), gets his own kubeconfig and no way to ask for ada's.
    browser.clear_cookies()
    carl = browser.new_page()
    carl.goto(f"https://127.0.0.1:{port}/me")
    sign_in(carl, "carl@example.com", password_of("carl"))
    carl.wait_for_selector("text=Signed in as")
    answer = carl.request.get(f"https://127.0.0.1:{port}/me/kubeconfig?user=ada&sub=ada", ignore_https_errors=True)
    assert "demo-carl" in answer.text() and "demo-ada" not in answer.text()

    # Signing out ends the session: the download sends the browser back to sign in.
    carl.get_by_role("button", name="Sign out").click()
    carl.wait_for_selector("text=You are signed out")
    after = carl.request.get(f"https://127.0.0.1:{port}/me/kubeconfig", ignore_https_errors=True, max_redirects=0)
    assert after.status == 302 and "demo-carl" not in after.text()

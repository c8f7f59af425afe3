"""The built-in issuer, spoken to over real HTTPS the way the kube-apiserver and `lab token` do.

Every test runs a real issuer process in a temporary lab home on a free loopback port, trusts only
the lab's CA, and judges id_tokens with PyJWT (an independent JWT library) against the JWKS.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jwt
import pytest
import requests

from provisioner import platform
from provisioner.config import LabConfig, parse_config
from provisioner.errors import ProviderError
from provisioner.providers.local.issuer.files import IssuerFiles, read_settings
from provisioner.providers.local.issuer import hashing
from provisioner.providers.local.issuer.hashing import VerifiedSecrets, hash_secret, verify_secret
from provisioner.providers.local.issuer.process import IssuerProcess
from provisioner.paths import LabPaths
from tests.support.quiet import SilentReporter
from provisioner.providers.local.provider import LocalProvider
from provisioner.secrets import LabSecrets, TokenClient
from provisioner.state import LabState
from tests.support.labcli import free_port

ALICE = {"email": "alice@example.com", "name": "Alice Liddell", "groups": ["devs", "ops"]}
BOB = {"email": "bob@example.com", "email_verified": False}


def wait_until(condition: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def process_alive(pid: int) -> bool:
    if sys.platform == "win32":  # no /proc (and os.waitpid takes a process handle there)
        return platform.alive(pid)
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    stat_file = Path(f"/proc/{pid}/stat")
    return stat_file.exists() and stat_file.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def lab_config(port: int, users: list[dict[str, Any]] | None = None, **local: Any) -> LabConfig:
    return parse_config({
        "name": "issuer-test",
        "local": {"port": port, "listen": "127.0.0.1", "token_ttl_seconds": 600, **local},
        "users": users or [ALICE, BOB],
    })


@dataclass
class RunningIssuer:
    """A lab whose built-in issuer runs, with what a client of it needs."""

    lab: LabConfig
    paths: LabPaths
    provider: LocalProvider
    state: LabState
    secrets: LabSecrets
    client: TokenClient

    @property
    def files(self) -> IssuerFiles:
        return IssuerFiles(self.paths.issuer)

    @property
    def base(self) -> str:
        return self.client.token_endpoint.rsplit("/", 1)[0]

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base + path, verify=self.client.ca_file, timeout=5)

    def post_token(self, form: dict[str, str], auth: tuple[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return requests.post(self.client.token_endpoint, data=form, auth=auth, verify=self.client.ca_file,
                             timeout=5, **kwargs)

    def password_grant(self, handle: str = "alice", login: str | None = None, **extra: str) -> requests.Response:
        form = {
            "grant_type": "password",
            "username": login or self.lab.user(handle).email,
            "password": self.secrets.password(handle),
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "scope": self.client.scope,
            **extra,
        }
        return self.post_token(form)

    def reconfigure(self, lab: LabConfig) -> None:
        self.lab = lab
        self.provider = LocalProvider(lab, self.paths, SilentReporter())
        self.provider.ensure(self.state, self.secrets)
        self.client = self.provider.token_client(self.state, self.secrets)

    def verify(self, id_token: str) -> dict[str, Any]:
        """Check an id_token as the apiserver would: the JWKS key named by `kid`, RS256, iss, aud, exp."""
        kid = jwt.get_unverified_header(id_token)["kid"]
        keys = {key["kid"]: key for key in self.get("/jwks").json()["keys"]}
        return jwt.decode(id_token, jwt.PyJWK(keys[kid]).key, algorithms=["RS256"],
                          audience=self.client.client_id, issuer=self.client.issuer)


def start_lab(lab: LabConfig) -> RunningIssuer:
    paths = LabPaths.for_lab(lab.name)
    state, secrets = LabState.load(paths, lab.name), LabSecrets.load(paths)
    provider = LocalProvider(lab, paths, SilentReporter())
    provider.ensure(state, secrets)
    return RunningIssuer(lab, paths, provider, state, secrets, provider.token_client(state, secrets))


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, folder in (("HOME", "home"), ("OIDC_LAB_HOME", "labs"), ("MINIKUBE_HOME", "minikube")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "home" / "kubeconfig"))
    monkeypatch.setattr(hashing, "_N", 2**8)  # full-cost scrypt only slows the tests; the server reads n from the hash
    return tmp_path / "labs"


@pytest.fixture
def issuer(lab_home: Path):
    try:
        running = start_lab(lab_config(free_port()))
        yield running
    finally:
        IssuerProcess(LabPaths.for_lab("issuer-test").issuer).stop()


# --- discovery and keys ----------------------------------------------------------------------------


def test_discovery_document_names_the_issuer_and_endpoints_built_on_it(issuer: RunningIssuer) -> None:
    document = issuer.get("/.well-known/openid-configuration").json()

    assert document["issuer"] == issuer.client.issuer == f"https://host.minikube.internal:{issuer.lab.local.port}"
    assert document["token_endpoint"] == document["issuer"] + "/token"
    assert document["jwks_uri"] == document["issuer"] + "/jwks"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["grant_types_supported"]) == {"password", "refresh_token", "authorization_code",
                                                      "urn:ietf:params:oauth:grant-type:device_code"}
    assert document["authorization_endpoint"] == document["issuer"] + "/authorize"
    assert document["device_authorization_endpoint"] == document["issuer"] + "/device/code"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]


def test_jwks_publishes_one_rs256_key_with_a_kid(issuer: RunningIssuer) -> None:
    keys = issuer.get("/jwks").json()["keys"]

    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0], "the private exponent must never be published"
    # RFC 7638: SHA-256 over the required members, sorted, without whitespace.
    canonical = json.dumps({k: keys[0][k] for k in ("e", "kty", "n")}, sort_keys=True, separators=(",", ":"))
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert keys[0]["kid"] == thumbprint


def test_tls_certificate_is_trusted_only_through_the_lab_ca(issuer: RunningIssuer) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(issuer.base + "/healthz", verify=True, timeout=5)
    assert issuer.get("/healthz").json()["status"] == "ok"


# --- the password grant ------------------------------------------------------------------------------


def test_password_grant_gives_an_id_token_the_apiserver_would_accept(issuer: RunningIssuer) -> None:
    response = issuer.password_grant("alice")

    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 600
    assert token["access_token"] and token["refresh_token"] and "openid" in token["scope"].split()
    header = jwt.get_unverified_header(token["id_token"])
    assert header["alg"] == "RS256" and header["kid"] == issuer.get("/jwks").json()["keys"][0]["kid"]
    claims = issuer.verify(token["id_token"])
    assert claims["iss"] == f"https://host.minikube.internal:{issuer.lab.local.port}"
    assert claims["aud"] == "oidc-lab-issuer-test"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["groups"] == ["devs", "ops"]
    assert claims["name"] == "Alice Liddell" and claims["preferred_username"] == "alice"
    assert claims["exp"] - claims["iat"] == 600 and claims["sub"]


def test_client_may_authenticate_with_http_basic_instead_of_the_form(issuer: RunningIssuer) -> None:
    form = {"grant_type": "password", "username": "alice@example.com", "password": issuer.secrets.password("alice")}

    response = issuer.post_token(form, auth=(issuer.client.client_id, issuer.client.client_secret))

    assert response.status_code == 200, response.text
    assert issuer.verify(response.json()["id_token"])["email"] == "alice@example.com"


def test_the_handle_is_accepted_as_login_too(issuer: RunningIssuer) -> None:
    response = issuer.password_grant("alice", login="alice")

    assert response.status_code == 200, response.text


def test_a_user_with_an_unverified_email_gets_email_verified_false(issuer: RunningIssuer) -> None:
    response = issuer.password_grant("bob")

    assert response.status_code == 200, response.text
    claims = issuer.verify(response.json()["id_token"])
    assert claims["email"] == "bob@example.com" and claims["email_verified"] is False
    assert claims["groups"] == []


def test_a_wrong_password_is_invalid_grant(issuer: RunningIssuer) -> None:
    response = issuer.password_grant("alice", password="not-the-password")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(issuer: RunningIssuer) -> None:
    response = issuer.password_grant("alice", login="mallory@example.com")

    assert response.status_code == 400
    assert response.json() == issuer.password_grant("alice", password="wrong").json()


@pytest.mark.parametrize("how", ["post", "basic"])
def test_a_wrong_client_secret_is_invalid_client_401(issuer: RunningIssuer, how: str) -> None:
    form = {"grant_type": "password", "username": "alice@example.com", "password": issuer.secrets.password("alice")}
    if how == "post":
        response = issuer.post_token({**form, "client_id": issuer.client.client_id, "client_secret": "guess"})
    else:
        response = issuer.post_token(form, auth=(issuer.client.client_id, "guess"))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_protocol_errors_come_back_as_oauth2_json(issuer: RunningIssuer) -> None:
    client = {"client_id": issuer.client.client_id, "client_secret": issuer.client.client_secret}

    unsupported = issuer.post_token({"grant_type": "client_credentials", **client})
    no_openid = issuer.password_grant("alice", scope="email profile")
    unknown_scope = issuer.password_grant("alice", scope="openid admin")
    json_body = requests.post(issuer.client.token_endpoint, json={"grant_type": "password", **client},
                              verify=issuer.client.ca_file, timeout=5)

    assert (unsupported.status_code, unsupported.json()["error"]) == (400, "unsupported_grant_type")
    assert (no_openid.status_code, no_openid.json()["error"]) == (400, "invalid_scope")
    assert (unknown_scope.status_code, unknown_scope.json()["error"]) == (400, "invalid_scope")
    assert (json_body.status_code, json_body.json()["error"]) == (400, "invalid_request")


# --- the refresh grant -----------------------------------------------------------------------------


def test_refresh_grant_issues_a_new_id_token_and_rotates_the_refresh_token(issuer: RunningIssuer) -> None:
    first = issuer.password_grant("alice").json()
    auth = (issuer.client.client_id, issuer.client.client_secret)

    refreshed = issuer.post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=auth)
    replayed = issuer.post_token({"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}, auth=auth)

    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert issuer.verify(second["id_token"])["email"] == "alice@example.com"
    assert second["refresh_token"] != first["refresh_token"]
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    again = issuer.post_token({"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}, auth=auth)
    assert again.status_code == 200, again.text


def test_parallel_kubectl_runs_all_get_tokens(issuer: RunningIssuer) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(lambda _: issuer.password_grant("alice"), range(16)))

    assert [r.status_code for r in responses] == [200] * 16
    refresh_tokens = {r.json()["refresh_token"] for r in responses}
    assert len(refresh_tokens) == 16
    auth = (issuer.client.client_id, issuer.client.client_secret)
    with ThreadPoolExecutor(max_workers=8) as pool:
        refreshed = list(pool.map(
            lambda token: issuer.post_token({"grant_type": "refresh_token", "refresh_token": token}, auth=auth),
            refresh_tokens))
    assert [r.status_code for r in refreshed] == [200] * 16


def test_refresh_tokens_are_stored_only_as_digests(issuer: RunningIssuer) -> None:
    token = issuer.password_grant("alice").json()["refresh_token"]

    stored = issuer.files.refresh_tokens.read_text()

    assert token not in stored and len(stored) > 10


# --- reloads, restarts and files ----------------------------------------------------------------------


def test_new_users_can_log_in_without_a_restart(issuer: RunningIssuer) -> None:
    pid = issuer.provider.process.pid
    carol = {"email": "carol@example.com", "groups": ["qa"]}

    issuer.reconfigure(lab_config(issuer.lab.local.port, [ALICE, BOB, carol]))

    assert issuer.provider.process.pid == pid
    response = issuer.password_grant("carol")
    assert response.status_code == 200, response.text
    assert issuer.verify(response.json()["id_token"])["groups"] == ["qa"]


def test_a_new_token_lifetime_applies_without_a_restart(issuer: RunningIssuer) -> None:
    pid = issuer.provider.process.pid

    issuer.reconfigure(lab_config(issuer.lab.local.port, token_ttl_seconds=120))

    assert issuer.provider.process.pid == pid
    token = issuer.password_grant("alice").json()
    claims = issuer.verify(token["id_token"])
    assert token["expires_in"] == 120 and claims["exp"] - claims["iat"] == 120


def test_a_removed_user_can_no_longer_log_in_or_refresh(issuer: RunningIssuer) -> None:
    bob_password = issuer.secrets.password("bob")
    refresh = issuer.password_grant("bob").json()["refresh_token"]

    issuer.reconfigure(lab_config(issuer.lab.local.port, [ALICE]))

    auth = (issuer.client.client_id, issuer.client.client_secret)
    login = issuer.post_token({"grant_type": "password", "username": "bob@example.com", "password": bob_password},
                              auth=auth)
    refreshed = issuer.post_token({"grant_type": "refresh_token", "refresh_token": refresh}, auth=auth)
    assert (login.status_code, login.json()["error"]) == (400, "invalid_grant")
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")


def test_keys_and_ca_survive_a_restart_so_old_tokens_stay_valid(issuer: RunningIssuer) -> None:
    old = issuer.password_grant("alice").json()
    ca_before = issuer.files.ca_cert.read_bytes()
    old_pid = issuer.provider.process.pid

    assert issuer.provider.process.stop()
    issuer.reconfigure(issuer.lab)

    assert issuer.provider.process.pid not in (None, old_pid)
    assert issuer.files.ca_cert.read_bytes() == ca_before
    assert issuer.verify(old["id_token"])["email"] == "alice@example.com"
    refreshed = issuer.post_token({"grant_type": "refresh_token", "refresh_token": old["refresh_token"]},
                                  auth=(issuer.client.client_id, issuer.client.client_secret))
    assert refreshed.status_code == 200, refreshed.text


def test_an_issuer_whose_lab_folder_was_deleted_stops_by_itself(issuer: RunningIssuer) -> None:
    pid = issuer.provider.process.pid
    assert pid is not None

    shutil.rmtree(issuer.paths.issuer)

    assert wait_until(lambda: not process_alive(pid)), "the orphaned issuer kept running"


def test_secret_files_are_private_and_hold_no_plaintext(issuer: RunningIssuer) -> None:
    issuer.password_grant("alice")
    folder = issuer.paths.issuer

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    everything = "".join(path.read_text(errors="replace") for path in folder.iterdir())
    assert issuer.secrets.password("alice") not in everything
    assert issuer.secrets.password("bob") not in everything
    assert issuer.client.client_secret not in everything


def test_the_log_records_requests_but_no_password_secret_or_token(issuer: RunningIssuer) -> None:
    token = issuer.password_grant("alice").json()
    issuer.post_token({"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
                      auth=(issuer.client.client_id, issuer.client.client_secret))
    issuer.password_grant("alice", password="typo-" + issuer.secrets.password("alice"))
    requests.post(issuer.client.token_endpoint + "?client_secret=" + issuer.client.client_secret,
                  data={"grant_type": "password"}, verify=issuer.client.ca_file, timeout=5)
    issuer.provider.process.stop()  # flushes and closes the log

    log = issuer.files.log.read_text()

    assert "POST /token 200 grant=password login=alice@example.com" in log
    assert "POST /token 400" in log
    basic = base64.b64encode(f"{issuer.client.client_id}:{issuer.client.client_secret}".encode()).decode()
    for secret in (issuer.secrets.password("alice"), issuer.client.client_secret, basic,
                   token["id_token"], token["refresh_token"], token["access_token"]):
        assert secret not in log


def test_without_command_lines_only_the_issuer_answering_with_the_pid_is_taken_for_it(
        issuer: RunningIssuer, monkeypatch: pytest.MonkeyPatch) -> None:
    """macOS has no /proc: a pid file naming some other process must not make `lab down` stop it."""
    from provisioner.providers.local.issuer import process

    pid = issuer.provider.process.pid
    monkeypatch.setattr(platform, "command_line", lambda pid: None)
    monkeypatch.setattr(process, "_children", {})  # as a later command sees it
    assert IssuerProcess(issuer.paths.issuer).pid == pid

    serving = issuer.files.serving.read_text()
    issuer.files.pid.write_text(f"{os.getpid()}\n")  # a live process that is not the issuer
    assert IssuerProcess(issuer.paths.issuer).pid is None
    assert not IssuerProcess(issuer.paths.issuer).stop()
    assert platform.alive(os.getpid())
    issuer.files.pid.write_text(f"{pid}\n")  # the real one again, for the fixture to stop
    issuer.files.serving.write_text(serving)
    assert IssuerProcess(issuer.paths.issuer).stop() and not process_alive(pid)


def test_stop_lets_the_issuer_close_down_cleanly(issuer: RunningIssuer) -> None:
    """SIGTERM on POSIX, the stop-request file on Windows: either way the issuer finishes its own exit."""
    pid = issuer.provider.process.pid
    assert issuer.provider.process.stop()
    assert not process_alive(pid)
    assert issuer.files.log.read_text().rstrip().endswith("issuer stopped")
    assert not issuer.files.pid.exists() and not (issuer.paths.issuer / "issuer.stop").exists()


def test_an_issuer_that_cannot_start_is_reported_with_its_log(issuer: RunningIssuer) -> None:
    issuer.provider.process.stop()
    issuer.files.tls_key.write_text("not a key\n")

    with pytest.raises(ProviderError) as caught:
        issuer.provider.process.start(read_settings(issuer.files))

    assert "exited" in caught.value.message and "log ends with" in caught.value.message
    assert str(issuer.files.log) in caught.value.hint
    assert not issuer.provider.process.running() and not issuer.files.pid.exists()


def test_serve_without_settings_explains_itself(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "provisioner.providers.local.issuer", "serve", "--dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=30,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})

    assert result.returncode == 2
    assert "issuer.json" in result.stderr


# --- hashing ------------------------------------------------------------------------------------


def test_secret_hashes_are_salted_and_check_only_the_right_secret() -> None:
    first, second = hash_secret("correct horse"), hash_secret("correct horse")

    assert first != second and "correct horse" not in first
    assert verify_secret("correct horse", first) and verify_secret("correct horse", second)
    assert not verify_secret("correct horsE", first)
    assert not verify_secret("anything", "garbage")


def test_the_verification_memo_never_admits_a_wrong_secret() -> None:
    memo, encoded = VerifiedSecrets(), hash_secret("s3cret")

    assert memo.verify("s3cret", encoded)
    assert memo.verify("s3cret", encoded)
    assert not memo.verify("s3cret!", encoded)
    assert not memo.verify("s3cret", hash_secret("other"))

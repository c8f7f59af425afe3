"""`lab token`, the plugin kubectl runs for every command: cached, refreshed, signed in, explained.

The use case is tested in-process with a fake IdP and a fake clock; the command is tested as
kubectl runs it, in a fresh process, against a real HTTPS token endpoint (tests/support).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provisioner.credential import fetch_token, labfiles
from provisioner.credential.cache import TokenCache, Tokens
from provisioner.credential.client import HttpTokenClient, _token_response
from provisioner.credential.flow import EXPIRY_MARGIN_SECONDS, GrantRefused, get_token
from provisioner.oidc.jwt import MalformedToken, expiry_of
from provisioner.credential.plugin import UsageError, exec_credential, parse_args
from provisioner.errors import CredentialError
from provisioner.paths import LabPaths
from provisioner.providers.local.pki import create_ca
from provisioner.secrets import LabSecrets, TokenClient
from tests.support.token_server import TokenServer

REPO = Path(__file__).resolve().parents[1]
LAB, USER, LOGIN, PASSWORD = "demo", "alice", "alice@example.org", "correct-horse-battery-1!"
NOW = 1_800_000_000.0
HEAVY = ["click", "rich", "pydantic", "yaml", "requests", "httpx", "kubernetes", "auth0", "jinja2", "authlib", "cryptography"]


# in-process: the use case with a fake IdP and a fake clock ------------------------------------
def unsigned_jwt(exp: float, **claims: object) -> str:
    def part(document: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()

    return ".".join([part({"alg": "RS256", "typ": "JWT"}), part({"exp": int(exp), **claims}), "c2ln"])


class FakeIdp:
    """Answers grants the way an IdP does, counting them; tokens live `lifetime` seconds."""

    def __init__(self, clock: FakeClock, lifetime: int = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.sign_ins = 0
        self.refreshes: list[str] = []
        self.refuse_refresh = False
        self.refuse_password: GrantRefused | None = None
        self.answer: dict | None = None  # a fixed answer to every grant
        self.connections = 0

    def connect(self) -> FakeIdp:
        """What the plugin does on a miss: read the lab's secrets and make the HTTP client."""
        self.connections += 1
        return self

    def _tokens(self, refresh_token: str | None) -> dict:
        if self.answer is not None:
            return self.answer
        answer = {"id_token": unsigned_jwt(self.clock() + self.lifetime, n=self.sign_ins + len(self.refreshes))}
        if refresh_token:
            answer["refresh_token"] = refresh_token
        return answer

    def sign_in(self) -> dict:
        self.sign_ins += 1
        if self.refuse_password:
            raise self.refuse_password
        return self._tokens(f"refresh-{self.sign_ins}")

    def refresh(self, refresh_token: str) -> dict:
        self.refreshes.append(refresh_token)
        if self.refuse_refresh:
            raise GrantRefused("invalid_grant", "Unknown or invalid refresh token.")
        return self._tokens(None)  # like Auth0 without rotation: no new refresh token


class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_idp(clock: FakeClock) -> FakeIdp:
    return FakeIdp(clock)


@pytest.fixture
def cache(tmp_path: Path) -> TokenCache:
    return TokenCache(str(tmp_path / "tokens"), USER)


def fetch(cache: TokenCache, idp: FakeIdp, clock: FakeClock, **options: object) -> Tokens:
    return get_token(cache, idp.connect, USER, now=clock, **options)


def test_a_valid_cached_token_is_used_without_asking_the_idp(cache, fake_idp, clock):
    cache.save(Tokens(unsigned_jwt(NOW + 600), int(NOW + 600), "refresh-0"))
    tokens = fetch(cache, fake_idp, clock)
    assert tokens.expiry == NOW + 600
    assert fake_idp.connections == 0
    assert fake_idp.sign_ins == 0 and fake_idp.refreshes == []


def test_no_cache_signs_in_with_the_password_and_caches_the_tokens(cache, fake_idp, clock):
    tokens = fetch(cache, fake_idp, clock)
    assert fake_idp.sign_ins == 1
    assert tokens.expiry == NOW + 3600 and tokens.refresh_token == "refresh-1"
    assert cache.load() == tokens


def test_a_token_about_to_expire_is_refreshed_and_the_refresh_token_kept(cache, fake_idp, clock):
    first = fetch(cache, fake_idp, clock)
    clock.now = first.expiry - EXPIRY_MARGIN_SECONDS  # still valid, but not for long enough
    second = fetch(cache, fake_idp, clock)
    assert fake_idp.refreshes == ["refresh-1"] and fake_idp.sign_ins == 1
    assert second.id_token != first.id_token
    assert second.refresh_token == "refresh-1"  # the answer had none: the old one still works
    assert cache.load() == second


def test_an_expired_token_with_a_refused_refresh_token_signs_in_again(cache, fake_idp, clock):
    fetch(cache, fake_idp, clock)
    clock.now += 7200
    fake_idp.refuse_refresh = True
    tokens = fetch(cache, fake_idp, clock)
    assert fake_idp.refreshes == ["refresh-1"] and fake_idp.sign_ins == 2
    assert tokens.refresh_token == "refresh-2" and tokens.expiry == clock.now + 3600


def test_an_expired_token_without_refresh_token_signs_in_again(cache, fake_idp, clock):
    cache.save(Tokens(unsigned_jwt(NOW - 1), int(NOW - 1)))
    fetch(cache, fake_idp, clock)
    assert fake_idp.refreshes == [] and fake_idp.sign_ins == 1


def test_ignoring_the_cache_signs_in_even_with_a_valid_token(cache, fake_idp, clock):
    fetch(cache, fake_idp, clock)
    tokens = fetch(cache, fake_idp, clock, use_cache=False)
    assert fake_idp.sign_ins == 2 and fake_idp.refreshes == []
    assert cache.load() == tokens


def test_a_refused_password_is_reported_with_the_idps_words(cache, fake_idp, clock):
    fake_idp.refuse_password = GrantRefused("invalid_grant", "Wrong email or password.", 403)
    with pytest.raises(CredentialError) as failure:
        fetch(cache, fake_idp, clock)
    assert "invalid_grant: Wrong email or password." in failure.value.message
    assert cache.load() is None


def test_an_answer_without_id_token_points_at_the_openid_scope(cache, fake_idp, clock):
    fake_idp.answer = {"access_token": "opaque", "token_type": "Bearer"}
    with pytest.raises(CredentialError) as failure:
        fetch(cache, fake_idp, clock)
    assert "openid" in failure.value.hint


@pytest.mark.parametrize("lifetime", [0, -30])
def test_an_id_token_expired_on_arrival_is_refused(cache, fake_idp, clock, lifetime):
    fake_idp.lifetime = lifetime
    with pytest.raises(CredentialError) as failure:
        fetch(cache, fake_idp, clock)
    assert "already expired" in failure.value.message
    assert "clock" in failure.value.hint and "expireInHours" in failure.value.hint
    assert cache.load() is None


def test_an_id_token_that_is_not_a_jwt_is_refused(cache, fake_idp, clock):
    fake_idp.answer = {"id_token": "not-a-jwt"}
    with pytest.raises(CredentialError, match="not a readable JWT"):
        fetch(cache, fake_idp, clock)


@pytest.mark.parametrize(
    "text",
    ["a.b", "a.!!!.c", "a." + base64.urlsafe_b64encode(b'{"sub": "x"}').decode() + ".c",
     "a." + base64.urlsafe_b64encode(b'{"exp": "soon"}').decode() + ".c"],
)
def test_expiry_of_rejects_what_is_not_a_jwt_with_exp(text):
    with pytest.raises(MalformedToken):
        expiry_of(text)


def test_expiry_of_reads_exp_from_unpadded_base64url():
    assert expiry_of(unsigned_jwt(NOW, name="\u00e9\u00e9\u00e9?>>")) == int(NOW)


def test_the_cache_ignores_tokens_written_before_the_lab_credentials_changed(tmp_path):
    folder = str(tmp_path / "tokens")
    TokenCache(folder, USER).save(Tokens(unsigned_jwt(NOW), int(NOW)))
    written = os.stat(os.path.join(folder, f"{USER}.tokens")).st_mtime_ns
    assert TokenCache(folder, USER, not_before_ns=written).load() is not None
    assert TokenCache(folder, USER, not_before_ns=written + 1).load() is None


def test_a_damaged_cache_file_counts_as_no_cache(cache, fake_idp, clock):
    os.makedirs(cache.folder)
    Path(cache.file).write_text("{not json")
    fetch(cache, fake_idp, clock)
    assert fake_idp.sign_ins == 1 and cache.load() is not None


def test_an_oauth_error_is_a_refusal_even_with_status_200():
    casdoor_style = b'{"error": "invalid_grant", "error_description": "refresh token is invalid, expired or revoked"}'
    with pytest.raises(GrantRefused) as refused:
        _token_response("https://idp/api/login/oauth/refresh_token", 200, casdoor_style)
    assert refused.value.error == "invalid_grant" and "revoked" in refused.value.description


def test_an_answer_that_is_no_token_response_is_explained():
    with pytest.raises(CredentialError, match="answered HTTP 502 without a token response"):
        _token_response("https://idp/oauth/token", 502, b"<html>Bad Gateway</html>")
    assert _token_response("https://idp/oauth/token", 200, b'{"id_token": "x"}') == {"id_token": "x"}


def test_tokens_keep_their_secrets_out_of_repr():
    tokens = Tokens("eyJ.secret-id-token.sig", 5, "secret-refresh-token")
    assert "secret" not in repr(tokens)


@pytest.mark.parametrize(
    "env",
    [{"OIDC_LAB_HOME": "/srv/labs"}, {"OIDC_LAB_HOME": "~/labs"}, {"XDG_STATE_HOME": "/var/state"}, {}],
)
def test_the_plugin_finds_lab_files_where_lab_up_puts_them(monkeypatch, tmp_path, env):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("OIDC_LAB_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    paths = LabPaths.for_lab(LAB)
    root = labfiles.lab_root(LAB)
    assert root == str(paths.root)
    assert labfiles.credentials_file(root) == str(paths.credentials)
    assert labfiles.tokens_dir(root) == str(paths.tokens)


def test_exec_credential_echoes_the_api_version_kubectl_announced():
    tokens = Tokens("the-id-token", 1_800_000_000)
    beta = json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential"})
    assert exec_credential(tokens, beta)["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    for unusable in (None, "", "not json", "[]"):
        assert exec_credential(tokens, unusable)["apiVersion"] == "client.authentication.k8s.io/v1"
    assert exec_credential(tokens, None)["status"] == {
        "token": "the-id-token",
        "expirationTimestamp": "2027-01-15T08:00:00Z",
    }


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["--user", "alice"], "needs --lab"),
        (["--lab", "demo"], "needs --user"),
        (["--lab", "demo", "--user"], "--user needs a value"),
        (["--lab", "demo", "--user", "alice", "--password", "x"], "does not know the argument '--password'"),
        (["--lab", "demo", "--user", "../credentials"], "not a valid name"),
    ],
)
def test_bad_arguments_are_usage_errors(argv, complaint):
    with pytest.raises(UsageError) as failure:
        parse_args(argv)
    assert complaint in failure.value.message
    assert failure.value.exit_code == 2


def test_arguments_in_both_spellings():
    options = parse_args(["--lab=demo", "--raw", "--user", "alice", "--refresh"])
    assert (options.lab, options.user, options.raw, options.refresh) == ("demo", "alice", True, True)
    assert parse_args(["--help"]) is None


# as kubectl runs it: a fresh process against a real HTTPS token endpoint -----------------------
ENTRY = "import sys; from provisioner.entry import main; sys.argv = ['lab', *sys.argv[1:]]; sys.exit(main())"


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "labs"
    monkeypatch.setenv("OIDC_LAB_HOME", str(home))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    for name in ("KUBERNETES_EXEC_INFO", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def idp(tmp_path: Path):
    with TokenServer(tmp_path, users={LOGIN: PASSWORD}) as server:
        yield server


@pytest.fixture
def lab(lab_home: Path, idp: TokenServer) -> LabPaths:
    """A lab as `lab up` leaves it: credentials.json with the token client and one user."""
    return write_lab(idp)


def write_lab(idp: TokenServer, **client: object) -> LabPaths:
    paths = LabPaths.for_lab(LAB)
    secrets = LabSecrets.load(paths)
    secrets.set_client(idp.token_client(**client))
    secrets.set_login(USER, LOGIN)
    secrets.password(USER, PASSWORD)
    return paths


def lab_token(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", ENTRY, "token", *args],
        env={**os.environ, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def token_for(*extra: str, env: dict[str, str] | None = None) -> dict:
    done = lab_token("--lab", LAB, "--user", USER, *extra, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_explained(done: subprocess.CompletedProcess, *words: str) -> list[str]:
    """Exit 1, stdout empty, stderr exactly `error:` and `hint:`, no traceback, no secret."""
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), done.stderr
    assert "Traceback" not in done.stderr and PASSWORD not in done.stderr
    for word in words:
        assert word in done.stderr
    return lines


def test_kubectl_gets_an_exec_credential_and_later_calls_use_the_cache(lab, idp):
    credential = token_for()
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1"
    assert credential["kind"] == "ExecCredential"
    token = credential["status"]["token"]
    assert expiry_of(token) > time.time() + 3000
    assert credential["status"]["expirationTimestamp"] == time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry_of(token))
    )
    assert idp.grants == {"password": 1}
    sent = idp.forms[0]
    assert sent["username"] == LOGIN and sent["client_id"] == idp.client_id
    assert "openid" in sent["scope"].split()

    assert token_for()["status"]["token"] == token
    assert idp.grants == {"password": 1}


def test_the_cache_file_is_private(lab, idp):
    token_for()
    cache_file = lab.tokens / f"{USER}.tokens"
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(lab.tokens.stat().st_mode) == 0o700
    assert PASSWORD not in cache_file.read_text()


def test_the_api_version_kubectl_announces_is_echoed(lab):
    info = json.dumps({"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {}})
    credential = token_for(env={"KUBERNETES_EXEC_INFO": info})
    assert credential["apiVersion"] == "client.authentication.k8s.io/v1beta1"


def test_raw_prints_only_the_id_token(lab):
    done = lab_token("--lab", LAB, "--user", USER, "--raw")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n" and token.count(".") == 2
    assert token == token_for()["status"]["token"]


def test_a_token_close_to_expiry_is_refreshed_at_the_refresh_endpoint(lab_home, idp):
    write_lab(idp, refresh_endpoint=idp.refresh_endpoint)
    idp.id_token_lifetime = EXPIRY_MARGIN_SECONDS // 2  # valid, but too short to reuse
    first = token_for()["status"]["token"]
    second = token_for()["status"]["token"]
    assert idp.grants == {"password": 1, "refresh_token": 1}
    assert second != first
    refresh_form = idp.forms[1]
    assert refresh_form["client_secret"] == idp.client_secret and refresh_form["refresh_token"]
    token_for()  # the refresh answer had no new refresh token: the first one is used again
    assert idp.grants == {"password": 1, "refresh_token": 2}
    assert idp.forms[2]["refresh_token"] == refresh_form["refresh_token"]


def test_a_refused_refresh_token_falls_back_to_the_password(lab, idp):
    idp.id_token_lifetime = EXPIRY_MARGIN_SECONDS // 2
    token_for()
    idp.refuse_refresh = True
    token_for()
    assert idp.grants == {"password": 2, "refresh_token": 1}


def test_a_lab_up_that_changed_the_client_makes_kubectl_sign_in_again(lab, idp):
    token_for()
    write_lab(idp, scope="openid email")  # lab up rewrote credentials.json
    token_for()
    assert idp.grants == {"password": 2}
    assert idp.forms[1]["scope"] == "openid email"


def test_refresh_flag_signs_in_again(lab, idp):
    first = token_for()["status"]["token"]
    second = token_for("--refresh")["status"]["token"]
    assert idp.grants == {"password": 2} and second != first
    assert token_for()["status"]["token"] == second


def test_auth0_password_realm_sends_the_realm(lab_home, tmp_path):
    with TokenServer(tmp_path, users={LOGIN: PASSWORD}, realm="lab-demo-users") as auth0:
        write_lab(auth0)
        token_for()
        assert auth0.grants == {"http://auth0.com/oauth/grant-type/password-realm": 1}
        assert auth0.forms[0]["realm"] == "lab-demo-users"


def test_parallel_kubectl_runs_with_an_empty_cache_sign_in_once(lab, idp):
    idp.password_delay = 0.3  # keeps the first sign-in open while the others start
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda _: lab_token("--lab", LAB, "--user", USER, "--raw"), range(8)))
    assert [run.returncode for run in runs] == [0] * 8, [run.stderr for run in runs]
    assert len({run.stdout for run in runs}) == 1
    assert idp.grants == {"password": 1}


def test_fetch_token_uses_the_lab_folder_it_is_given(lab_home, idp, tmp_path):
    elsewhere = LabPaths(tmp_path / "elsewhere" / LAB)
    secrets = LabSecrets.load(elsewhere)
    secrets.set_client(idp.token_client())
    secrets.set_login(USER, LOGIN)
    secrets.password(USER, PASSWORD)
    token = fetch_token(LAB, USER, paths=elsewhere)
    assert expiry_of(token) > time.time()
    assert (elsewhere.tokens / f"{USER}.tokens").exists() and not lab_home.exists()
    assert fetch_token(LAB, USER, paths=elsewhere) == token
    assert idp.grants == {"password": 1}


def test_python_m_provisioner_token_keeps_the_exit_code(lab_home):
    done = subprocess.run(
        [sys.executable, "-m", "provisioner", "token", "--lab", "nowhere", "--user", USER],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert_explained(done, "not set up")


# errors: one error line, one hint line, exit 1 ---------------------------------------------------
def test_a_lab_that_is_not_set_up(lab_home):
    assert_explained(lab_token("--lab", "nowhere", "--user", USER), "not set up", "lab up")


def test_an_unknown_user(lab):
    assert_explained(lab_token("--lab", LAB, "--user", "mallory"), "'mallory'", "its users: alice")
    assert not any(lab.tokens.glob("mallory*"))


def test_an_unreachable_idp(lab_home, idp):
    with socket.socket() as placeholder:  # a port nobody listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    write_lab(idp, token_endpoint=f"https://127.0.0.1:{port}/oauth/token")
    assert_explained(lab_token("--lab", LAB, "--user", USER), "cannot reach", "refused")


def test_an_idp_name_that_does_not_resolve(lab_home, idp):
    write_lab(idp, token_endpoint="https://idp.invalid/oauth/token")
    assert_explained(lab_token("--lab", LAB, "--user", USER), "cannot reach", "does not resolve")


def test_an_idp_that_never_answers():
    with socket.socket() as silent:  # accepts connections (backlog) and never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        endpoint = f"https://127.0.0.1:{silent.getsockname()[1]}/oauth/token"
        client = HttpTokenClient(TokenClient(endpoint, "lab-client", "https://idp/"), LOGIN, PASSWORD, timeout=0.2)
        with pytest.raises(CredentialError) as failure:
            client.sign_in()
    assert "cannot reach" in failure.value.message and "no answer within 0.2 s" in failure.value.message


def test_an_idp_certificate_from_another_ca(lab_home, idp, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(create_ca("not the lab's CA").cert_pem)
    write_lab(idp, ca_file=str(other_ca))
    assert_explained(lab_token("--lab", LAB, "--user", USER), "TLS verification", str(other_ca))
    assert idp.grants == {}


def test_a_wrong_password_quotes_the_idp(lab_home, idp):
    write_lab(idp)
    secrets = LabSecrets.load(LabPaths.for_lab(LAB))
    secrets.password(USER, "not-" + PASSWORD)
    lines = assert_explained(lab_token("--lab", LAB, "--user", USER))
    assert "invalid_grant: Wrong email or password." in lines[0]


def test_a_tenant_without_default_connection_quotes_the_idp(lab, idp):
    idp.fixed_password_answer = (
        500,
        {"error": "server_error", "error_description": "Authorization server not configured with default connection."},
    )
    assert_explained(lab_token("--lab", LAB, "--user", USER), "Authorization server not configured with default connection.")


def test_a_scope_without_openid_gets_no_id_token(lab_home, idp):
    write_lab(idp, scope="email profile offline_access")
    assert_explained(lab_token("--lab", LAB, "--user", USER), "without an id_token", "openid")


def test_a_zero_token_lifetime_is_explained(lab, idp):
    idp.id_token_lifetime = 0
    assert_explained(lab_token("--lab", LAB, "--user", USER), "already expired", "expireInHours")


# the light path ------------------------------------------------------------------------------
PROBE = """
import sys
from provisioner.entry import main
modules_file, sys.argv = sys.argv[1], ["lab", *sys.argv[2:]]
try:
    main()
finally:
    loaded = sorted(sys.modules)  # before the probe itself imports json
    with open(modules_file, "w") as out:
        out.write("\\n".join(loaded))
"""


@pytest.mark.parametrize("cached", [True, False], ids=["cache-hit", "cache-miss"])
def test_lab_token_imports_nothing_heavy(lab, idp, tmp_path, cached):
    if cached:
        token_for()
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), "token", "--lab", LAB, "--user", USER],
        env=dict(os.environ),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "ExecCredential"
    modules = out.read_text().split("\n")
    assert "provisioner.credential.plugin" in modules  # the probe saw the real path
    loaded = [name for name in modules if name.split(".")[0] in HEAVY]
    assert loaded == []
    assert ("urllib.request" in modules) is not cached  # the HTTP stack only on a miss
    if cached:  # json drags in re, enum and collections: most of a cache hit's cost
        assert "json" not in modules and "re" not in modules


@pytest.mark.parametrize("token", ["eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_", 'odd"token\\with\u00e9'])
def test_the_rendered_credential_is_the_json_kubectl_reads(token):
    from provisioner.credential.plugin import render_exec_credential

    credential = exec_credential(Tokens(token, 1_800_000_000), None)
    assert json.loads(render_exec_credential(credential)) == credential


def test_an_unwritable_token_cache_is_one_sentence_not_a_traceback(lab, idp):
    if os.geteuid() == 0:
        # root writes through any mode; a file where the folder should be stops it all the same
        shutil.rmtree(lab.tokens, ignore_errors=True)
        lab.tokens.write_text("not a folder")
    else:
        lab.tokens.mkdir(parents=True, exist_ok=True)
        lab.tokens.chmod(0o500)
    done = subprocess.run([sys.executable, "-m", "provisioner", "token", "--lab", LAB, "--user", USER],
                          env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot use the token cache of lab")
    assert "hint:" in done.stderr and "Traceback" not in done.stderr


def test_a_rate_limited_token_request_is_waited_out_and_retried(monkeypatch):
    from provisioner.credential import client as client_module

    answers = [(429, b'{"error": "too_many_requests"}', 0.25), (429, b'{"error": "too_many_requests"}', 0.5),
               (200, json.dumps({"id_token": "x.y.z", "token_type": "Bearer"}).encode(), 0.0)]
    slept = []
    monkeypatch.setattr(client_module.HttpTokenClient, "_send", lambda self, url, request: answers.pop(0))
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    from provisioner.secrets import TokenClient

    client = client_module.HttpTokenClient(TokenClient("https://idp.example/oauth/token", "c", "https://idp.example/"),
                                           "ada", "pw")
    assert client.sign_in()["id_token"] == "x.y.z"
    assert slept == [0.25, 0.5]


def test_the_wait_a_429_asks_for_is_read_from_its_headers():
    import time as clock

    from provisioner.credential.client import MAX_RATE_LIMITED_WAIT, _retry_after

    assert _retry_after({"Retry-After": "3"}) == 3.0
    assert 1.5 < _retry_after({"X-RateLimit-Reset": str(clock.time() + 2)}) <= 2.0
    assert _retry_after({"Retry-After": "3600"}) == MAX_RATE_LIMITED_WAIT
    assert _retry_after({}) == 1.0

"""What a user notices on every platform: where the lab's files are, that they are private, that
two commands never work on one lab at once, that parallel kubectl runs sign in once, and that a
background process starts detached and stops.

Portable: the Linux suite runs these, and `scripts/test-windows` runs them under Windows CPython.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time

import platformdirs
import pytest

from provisioner import platform
from provisioner.credential import labfiles
from provisioner.credential.cache import TokenCache, Tokens
from provisioner.credential.flow import get_token
from provisioner.credential.lock import FileLock
from provisioner.errors import StateError
from provisioner.kubeconfig import Kubeconfig, exec_user
from provisioner.paths import LabPaths, labs_root
from provisioner.secrets import LabSecrets
from provisioner.state import LabLock, LabState

from .conftest import python_child

WINDOWS = sys.platform == "win32"


# --- where the files are ----------------------------------------------------------------------
def test_labs_live_in_the_platforms_per_user_state_folder(own_user):
    expected = platformdirs.user_state_dir("oidc-lab", appauthor=False)
    assert str(labs_root()) == expected
    assert str(labs_root()).startswith(str(own_user))  # inside this user's home or profile
    assert labfiles.lab_root("demo") == str(LabPaths.for_lab("demo").root)  # lab token agrees with lab up


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux default")
def test_the_linux_default_stays_where_it_was(own_user, monkeypatch):
    assert labs_root() == own_user / ".local" / "state" / "oidc-lab"
    monkeypatch.setenv("XDG_STATE_HOME", str(own_user / "state"))
    assert labs_root() == own_user / "state" / "oidc-lab"
    assert labfiles.lab_root("demo") == str(own_user / "state" / "oidc-lab" / "demo")


def test_oidc_lab_home_wins_everywhere(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_LAB_HOME", str(tmp_path / "my labs"))
    assert LabPaths.for_lab("demo").root == tmp_path / "my labs" / "demo"
    assert labfiles.lab_root("demo") == str(tmp_path / "my labs" / "demo")


# --- state, secrets and their privacy ----------------------------------------------------------
def test_state_and_secrets_survive_a_new_process_and_stay_private(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_LAB_HOME", str(tmp_path / "labs with spaces"))
    paths = LabPaths.for_lab("demo")
    state = LabState.load(paths, "demo")
    state.section("issuer")["port"] = 8443
    state.save()
    secrets = LabSecrets.load(paths)
    password = secrets.password("alice")
    secrets.save()

    assert LabState.load(paths, "demo").section("issuer") == {"port": 8443}
    assert LabSecrets.load(paths).password("alice") == password
    if not WINDOWS:  # on Windows the profile folder's ACL protects them (see provisioner/platform.py)
        for path in (paths.state, paths.credentials):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(paths.root.stat().st_mode) == 0o700
    state.remove()
    assert not paths.root.exists()


def test_kubeconfig_merge_keeps_the_users_entries_and_adds_the_labs(tmp_path, monkeypatch):
    config = tmp_path / "kube config"
    config.write_text("apiVersion: v1\nkind: Config\nusers:\n- name: mine\n  user: {token: x}\n")
    monkeypatch.setenv("KUBECONFIG", str(config))
    kubeconfig = Kubeconfig()
    lab_exe = r"C:\Program Files\Python313\Scripts\lab.exe" if WINDOWS else "/usr/local/bin/lab"
    kubeconfig.put_user("demo-alice", exec_user(lab_exe, ["token", "--lab", "demo", "--user", "alice"], {}))
    kubeconfig.save()

    again = Kubeconfig()
    assert again.get("users", "mine")["user"] == {"token": "x"}
    assert again.get("users", "demo-alice")["user"]["exec"]["command"] == lab_exe


# --- the lab lock -----------------------------------------------------------------------------
def test_a_second_command_on_the_same_lab_is_refused_and_told_who_holds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_LAB_HOME", str(tmp_path / "labs"))
    paths = LabPaths.for_lab("demo")
    holder = subprocess.Popen(
        python_child(
            "from provisioner.paths import LabPaths; from provisioner.state import LabLock\n"
            "with LabLock(LabPaths.for_lab('demo'), 'demo'):\n"
            "    print('held', flush=True); sys.stdin.readline()"
        ),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StateError, match=rf"lab 'demo' is busy: another lab command \(pid {holder.pid}\)"):
            with LabLock(paths, "demo"):
                pass
    finally:
        holder.communicate("\n", timeout=60)
    with LabLock(paths, "demo"):  # free again once the holder is done
        pass


def test_the_lab_lock_is_freed_when_its_holder_is_killed(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_LAB_HOME", str(tmp_path / "labs"))
    holder = subprocess.Popen(
        python_child(
            "from provisioner.paths import LabPaths; from provisioner.state import LabLock\n"
            "LabLock(LabPaths.for_lab('demo'), 'demo').__enter__(); print('held', flush=True); sys.stdin.readline()"
        ),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait(timeout=60)
    with LabLock(LabPaths.for_lab("demo"), "demo"):
        pass


# --- the token cache and its lock -------------------------------------------------------------
def test_the_token_lock_lets_one_process_at_a_time_in(tmp_path):
    counter = tmp_path / "counter"
    counter.write_text("0")
    lock_file = str(tmp_path / "tokens" / "alice.lock")
    worker = (
        "from provisioner.credential.lock import FileLock\n"
        "import time\n"
        "for _ in range(5):\n"
        "    with FileLock(sys.argv[1]):\n"
        "        n = int(open(sys.argv[2]).read()); time.sleep(0.02); open(sys.argv[2], 'w').write(str(n + 1))"
    )
    workers = [subprocess.Popen(python_child(worker, lock_file, str(counter))) for _ in range(3)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0]
    assert counter.read_text() == "15"  # no update lost: never two inside at once


def test_a_reader_holding_the_cache_open_does_not_break_its_writer(tmp_path):
    """Windows refuses to rename over an open file; the writer waits the reader out."""
    from provisioner.fsutil import write_private

    cache = tmp_path / "tokens" / "alice.tokens"
    write_private(cache, "old\n")
    reader = open(cache, "rb")
    threading.Timer(0.3, reader.close).start()
    write_private(cache, "new\n")
    assert cache.read_text() == "new\n"
    assert reader.closed or not WINDOWS  # on Windows the rename had to wait for the reader
    reader.close()
    assert [p.name for p in cache.parent.iterdir()] == ["alice.tokens"]  # no temporary file left


class CountingIdp:
    """An IdP client that counts sign-ins and takes a moment to answer, as a real one does."""

    def __init__(self) -> None:
        self.sign_ins = 0
        self.guard = threading.Lock()

    def sign_in(self):
        with self.guard:
            self.sign_ins += 1
        time.sleep(0.3)
        expiry = int(time.time()) + 3600
        return {"id_token": _jwt(expiry), "refresh_token": "r", "expires_in": 3600}

    def refresh(self, refresh_token):
        return self.sign_in()


def _jwt(expiry: int) -> str:
    import base64
    import json

    part = lambda doc: base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part({'alg': 'none'})}.{part({'exp': expiry, 'sub': 'alice'})}.sig"


def test_parallel_callers_with_an_empty_cache_sign_in_once(tmp_path):
    idp = CountingIdp()
    tokens: list[Tokens] = []

    def kubectl_run() -> None:
        tokens.append(get_token(TokenCache(str(tmp_path / "tokens"), "alice"), lambda: idp, "alice"))

    runs = [threading.Thread(target=kubectl_run) for _ in range(4)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert idp.sign_ins == 1
    assert len(tokens) == 4 and all(t == tokens[0] for t in tokens)
    assert TokenCache(str(tmp_path / "tokens"), "alice").load() == tokens[0]


# --- background processes ----------------------------------------------------------------------
def test_a_detached_process_runs_on_and_stops(tmp_path):
    log = tmp_path / "service.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = platform.spawn_detached(
            [sys.executable, "-c", "import time; print('serving', flush=True); time.sleep(120)"], log_fd=fd,
        )
    finally:
        os.close(fd)
    try:
        deadline = time.monotonic() + 60
        while "serving" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "serving" in log.read_text()
        assert platform.alive(child.pid)
        assert platform.stop(child.pid, grace=5)
        child.wait(timeout=30)
        assert not platform.alive(child.pid)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_finished_process_is_not_alive(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    assert not platform.alive(child.pid)
    assert platform.stop(child.pid, grace=1)  # stopping what is gone is not an error


# --- lab.exe, as kubectl starts it on Windows ----------------------------------------------------
@pytest.mark.skipif(not os.environ.get("OIDC_LAB_WINDOWS_LAB"), reason="the Windows lane's lab.exe (scripts/test-windows)")
def test_lab_exe_answers_kubectl_from_the_cache(tmp_path):
    home = tmp_path / "labs in a folder with spaces"
    root = home / "demo"
    (root / "tokens").mkdir(parents=True)
    (root / "credentials.json").write_text("{}")
    time.sleep(0.05)  # the cache must be younger than the credentials
    expiry = int(time.time()) + 3600
    TokenCache(str(root / "tokens"), "alice").save(Tokens(_jwt(expiry), expiry, "r"))
    answer = subprocess.run(
        [os.environ["OIDC_LAB_WINDOWS_LAB"], "token", "--lab", "demo", "--user", "alice"],
        env=dict(os.environ, OIDC_LAB_HOME=str(home)), capture_output=True, text=True, timeout=120,
    )
    assert answer.returncode == 0, answer.stderr
    assert f'"token": "{_jwt(expiry)}"' in answer.stdout
    assert '"kind": "ExecCredential"' in answer.stdout

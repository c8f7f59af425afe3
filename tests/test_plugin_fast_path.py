"""scripts/lab-plugin: kubectl's cache hit answered by the shell, everything else by `lab` itself.

The script sits beside a stand-in `lab` that only says it was asked, so each test sees which of the
two answered: the shell must answer exactly as `lab token` would (byte for byte), and hand every
case it cannot vouch for (expired, damaged, older than the lab's credentials, an odd
KUBERNETES_EXEC_INFO, options it does not know) to `lab` with the arguments untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from provisioner.credential.cache import TokenCache, Tokens
from provisioner.credential.plugin import exec_credential, render_exec_credential

pytestmark = pytest.mark.skipif(os.name != "posix" or not shutil.which("sh"), reason="a POSIX shell script")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "lab-plugin"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl-_"
V1 = '{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}'
V1BETA1 = V1.replace("/v1", "/v1beta1")


@pytest.fixture
def plugin(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy(SCRIPT, bin_dir / "lab-plugin")
    (bin_dir / "lab").write_text('#!/bin/sh\nprintf "lab %s\\n" "$*"\n')
    (bin_dir / "lab").chmod(0o755)
    labs = tmp_path / "labs"
    (labs / "demo").mkdir(parents=True)
    credentials = labs / "demo" / "credentials.json"
    credentials.write_text("{}")
    os.utime(credentials, ns=(time.time_ns() - 10**9,) * 2)  # a second before any cache below
    return bin_dir / "lab-plugin", labs


def cache(labs: Path, tokens: Tokens) -> TokenCache:
    store = TokenCache(str(labs / "demo" / "tokens"), "ada")
    store.save(tokens)
    return store


def run(script: Path, labs: Path, *args: str, exec_info: str | None = V1) -> str:
    env = {"PATH": os.environ["PATH"], "OIDC_LAB_HOME": str(labs)}
    if exec_info is not None:
        env["KUBERNETES_EXEC_INFO"] = exec_info
    done = subprocess.run([str(script), *args], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout


ARGS = ("token", "--lab", "demo", "--user", "ada")


@pytest.mark.parametrize("exec_info", [V1, V1BETA1, None], ids=["v1", "v1beta1", "unset"])
def test_a_valid_cached_token_is_answered_as_lab_token_would(plugin, exec_info):
    script, labs = plugin
    tokens = Tokens(TOKEN, int(time.time()) + 3600, "refresh")
    cache(labs, tokens)
    expected = render_exec_credential(exec_credential(tokens, exec_info)) + "\n"
    assert run(script, labs, *ARGS, exec_info=exec_info) == expected


def test_raw_and_equals_forms_answer_the_bare_token(plugin):
    script, labs = plugin
    cache(labs, Tokens(TOKEN, int(time.time()) + 3600))
    assert run(script, labs, "token", "--lab=demo", "--user=ada", "--raw") == TOKEN + "\n"


@pytest.mark.parametrize("lifetime", [60, 30, -5], ids=["at-the-margin", "inside-the-margin", "expired"])
def test_a_token_near_its_expiry_goes_to_lab(plugin, lifetime):
    script, labs = plugin
    cache(labs, Tokens(TOKEN, int(time.time()) + lifetime))
    assert run(script, labs, *ARGS) == "lab " + " ".join(ARGS) + "\n"


def test_a_cache_older_than_the_labs_credentials_goes_to_lab(plugin):
    script, labs = plugin
    store = cache(labs, Tokens(TOKEN, int(time.time()) + 3600))
    (labs / "demo" / "credentials.json").write_text('{"changed": true}')  # lab up changed the lab
    os.utime(store.file, ns=(time.time_ns() - 5 * 10**9,) * 2)
    assert run(script, labs, *ARGS).startswith("lab token")


@pytest.mark.parametrize("text", [
    "",
    "v1 12x\nTOKEN\n\n2030-01-01T00:00:00Z\n",
    "v2 {exp}\nTOKEN\n\n2030-01-01T00:00:00Z\n",
    "v1 {exp}\n\n\n2030-01-01T00:00:00Z\n",
    'v1 {exp}\nodd"token\n\n2030-01-01T00:00:00Z\n',
    "v1 {exp}\nTOKEN\nrefresh\n",  # written before the RFC 3339 line existed
    "v1 {exp}\nTOKEN\nrefresh\nnot a date\n",
], ids=["empty", "bad-expiry", "other-version", "no-token", "unsafe-token", "three-lines", "bad-date"])
def test_a_damaged_or_older_cache_goes_to_lab(plugin, text):
    script, labs = plugin
    folder = labs / "demo" / "tokens"
    folder.mkdir(parents=True)
    (folder / "ada.tokens").write_text(text.replace("{exp}", str(int(time.time()) + 3600)).replace("TOKEN", TOKEN))
    assert run(script, labs, *ARGS).startswith("lab token")


def test_a_missing_cache_goes_to_lab(plugin):
    script, labs = plugin
    assert run(script, labs, *ARGS) == "lab " + " ".join(ARGS) + "\n"


@pytest.mark.parametrize("args", [
    ("token", "--lab", "demo", "--user", "ada", "--refresh"),
    ("token", "--help"),
    ("token", "--lab", "demo"),
    ("token", "--lab", "../demo", "--user", "ada"),
    ("token", "--lab", "demo", "--user", "ada", "--bogus"),
    ("status",),
    ("--help",),
], ids=["refresh", "help", "no-user", "path-in-name", "unknown-option", "other-command", "lab-help"])
def test_anything_but_a_plain_cache_hit_goes_to_lab_unchanged(plugin, args):
    script, labs = plugin
    cache(labs, Tokens(TOKEN, int(time.time()) + 3600))
    assert run(script, labs, *args) == "lab " + " ".join(args) + "\n"


def test_an_unknown_exec_info_goes_to_lab(plugin):
    script, labs = plugin
    cache(labs, Tokens(TOKEN, int(time.time()) + 3600))
    assert run(script, labs, *ARGS, exec_info='{"apiVersion": "client.authentication.k8s.io/v2"}').startswith("lab ")


def test_without_a_named_lab_folder_it_goes_to_lab(plugin):
    script, labs = plugin
    cache(labs, Tokens(TOKEN, int(time.time()) + 3600))
    done = subprocess.run([str(script), *ARGS], env={"PATH": os.environ["PATH"], "HOME": str(labs)},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.startswith("lab token")

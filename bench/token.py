"""How much slower than a bare interpreter is `lab token` when its cached token is still valid?

kubectl starts the credential plugin for every command, so this is the cost every kubectl call
pays. The bench makes a regular (non-editable) install of this checkout, as users have, and runs
the plugin command that install's `lab up` writes into the kubeconfig exactly as kubectl does (a
fresh process, KUBERNETES_EXEC_INFO set), alternating with `python -c pass` from the same
interpreter, and prints the ratio of the medians. Target: `ratio: 2.0` or less.

    .venv/bin/python bench/token.py [--runs 30]
"""

from __future__ import annotations

import os
import sys

# This file shares its name with the standard `token` module, which `inspect` (and so
# dataclasses) imports: keep its own folder off the import path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.append(os.path.dirname(_HERE))  # the checkout, for prepare_lab
sys.path.append(_HERE)  # regular_install, imported by name only
from regular_install import regular_install  # noqa: E402

LAB, USER = "bench", "alice"
EXEC_INFO = json.dumps(
    {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": False}}
)


def plugin_command(bin_dir: Path, cwd: str) -> list[str]:
    """What the install's kubeconfig step tells kubectl to start for `lab token`."""
    code = "import json; from provisioner.steps.kubeconfig import plugin_command as p; print(json.dumps(p()))"
    done = subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True, cwd=cwd)
    if done.returncode != 0:
        sys.exit(f"error: cannot ask the regular install for its plugin command:\n{done.stderr}")
    command, prefix = json.loads(done.stdout)
    return [command, *prefix]


def well_formed_jwt(lifetime: int) -> str:
    """An RS256-shaped JWT: the plugin reads `exp` and never checks the signature."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": "bench"}
    claims = {"iss": "https://127.0.0.1:9/", "sub": USER, "aud": "bench-client", "iat": now, "exp": now + lifetime}
    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(os.urandom(256))])


def prepare_lab(home: Path) -> str:
    """credentials.json, then a cache file written after it holding a token valid for an hour."""
    os.environ["OIDC_LAB_HOME"] = str(home)  # read by LabPaths and the cache below
    from provisioner.credential.cache import Tokens
    from provisioner.credential.plugin import lab_cache
    from provisioner.paths import LabPaths
    from provisioner.secrets import LabSecrets, TokenClient

    secrets = LabSecrets(LabPaths.for_lab(LAB))
    # port 9 (discard) refuses connections: a cache miss would fail the bench instead of hiding in it
    secrets.set_client(TokenClient(token_endpoint="https://127.0.0.1:9/token", client_id="bench-client", issuer="https://127.0.0.1:9/"))
    secrets.set_login(USER, "alice@example.org")
    secrets.password(USER, "not-used-by-a-cache-hit")
    id_token = well_formed_jwt(3600)
    lab_cache(LAB, USER, str(secrets.paths.root)).save(Tokens(id_token, int(time.time()) + 3600))
    return id_token


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stderr.decode()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each command (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs of each command first")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oidc-lab-bench-") as tmp:
        bin_dir = regular_install(Path(tmp) / "install")
        labs = os.path.join(tmp, "labs")
        id_token = prepare_lab(Path(labs))
        env = {**os.environ, "OIDC_LAB_HOME": labs, "KUBERNETES_EXEC_INFO": EXEC_INFO}
        lab = plugin_command(bin_dir, tmp)
        token_command = [*lab, "token", "--lab", LAB, "--user", USER]
        python = str(bin_dir / "python")
        bare_command = [python, "-c", "pass"]
        # For context: what a plugin that read its cache and wrote its answer with `json` would pay
        # for that import alone (json brings re). The ratio compares against the bare interpreter.
        floor_command = [python, "-c", "import re, json"]

        answer = subprocess.run(token_command, env=env, capture_output=True, text=True)
        if answer.returncode != 0 or json.loads(answer.stdout)["status"]["token"] != id_token:
            sys.exit(f"error: `lab token` did not answer from its cache:\n{answer.stderr}")
        # The warm-up may write bytecode, as the first run after any install does; where
        # PYTHONDONTWRITEBYTECODE is set, an editable install would otherwise recompile the
        # package on every kubectl call, which no regular install (pip compiles) ever does.
        warm_env = {name: value for name, value in env.items() if name != "PYTHONDONTWRITEBYTECODE"}
        for _ in range(options.warmup):
            timed(token_command, warm_env)
            timed(bare_command, warm_env)
        token_times, bare_times, floor_times = [], [], []
        for _ in range(options.runs):
            token_times.append(timed(token_command, env))
            bare_times.append(timed(bare_command, env))
            floor_times.append(timed(floor_command, env))

    token_ms = statistics.median(token_times) * 1000
    bare_ms = statistics.median(bare_times) * 1000
    floor_ms = statistics.median(floor_times) * 1000
    print(f"lab token (cached):       median {token_ms:.1f} ms over {options.runs} runs  ({' '.join(lab)})")
    print(f"python -c pass:           median {bare_ms:.1f} ms  ({python}, a regular install)")
    print(f"python -c 'import re, json': median {floor_ms:.1f} ms  (ratio {floor_ms / bare_ms:.2f}, for context)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("note: PYTHONDONTWRITEBYTECODE is set; the warm-up wrote the package's bytecode all the same")
    print(f"ratio: {token_ms / bare_ms:.2f}")


if __name__ == "__main__":
    main()

"""What the credential plugin costs a kubectl call, against a static token and against kubelogin.

In a sandboxed HOME with the fake minikube, a regular (non-editable) install of this checkout runs
`lab up` for one user, so the kubeconfig's exec entry is exactly what a user's would be. Then, side
by side in one run (alternating, medians over --runs):

- `kubectl get --raw /version` on the lab's context (kubectl starts the plugin, which answers from
  its cache) and the same call with the same id_token given as a static token in a kubeconfig user
  without a client certificate: `ratio: <plugin / static>` (goal <= 1.05);
- the plugin alone, started as kubectl starts it (its exec command, args and env, with
  KUBERNETES_EXEC_INFO), and `python -c pass` from the same install: `hit_ratio: <plugin cache hit /
  python -c pass>` (goal <= 0.45; kubelogin's cache hit measured 0.49 on this machine).

    .venv/bin/python bench/kubectl.py [--runs 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where token.py would shadow the standard
# library's `token`: look in the project root instead (and keep bench/ for regular_install).
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)
sys.path.append(str(ROOT / "bench"))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402
from regular_install import regular_install  # noqa: E402

from tests.fakes.sandbox import LabEnv  # noqa: E402

EXEC_INFO = {"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1", "spec": {"interactive": False}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stderr.decode()}")
    return elapsed


def static_kubeconfig(kubeconfig: dict, context_name: str, token: str, path: Path) -> None:
    """The lab context's cluster with a user that only carries `token` (no client certificate)."""
    context = next(c["context"] for c in kubeconfig["contexts"] if c["name"] == context_name)
    cluster = next(c for c in kubeconfig["clusters"] if c["name"] == context["cluster"])
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "static", "clusters": [cluster],
        "users": [{"name": "static", "user": {"token": token}}],
        "contexts": [{"name": "static", "context": {"cluster": cluster["name"], "user": "static"}}],
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs of each command (default 30)")
    options = parser.parse_args()
    patch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="oidc-lab-kubectl-") as tmp:
        root = Path(tmp)
        env = LabEnv.create(root / "sandbox", patch)
        bin_dir = regular_install(root / "install")
        work = root / "work"
        work.mkdir()
        (work / "lab.yaml").write_text(f"name: bench\nlocal:\n  port: {free_port()}\nusers:\n  - email: ada@example.com\n")
        try:
            started = env.minikube("start", "-p", "minikube")
            if started.returncode != 0:
                sys.exit(f"error: the fake minikube did not start:\n{started.stdout}{started.stderr}")
            up = subprocess.run([str(bin_dir / "lab"), "up"], cwd=work, capture_output=True, text=True, timeout=300)
            if up.returncode != 0:
                sys.exit(f"error: lab up failed:\n{up.stdout}{up.stderr}")
            measure(env, bin_dir, work, options.runs)
        finally:
            subprocess.run([str(bin_dir / "lab"), "down", "-q"], cwd=work, capture_output=True, timeout=300)
            env.close()
            patch.undo()


def measure(env: LabEnv, bin_dir: Path, work: Path, runs: int) -> None:
    kubeconfig = yaml.safe_load(env.kubeconfig.read_text())
    context = next(c["name"] for c in kubeconfig["contexts"] if c["name"].startswith("bench"))
    user = next(c["context"]["user"] for c in kubeconfig["contexts"] if c["name"] == context)
    exec_spec = next(u["user"]["exec"] for u in kubeconfig["users"] if u["name"] == user)
    plugin = [exec_spec["command"], *exec_spec.get("args", [])]
    plugin_env = {**os.environ, **{e["name"]: e["value"] for e in exec_spec.get("env") or []},
                  "KUBERNETES_EXEC_INFO": json.dumps(EXEC_INFO)}
    answer = subprocess.run(plugin, env=plugin_env, cwd=work, capture_output=True, text=True, check=True)
    token = json.loads(answer.stdout)["status"]["token"]
    static_config = work / "static-kubeconfig"
    static_kubeconfig(kubeconfig, context, token, static_config)

    kubectl = str(env.kubectl_path)
    via_plugin = [kubectl, "--context", context, "get", "--raw", "/version"]
    via_static = [kubectl, "--kubeconfig", str(static_config), "get", "--raw", "/version"]
    bare = [str(bin_dir / "python"), "-c", "pass"]
    lab_help = [str(bin_dir / "lab"), "--help"]
    lab_status = [str(bin_dir / "lab"), "status"]
    base_env = dict(os.environ)
    commands = {"plugin": (via_plugin, base_env), "static": (via_static, base_env), "hit": (plugin, plugin_env),
                "bare": (bare, base_env), "help": (lab_help, base_env), "status": (lab_status, base_env)}
    for _ in range(3):  # warm-up: page cache, bytecode
        for command, run_env in commands.values():
            timed(command, run_env, work)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, (command, run_env) in commands.items():
            times[name].append(timed(command, run_env, work))
    ms = {name: statistics.median(values) * 1000 for name, values in times.items()}
    print(f"kubectl get --raw /version via the plugin: median {ms['plugin']:.1f} ms over {runs} runs")
    print(f"kubectl get --raw /version, static token:  median {ms['static']:.1f} ms")
    print(f"plugin cache hit ({' '.join(plugin[:1])}): median {ms['hit']:.1f} ms")
    print(f"python -c pass ({bare[0]}): median {ms['bare']:.1f} ms")
    print(f"lab --help: median {ms['help']:.1f} ms; lab status: median {ms['status']:.1f} ms")
    for command in (lab_help, lab_status):
        print(f"slowest imports of `lab {command[1]}` (cumulative, ms):")
        for name, micros in slowest_imports(bin_dir, command, work):
            print(f"  {micros / 1000:7.1f}  {name}")
    print(f"ratio: {ms['plugin'] / ms['static']:.2f}  (plugin / static; goal <= 1.05)")
    print(f"hit_ratio: {ms['hit'] / ms['bare']:.2f}  (plugin cache hit / python -c pass; goal <= 0.45)")
    print(f"help_ratio: {ms['help'] / ms['bare']:.2f}  (lab --help / python -c pass; goal <= 3)")
    print(f"status_ratio: {ms['status'] / ms['bare']:.2f}  (lab status on a 1-user lab / python -c pass; goal <= 5)")


def slowest_imports(bin_dir: Path, command: list[str], cwd: Path, top: int = 10) -> list[tuple[str, int]]:
    """The `top` slowest imports of top-level packages (no dot in the name) at any depth, by cumulative
    time (`python -X importtime` of the `lab` script); one nested in another counts in both."""
    done = subprocess.run([str(bin_dir / "python"), "-X", "importtime", *command], cwd=cwd,
                          capture_output=True, text=True)
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if cumulative.isdigit() and "." not in name:
            found.append((name.strip(), int(cumulative)))
    return sorted(found, key=lambda item: -item[1])[:top]


if __name__ == "__main__":
    main()

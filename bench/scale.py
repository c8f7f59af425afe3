"""How `lab up` grows with the size of the room, on the built-in issuer and the fake minikube.

Runs the installed `lab` in a sandboxed HOME (as the end-to-end tests do): a first `lab up` for 1
and for N users (default 500), then a no-op `lab up` for 1 and for M users (default 100), each lab
in its own folder and torn down afterwards. Prints each run's wall time and the time of each step
(as `lab up` reports them), then the two ratios the room needs:

    up_ratio: <N-user up / 1-user up>        (goal <= 3)
    noop_ratio: <M-user no-op / 1-user no-op>  (goal <= 1.5)

    .venv/bin/python bench/scale.py [--users 500] [--noop-users 100] [--repeat 3]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where token.py would shadow the standard
# library's `token`: look in the project root instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from tests.fakes.sandbox import LabEnv  # noqa: E402
from tests.support.labcli import lab_command  # noqa: E402

# `lab up` prints "✓ <step title>...", with "(<seconds>s)" at the end when the step took a second or more
STEP_LINE = re.compile(r"^✓ (?P<step>[\w-]+).*?(?:\((?P<seconds>\d+(?:\.\d+)?)s\))?\s*$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_yaml(name: str, users: int, port: int) -> str:
    lines = [f"name: {name}", "local:", f"  port: {port}", "users:"]
    lines += [f"  - email: learner{i:03d}@example.com" for i in range(users)]
    return "\n".join(lines) + "\n"


def run(work: Path, *args: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run([*lab_command(), *args], cwd=work, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: lab {' '.join(args)} failed in {work}:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout + done.stderr


def step_times(output: str) -> str:
    found = [f"{m['step']}={m['seconds'] + 's' if m['seconds'] else '<1s'}" for line in output.splitlines() if (m := STEP_LINE.match(line))]
    return " ".join(found)


def measure(env: LabEnv, users: int, noop: bool, repeat: int) -> float:
    """The median of `repeat` runs: a first `lab up` (each after a `lab down`), or a no-op one."""
    work = env.root / f"work-{users}-{'noop' if noop else 'up'}"
    work.mkdir()
    (work / "lab.yaml").write_text(lab_yaml(f"room{users}{'n' if noop else 'u'}", users, free_port()))
    walls = []
    try:
        if noop:
            run(work, "up")
        for _ in range(repeat):
            wall, output = run(work, "up")
            walls.append(wall)
            print(f"{'no-op ' if noop else ''}lab up, {users} user(s): {wall:.2f} s  [{step_times(output)}]", flush=True)
            if not noop:
                run(work, "down", "-q")
        return statistics.median(walls)
    finally:
        subprocess.run([*lab_command(), "down", "-q"], cwd=work, capture_output=True, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500, help="the large room for the first lab up")
    parser.add_argument("--noop-users", type=int, default=100, help="the room for the no-op lab up")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the median counts (default 3)")
    options = parser.parse_args()
    patch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="oidc-lab-scale-") as tmp:
        env = LabEnv.create(Path(tmp), patch)
        try:
            started = env.minikube("start", "-p", "minikube")
            if started.returncode != 0:
                sys.exit(f"error: the fake minikube did not start:\n{started.stdout}{started.stderr}")
            up_1 = measure(env, 1, noop=False, repeat=options.repeat)
            up_n = measure(env, options.users, noop=False, repeat=options.repeat)
            noop_1 = measure(env, 1, noop=True, repeat=options.repeat)
            noop_m = measure(env, options.noop_users, noop=True, repeat=options.repeat)
        finally:
            env.close()
            patch.undo()
    print(f"medians of {options.repeat}: up {up_1:.2f} s / {up_n:.2f} s, no-op {noop_1:.2f} s / {noop_m:.2f} s")
    print(f"up_ratio: {up_n / up_1:.2f}  ({options.users} users / 1 user; goal <= 3)")
    print(f"noop_ratio: {noop_m / noop_1:.2f}  ({options.noop_users} users / 1 user; goal <= 1.5)")


if __name__ == "__main__":
    main()

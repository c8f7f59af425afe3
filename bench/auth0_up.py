"""A whole `lab up` with `provider: auth0` for a room (default 200), against what a free tenant allows.

In a sandboxed HOME with the fake minikube, the Auth0 emulator is limited like a free tenant: the
Management API at 2 requests a second (burst 2), the Authentication API's POST /oauth/token at 30
a second (burst 30) within 300 a minute (burst 300). The installed `lab up` runs against it, and
the bench counts the requests the emulator saw, then prints

    users=<n> management=<requests> token=<requests> wall=<s> floor=<s>
    ratio: <wall / floor>   (goal <= 1.3)

`floor` is the least time the limits allow for those requests: each bucket's burst goes at once and
every other request waits for its refill, the Management API's requests then the token requests'
(a sign-in needs the users made first). Everything else `lab up` does (the cluster, RBAC, the
kubeconfig) counts in `wall` and not in `floor`.

    .venv/bin/python bench/auth0_up.py [--users 200] [--lab PATH-TO-lab]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where token.py would shadow the standard
# library's `token`: look in the project root instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

from tests.emulators.auth0.server import Auth0Emulator  # noqa: E402
from tests.fakes.sandbox import LabEnv  # noqa: E402
from tests.support.labcli import lab_command  # noqa: E402

MANAGEMENT = ((2.0, 2),)
TOKEN = ((30.0, 30), (300 / 60, 300))


def floor_seconds(requests: int, buckets: tuple[tuple[float, int], ...]) -> float:
    return max((max(0, requests - burst) / rate for rate, burst in buckets), default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--lab", help="the `lab` command to run (default: this environment's)")
    options = parser.parse_args()
    lab = [options.lab] if options.lab else lab_command()
    patch = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory(prefix="oidc-lab-auth0-up-") as tmp:
        root = Path(tmp)
        env = LabEnv.create(root / "sandbox", patch)
        emulator = Auth0Emulator(rate=MANAGEMENT[0][0], burst=MANAGEMENT[0][1], authentication_limits=True)
        emulator.start()
        work = root / "work"
        work.mkdir()
        try:
            bundle = emulator.write_ca_bundle(root / "ca.pem")
            for name, value in dict(AUTH0_DOMAIN=emulator.domain, AUTH0_CLIENT_ID=emulator.m2m_client_id,
                                    AUTH0_CLIENT_SECRET=emulator.m2m_client_secret, SSL_CERT_FILE=str(bundle),
                                    REQUESTS_CA_BUNDLE=str(bundle), FAKE_NODE_HOSTS="127.0.0.1=127.0.0.1").items():
                patch.setenv(name, value)
            started = env.minikube("start", "-p", "minikube")
            if started.returncode != 0:
                sys.exit(f"error: the fake minikube did not start:\n{started.stdout}{started.stderr}")
            users = "\n".join(f"  - email: learner{i:03d}@example.com" for i in range(options.users))
            (work / "lab.yaml").write_text(f"name: room\nprovider: auth0\nusers:\n{users}\n")
            time.sleep(1.0)  # a tenant at rest: every bucket full
            emulator.reset_observations()
            start = time.perf_counter()
            done = subprocess.run([*lab, "up"], cwd=work, capture_output=True, text=True, timeout=900)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                sys.exit(f"error: lab up failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            management = sum(1 for r in emulator.requests if r.path.startswith("/api/v2/"))
            token = sum(1 for r in emulator.requests if r.path == "/oauth/token")
            refused = sum(1 for r in emulator.requests if r.status == 429)
            floor = floor_seconds(management, MANAGEMENT) + floor_seconds(token, TOKEN)
            steps = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("✓")]
            print("\n".join(steps))
            print(f"users={options.users} management={management} token={token} refused(429)={refused} "
                  f"wall={wall:.2f} floor={floor:.2f}")
            print(f"ratio: {wall / floor:.2f}  (whole lab up / the free tenant's floor; goal <= 1.3)")
        finally:
            subprocess.run([*lab, "down", "-q"], cwd=work, capture_output=True, timeout=900)
            emulator.stop()
            env.close()
            patch.undo()


if __name__ == "__main__":
    main()

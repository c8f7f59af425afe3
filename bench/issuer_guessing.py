"""How fast can someone guess passwords at the built-in issuer, and does timing reveal logins?

Starts a real issuer for a throwaway lab (full-cost password hashes, 127.0.0.1), then plays an
attacker who honours every "try again in N s" (the fastest guessing the rule allows):

- guesses one known login's password until it is locked out (or `--attempts` guesses);
- checks whether the right password is still accepted afterwards;
- times wrong passwords for a known login against unknown logins (medians).

    .venv/bin/python bench/issuer_guessing.py [--attempts 200] [--samples 5]
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or ".") != _HERE]

import argparse  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import requests  # noqa: E402

LOCKED_AFTER = 60.0  # a wait this long counts as locked out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--samples", type=int, default=5, help="timed logins of each kind (at most 5)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="oidc-lab-guess-") as home:
        os.environ["OIDC_LAB_HOME"] = home
        from provisioner.config import parse_config
        from provisioner.paths import LabPaths
        from provisioner.progress import Reporter
        from provisioner.providers.local.issuer.process import IssuerProcess
        from provisioner.providers.local.provider import LocalProvider
        from provisioner.secrets import LabSecrets
        from provisioner.state import LabState

        lab = parse_config({"name": "guess", "local": {"port": free_port(), "listen": "127.0.0.1"},
                            "users": [{"email": "alice@example.com"},
                                      *({"email": f"user{i}@example.com"} for i in range(options.samples))]})
        paths = LabPaths.for_lab(lab.name)
        state, secrets = LabState.load(paths, lab.name), LabSecrets.load(paths)
        provider = LocalProvider(lab, paths, Reporter(quiet=True))
        provider.ensure(state, secrets)
        client = provider.token_client(state, secrets)
        try:
            run(options, client, secrets)
        finally:
            IssuerProcess(paths.issuer).stop()


def grant(client, login: str, password: str) -> tuple[int, str, float]:
    form = {"grant_type": "password", "username": login, "password": password, "client_id": client.client_id,
            "client_secret": client.client_secret, "scope": client.scope}
    start = time.perf_counter()
    answer = requests.post(client.token_endpoint, data=form, verify=client.ca_file, timeout=30)
    elapsed = time.perf_counter() - start
    return answer.status_code, answer.json().get("error_description", ""), elapsed


def run(options, client, secrets) -> None:
    # timing first, while no count holds anyone back: one wrong password per known user, interleaved
    # with unknown logins (at most 20 failures in all: the address's free ones)
    grant(client, "user0@example.com", secrets.password("user0"))  # the issuer has read its files
    known, unknown = [], []
    for i in range(options.samples):
        known.append(grant(client, f"user{i}@example.com", "wrong")[2])
        unknown.append(grant(client, f"nobody{i}@example.com", "wrong")[2])
    print(f"known user, wrong password: median {statistics.median(known) * 1000:.0f} ms")
    print(f"unknown user:               median {statistics.median(unknown) * 1000:.0f} ms")

    checked, held_back, start = 0, 0, time.perf_counter()
    for attempt in range(options.attempts):
        status, said, _ = grant(client, "alice@example.com", f"guess-{attempt}")
        wait = re.search(r"try again in (\d+) s", said)
        if wait is None:
            checked += 1
            continue
        held_back += 1
        if float(wait.group(1)) >= LOCKED_AFTER:
            print(f"locked out after {checked} checked guesses: {said}")
            break
        time.sleep(float(wait.group(1)))
    elapsed = time.perf_counter() - start
    print(f"{checked} wrong passwords checked in {elapsed:.1f} s: {checked / elapsed:.2f} per second "
          f"({held_back} attempts held back)")
    status, said, _ = grant(client, "alice@example.com", secrets.password("alice"))
    print(f"the right password afterwards: HTTP {status} {said or 'accepted'}")


if __name__ == "__main__":
    main()

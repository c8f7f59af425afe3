"""How close `lab up` with `provider: auth0` comes to what a free tenant's rate limit allows.

For labs of 1, 50 and 200 users it runs the Auth0 provider's preflight and ensure against the Auth0
emulator limited like a free tenant (2 Management API requests per second, burst 2), counts the
Management API requests the emulator saw, and prints one line per size:

    users=200 requests=<n> wall=<s> floor=<s> ratio=<wall/floor>

`floor` is the least time the rate limit allows for those requests: the burst goes at once, every
other request waits for its token, so (requests - burst) / rate. `wall` includes fetching the
management token and hashing passwords. Each lab is torn down afterwards (not timed).

    .venv/bin/python bench/auth0_provision.py [--sizes 1,50,200] [--rate 2] [--burst 2]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, Python puts bench/ first on the path, where other benchmarks' modules (e.g.
# token.py) would shadow the standard library: look in the project root instead.
ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

import argparse  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from provisioner.config import parse_config  # noqa: E402
from provisioner.paths import LabPaths  # noqa: E402
from tests.support.quiet import SilentReporter  # noqa: E402
from provisioner.providers.auth0 import Auth0Provider  # noqa: E402
from provisioner.secrets import LabSecrets  # noqa: E402
from provisioner.state import LabState  # noqa: E402
from tests.emulators.auth0.server import Auth0Emulator  # noqa: E402


def provision(size: int, rate: float, burst: int, workdir: Path) -> tuple[int, float]:
    """(Management API requests, wall seconds) of one `lab up` provider step for `size` users."""
    with Auth0Emulator(rate=rate, burst=burst) as emulator:
        bundle = emulator.write_ca_bundle(workdir / f"ca-{size}.pem")
        os.environ.update(
            AUTH0_DOMAIN=emulator.domain,
            AUTH0_CLIENT_ID=emulator.m2m_client_id,
            AUTH0_CLIENT_SECRET=emulator.m2m_client_secret,
            SSL_CERT_FILE=str(bundle),
            REQUESTS_CA_BUNDLE=str(bundle),
            OIDC_LAB_HOME=str(workdir / f"labs-{size}"),
        )
        lab = parse_config({
            "name": f"bench{size}",
            "provider": "auth0",
            "users": [{"email": f"learner{i:03d}@example.com"} for i in range(size)],
        })
        paths = LabPaths.for_lab(lab.name)
        state, secrets = LabState.load(paths, lab.name), LabSecrets.load(paths)
        time.sleep(burst / rate)  # start with a full bucket, as a tenant at rest has
        emulator.reset_observations()
        provider = Auth0Provider(lab, paths, SilentReporter())
        started = time.perf_counter()
        provider.preflight()
        provider.ensure(state, secrets)
        wall = time.perf_counter() - started
        requests = sum(1 for r in emulator.requests if r.path.startswith("/api/v2/"))
        provider.teardown(state, secrets)
        provider.close()
        return requests, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,50,200")
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="auth0-bench-") as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            requests, wall = provision(size, args.rate, args.burst, Path(folder))
            floor = max(requests - args.burst, 0) / args.rate
            ratio = wall / floor if floor else float("inf")
            print(f"users={size} requests={requests} wall={wall:.2f} floor={floor:.2f} ratio={ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()

"""The `lab` console script: `lab token` on a light path, everything else through the full CLI.

kubectl runs `lab token` for every command, and a bare interpreter starts in about 15 ms, while
the CLI's rich and pydantic (let alone the IdP SDKs) cost several times that. So the token
subcommand is dispatched here, before any of them is imported.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "token":
        from .credential.plugin import run

        # SystemExit rather than a return value: `python -m provisioner` ignores what main returns
        raise SystemExit(run(sys.argv[2:]))
    from .cli import main as cli_main

    cli_main()

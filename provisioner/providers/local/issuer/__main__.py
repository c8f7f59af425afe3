"""`python -m provisioner.providers.local.issuer serve --dir <lab>/issuer`: the issuer process `lab up` starts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m provisioner.providers.local.issuer", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the issuer whose files are in --dir")
    serve_cmd.add_argument("--dir", required=True, type=Path, help="the lab's issuer folder")
    args = parser.parse_args(argv)

    folder = args.dir.resolve()
    if not (folder / "issuer.json").exists():
        print(f"error: {folder} has no issuer.json; `lab up` writes it", file=sys.stderr)
        return 2
    from .server import serve

    serve(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `lab` console script: `lab token` on a light path, everything else through the full CLI.

kubectl runs `lab token` for every command, and a bare interpreter starts in about 15 ms, while
the CLI's rich and pydantic (let alone the IdP SDKs) cost several times that. So the token
subcommand is dispatched here, before any of them is imported.
"""

from __future__ import annotations

import sys

# What oidc-lab prints beyond ASCII, and what it becomes where the output's encoding lacks it
# (Windows' cp1252 when piped or redirected; a POSIX "C" locale): a check still reads as a check.
ASCII_FALLBACK = {"✓": "+", "✗": "x", "…": "...", "→": "->", "—": "-", "–": "-", "‘": "'", "’": "'",
                  "“": '"', "”": '"'}


def _ascii_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(ASCII_FALLBACK.get(char, "?") for char in text), error.end


def encoding_safe_output() -> None:
    """Make stdout and stderr print what their encoding can, instead of failing with UnicodeEncodeError."""
    import codecs

    codecs.register_error("oidc-lab-ascii", _ascii_fallback)
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        try:
            "".join(ASCII_FALLBACK).encode(getattr(stream, "encoding", None) or "ascii")
        except (UnicodeEncodeError, LookupError):
            if reconfigure is not None:
                reconfigure(errors="oidc-lab-ascii")


def main() -> None:
    encoding_safe_output()
    if len(sys.argv) > 1 and sys.argv[1] == "token":
        from .credential.plugin import run

        # SystemExit rather than a return value: `python -m provisioner` ignores what main returns
        raise SystemExit(run(sys.argv[2:]))
    from .cli import main as cli_main

    cli_main()

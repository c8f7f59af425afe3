"""Get a token for kubectl: the `lab token` credential plugin.

kubectl starts the plugin for every command, so this package is split along what each call
needs: a cache hit touches only `plugin`, `flow`, `cache` and `labfiles` (standard library, and
not even pathlib, typing or dataclasses); the id_token reader, the HTTP client and the lab's
secrets are imported only when a token must be fetched. Nothing here imports the provisioning
side. `main` and `fetch_token` are the two doors in, for entry.py/cli.py and the orchestrator.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..paths import LabPaths


def main(argv: list[str]) -> int:
    """`lab token ARGV`: print an ExecCredential, or `error:` and `hint:` lines; the exit code."""
    from .plugin import run

    return run(argv)


def fetch_token(lab: str, user: str, paths: LabPaths | None = None, refresh: bool = False,
                password_grant: bool = False) -> str:
    """The id_token kubectl would send for `user` now (cached or fetched); raises CredentialError.

    `password_grant`: by the password grant whatever the user's flow, for checks no person watches.
    """
    from .plugin import tokens_for

    return tokens_for(lab, user, str(paths.root) if paths is not None else None, refresh, password_grant).id_token

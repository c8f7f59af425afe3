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


def token_cache(lab: str, user: str, paths: LabPaths, password_grant: bool = False):
    """The user's token cache as `fetch_token` uses it (for tokens of a sign-in made earlier)."""
    from .plugin import PASSWORD_GRANT_CACHE, lab_cache

    return lab_cache(lab, user, str(paths.root), PASSWORD_GRANT_CACHE if password_grant else None)


def has_usable_token(lab: str, user: str, paths: LabPaths, password_grant: bool = False) -> bool:
    """Whether `fetch_token` would answer from the cache now (no sign-in)."""
    import time

    from .flow import EXPIRY_MARGIN_SECONDS

    cached = token_cache(lab, user, paths, password_grant).load()
    return cached is not None and cached.valid_for_more_than(EXPIRY_MARGIN_SECONDS, time.time())

"""The token cache: one private file per user, so kubectl does not ask the IdP on every command.

kubectl keeps an exec credential only in memory, for one command; without this file every
`kubectl get` would cost a password grant. A file is replaced atomically, so a reader never needs
the lock; the lock only makes parallel kubectl runs that all miss wait for the first one's
refresh instead of each fetching a token of their own.

The file is lines (`v1 <expiry>`, id_token, refresh token, the expiry as RFC 3339) rather than
JSON: OAuth tokens never contain a line break (RFC 6749 appendix A), and importing `json` (with the
`re`, `enum` and `collections` it pulls in) would be most of a cache hit's cost. The fourth line is
the ExecCredential's `expirationTimestamp` ready-made, for the shell fast path (scripts/lab-plugin),
which has no way to format a date without starting another program; files without it still load.
"""

from __future__ import annotations

import os
import time

FORMAT = "v1"

TYPE_CHECKING = False  # the typing module costs kubectl ~8 ms per command; annotations are strings
if TYPE_CHECKING:
    from .lock import FileLock


class Tokens:
    """One user's tokens. The repr leaves the secrets out, so logs and test reports stay clean."""

    __slots__ = ("id_token", "expiry", "refresh_token")

    def __init__(self, id_token: str, expiry: int, refresh_token: str | None = None) -> None:
        self.id_token = id_token
        self.expiry = expiry  # the id_token's exp, Unix seconds
        self.refresh_token = refresh_token

    def valid_for_more_than(self, seconds: float, now: float) -> bool:
        return self.expiry - now > seconds

    @property
    def expiration_timestamp(self) -> str:
        """The expiry as kubectl's ExecCredential states it (RFC 3339, UTC)."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expiry))

    def to_text(self) -> str:
        return f"{FORMAT} {self.expiry}\n{self.id_token}\n{self.refresh_token or ''}\n{self.expiration_timestamp}\n"

    @classmethod
    def from_text(cls, text: str) -> Tokens | None:
        """The tokens in a cache file, or None for a damaged or foreign one (the next save replaces it)."""
        lines = text.split("\n")
        if len(lines) < 3:
            return None
        version, _, expiry = lines[0].partition(" ")
        if version != FORMAT or not expiry.isdigit() or not lines[1]:
            return None
        return cls(lines[1], int(expiry), lines[2] or None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokens) and (self.id_token, self.expiry, self.refresh_token) == (
            other.id_token, other.expiry, other.refresh_token)

    def __repr__(self) -> str:
        return f"Tokens(expiry={self.expiry}, refresh_token={'yes' if self.refresh_token else 'no'})"


class TokenCache:
    """The cache file of one user in `folder` (the lab's tokens folder).

    `not_before_ns` is the mtime of the lab's credentials: a file written before the lab's
    client or users last changed holds tokens for what no longer exists, and is ignored.
    """

    def __init__(self, folder: str, handle: str, not_before_ns: int = 0) -> None:
        self.folder = folder
        self.file = os.path.join(folder, f"{handle}.tokens")
        self.lock_file = os.path.join(folder, f"{handle}.lock")
        self.not_before_ns = not_before_ns

    def load(self) -> Tokens | None:
        """The cached tokens, or None when there are none worth using."""
        try:
            with open(self.file, encoding="utf-8") as handle:
                if os.fstat(handle.fileno()).st_mtime_ns < self.not_before_ns:
                    return None
                text = handle.read()
        except FileNotFoundError:
            return None
        except (UnicodeDecodeError, OSError):  # damaged or unreadable: the next save replaces it
            return None
        return Tokens.from_text(text)

    def save(self, tokens: Tokens) -> None:
        # fsutil brings pathlib and tempfile: worth it here, where a network call follows anyway
        from pathlib import Path

        from ..fsutil import write_private

        write_private(Path(self.file), tokens.to_text())

    def lock(self) -> FileLock:
        """Held while one process fetches tokens; the others wait, then find them cached."""
        from .lock import FileLock  # a cache hit never locks

        return FileLock(self.lock_file)

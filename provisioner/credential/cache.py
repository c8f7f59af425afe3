"""The token cache: one private file per user, so kubectl does not ask the IdP on every command.

kubectl keeps an exec credential only in memory, for one command; without this file every
`kubectl get` would cost a password grant. A file is replaced atomically, so a reader never needs
the lock; the lock only makes parallel kubectl runs that all miss wait for the first one's
refresh instead of each fetching a token of their own.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False  # the typing module costs kubectl ~8 ms per command; annotations are strings
if TYPE_CHECKING:
    from typing import Any

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

    def document(self) -> dict[str, Any]:
        return {"id_token": self.id_token, "expiry": self.expiry, "refresh_token": self.refresh_token}

    @classmethod
    def from_document(cls, document: Any) -> Tokens | None:
        if not isinstance(document, dict):
            return None
        id_token, expiry = document.get("id_token"), document.get("expiry")
        refresh_token = document.get("refresh_token")
        if not isinstance(id_token, str) or not isinstance(expiry, int) or isinstance(expiry, bool):
            return None
        return cls(id_token, expiry, refresh_token if isinstance(refresh_token, str) else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokens) and self.document() == other.document()

    def __repr__(self) -> str:
        return f"Tokens(expiry={self.expiry}, refresh_token={'yes' if self.refresh_token else 'no'})"


class TokenCache:
    """The cache file of one user in `folder` (the lab's tokens folder).

    `not_before_ns` is the mtime of the lab's credentials: a file written before the lab's
    client or users last changed holds tokens for what no longer exists, and is ignored.
    """

    def __init__(self, folder: str, handle: str, not_before_ns: int = 0) -> None:
        self.folder = folder
        self.file = os.path.join(folder, f"{handle}.json")
        self.lock_file = os.path.join(folder, f"{handle}.lock")
        self.not_before_ns = not_before_ns

    def load(self) -> Tokens | None:
        """The cached tokens, or None when there are none worth using."""
        try:
            with open(self.file, "rb") as handle:
                if os.fstat(handle.fileno()).st_mtime_ns < self.not_before_ns:
                    return None
                document = json.load(handle)
        except FileNotFoundError:
            return None
        except ValueError:  # damaged: the next save replaces it
            return None
        return Tokens.from_document(document)

    def save(self, tokens: Tokens) -> None:
        # fsutil brings pathlib and tempfile: worth it here, where a network call follows anyway
        from pathlib import Path

        from ..fsutil import write_json

        write_json(Path(self.file), tokens.document())

    def lock(self) -> FileLock:
        """Held while one process fetches tokens; the others wait, then find them cached."""
        from .lock import FileLock  # a cache hit never locks

        return FileLock(self.lock_file)

"""An exclusive lock on a file, so parallel kubectl runs fetch a token once.

flock(2) locks are released by the kernel when the process exits, so a plugin killed mid-fetch
never leaves the others waiting.
"""

from __future__ import annotations

import fcntl
import os


class FileLock:
    """Blocks in `with` until no other process holds the lock on `path` (created 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

"""An exclusive lock on a file, so parallel kubectl runs fetch a token once.

The operating system releases the lock when the process exits (see `provisioner.platform`), so
a plugin killed mid-fetch never leaves the others waiting.
"""

from __future__ import annotations

import os

from .. import platform


class FileLock:
    """Blocks in `with` until no other process holds the lock on `path` (created 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        platform.lock(self._fd)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._fd is not None:
            platform.unlock(self._fd)
            os.close(self._fd)
            self._fd = None

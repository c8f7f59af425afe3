"""Private files written atomically.

State, credentials, token caches and kubeconfigs hold secrets, so they are only ever written as
0600 files, through a temporary file in the same folder that is fsynced and renamed over the
target: a crash leaves either the old or the new file, never half of one. Standard library only,
because the `lab token` path uses it. What "private" means and how a rename waits out a reader
differ on Windows: `platform` knows both.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from . import platform


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 if missing; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def write_private(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace `path` atomically with `data`, readable by the owner only."""
    if isinstance(data, str):
        data = data.encode()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        platform.make_private(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        platform.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def write_json(path: Path, document: Any) -> None:
    write_private(path, json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        with open(path, "rb") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return default


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

"""What a lab has created, borrowed and changed: the memory that makes `lab down` exact.

One JSON document per lab (`state.json`, 0600, written atomically), saved after every object a
step creates, so a run stopped at any point still knows what to clean up. Each step owns one
section: the providers keep a free-form one (`section()`), the other steps typed records
(`provisioner/records.py`, read with `get()` and written with `put()`). A lock file keeps two
`lab` commands off the same lab at once.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from .errors import StateError
from . import platform
from .fsutil import private_dir, read_json, write_json
from .paths import LabPaths

FORMAT = 1


class Record(Protocol):
    """A typed part of the state; `where` is its place in the JSON document."""

    where: ClassVar[tuple[str, ...]]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Record": ...

    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=Record)


class LabState:
    def __init__(self, paths: LabPaths, lab: str, document: dict[str, Any] | None = None) -> None:
        self.paths = paths
        self.lab = lab
        self.document = document or {"format": FORMAT, "lab": lab, "sections": {}}

    @classmethod
    def load(cls, paths: LabPaths, lab: str) -> "LabState":
        try:
            document = read_json(paths.state)
        except (ValueError, UnicodeDecodeError):
            document = []  # damaged: said below
        except OSError as exc:
            raise unusable_folder(paths, exc) from None
        if document is not None and not (isinstance(document, dict) and isinstance(document.get("sections"), dict)):
            raise StateError(
                f"the state file {paths.state} is damaged",
                "restore it from a backup, or remove the lab's folder once you have cleaned up by hand",
            )
        if document is not None:
            if document.get("format") != FORMAT or document.get("lab") != lab:
                raise StateError(
                    f"{paths.state} does not belong to lab {lab!r} (format {document.get('format')}, lab {document.get('lab')!r})",
                    "point OIDC_LAB_HOME at the right folder or use the lab name the state was made with",
                )
        return cls(paths, lab, document)

    @property
    def exists(self) -> bool:
        return self.paths.state.exists()

    @property
    def empty(self) -> bool:
        return not any(self.document["sections"].values())

    def section(self, name: str) -> dict[str, Any]:
        """The mutable part of the state one step owns. Call `save()` after changing it."""
        return self.document["sections"].setdefault(name, {})

    def drop(self, name: str) -> None:
        self.document["sections"].pop(name, None)

    # typed records -------------------------------------------------------------------------------
    def _parent(self, where: tuple[str, ...]) -> dict[str, Any]:
        parent = self.document
        for key in where[:-1]:
            parent = parent.setdefault(key, {})
        return parent

    def get(self, kind: type[R]) -> R | None:
        """The record of `kind`, or None when the state holds none (or an empty one)."""
        raw = self._parent(kind.where).get(kind.where[-1])
        return kind.from_dict(raw) if raw else None  # type: ignore[return-value]

    def put(self, record: Record) -> None:
        """Keep `record` and save at once: the next step may fail, this one's work must survive."""
        self._parent(record.where)[record.where[-1]] = record.to_dict()
        self.save()

    def forget(self, kind: type[Record]) -> None:
        if self._parent(kind.where).pop(kind.where[-1], None) is not None:
            self.save()

    def save(self) -> None:
        try:
            private_dir(self.paths.root)
            write_json(self.paths.state, self.document)
        except OSError as exc:
            raise unusable_folder(self.paths, exc) from None

    def remove(self) -> None:
        """Forget the lab: its state, secrets, token caches and issuer files.

        The lock file stays while the command holds it (Windows cannot delete an open file);
        `LabLock` removes it and the emptied folder when it is released."""
        if not self.paths.root.exists():
            return
        for entry in self.paths.root.iterdir():
            if entry == self.paths.lock:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        _remove_if_only_lock(self.paths)


def _remove_if_only_lock(paths: LabPaths) -> None:
    """Remove a lab folder that holds nothing but its lock file (a lab that was removed)."""
    try:
        if os.listdir(paths.root) == [paths.lock.name]:
            paths.lock.unlink()
        paths.root.rmdir()
    except OSError:  # something is left, or (Windows) another command has the lock open now
        pass


def unusable_folder(paths: LabPaths, exc: OSError) -> StateError:
    """The lab's folder cannot be made or written: say which path is in the way and why."""
    where = Path(exc.filename) if exc.filename else paths.root
    return StateError(
        f"the lab's state folder {paths.root} cannot be used: {where}: {exc.strerror or exc}",
        "make that path a folder you can write to (remove a file in its way, fix its permissions), "
        "or point OIDC_LAB_HOME at another folder",
    )


class LabLock:
    """An exclusive, non-blocking lock on one lab, released when the process ends."""

    def __init__(self, paths: LabPaths, lab: str) -> None:
        self.paths = paths
        self.lab = lab
        self._fd: int | None = None

    def __enter__(self) -> "LabLock":
        try:
            private_dir(self.paths.root)
            fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise unusable_folder(self.paths, exc) from None
        if not platform.lock(fd, blocking=False):
            os.lseek(fd, platform.LOCK_NOTE_OFFSET, os.SEEK_SET)
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise StateError(
                f"lab {self.lab!r} is busy: another lab command (pid {holder}) is working on it",
                "wait for it to finish, or stop it, then run the command again",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, b"\n" + str(os.getpid()).encode())  # the pid after byte 0, which Windows locks
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            platform.unlock(self._fd)
            os.close(self._fd)
            self._fd = None
            _remove_if_only_lock(self.paths)  # the lab was removed while locked

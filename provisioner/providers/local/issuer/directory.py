"""Where the grants find the lab's client and users: the settings and users files, kept fresh.

`lab up` rewrites `issuer.json` and `users.json` while the issuer runs; the directory notices a
changed file (inode, mtime, size) on the next request and reads it again, so a new user or token
lifetime applies without a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from .files import IssuerFiles, IssuerSettings, UserRecord, read_settings, read_users
from .hashing import decoy_hash

log = logging.getLogger("oidc-lab.issuer")

_UNREAD = ("not read yet",)  # unlike None (a missing file), this never matches a stamp


def _stamp(path: Path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


class Directory:
    """The settings and users files, re-read whenever they change on disk (no restart needed)."""

    def __init__(self, files: IssuerFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._settings_stamp: tuple | None = _UNREAD
        self._users_stamp: tuple | None = _UNREAD
        self._settings: IssuerSettings | None = None
        self._users: list[UserRecord] = []
        self._decoy = ""

    def _refresh(self) -> None:
        with self._lock:
            stamp = _stamp(self.files.settings)
            if stamp != self._settings_stamp:
                settings = read_settings(self.files)
                if settings is None:
                    raise RuntimeError(f"{self.files.settings} is missing")
                self._settings, self._settings_stamp = settings, stamp
                log.info("loaded settings for issuer %s", settings.issuer)
            stamp = _stamp(self.files.users)
            if stamp != self._users_stamp:
                self._users, self._users_stamp = read_users(self.files), stamp
                # An unknown login is checked against this decoy, made with the users' own scrypt
                # cost, so it takes as long to refuse as a known user's wrong password.
                self._decoy = decoy_hash(self._users[0].password_hash if self._users else None)
                log.info("loaded %d users", len(self._users))

    @property
    def settings(self) -> IssuerSettings:
        self._refresh()
        assert self._settings is not None
        return self._settings

    @property
    def decoy_password_hash(self) -> str:
        """A hash no password matches, as slow to check as a real user's."""
        self._refresh()
        return self._decoy

    def user_by_login(self, login: str) -> UserRecord | None:
        self._refresh()
        folded = login.strip().lower()
        for user in self._users:
            if user.username == login or (user.email and user.email.lower() == folded):
                return user
        return None

    def user_by_sub(self, sub: str) -> UserRecord | None:
        self._refresh()
        return next((user for user in self._users if user.sub == sub), None)

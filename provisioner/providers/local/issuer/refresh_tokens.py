"""The refresh tokens the issuer handed out, by SHA-256 digest, kept across restarts.

A restarted issuer (after a reboot, or a `lab up` that changed its keys) must still honour the
refresh tokens in kubectl users' caches, so they live in the issuer folder; only digests are
stored, so a copy of the folder yields no usable token. Each token works once (rotation).

Every refresh grant revokes one token and adds another. Rewriting the whole file for each (twice
per grant, fsynced) made the grant's cost grow with the room and capped it at a dozen a second,
so changes are appended to a journal beside the file, one short line each, and folded into the
file when the issuer starts and whenever the journal outgrows the live tokens. The journal is
not fsynced: a token lost to a power cut only sends that kubectl user back to the password grant.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin

from ....fsutil import read_json, write_json
from .hashing import token_digest


@dataclass(frozen=True)
class RefreshRecord(TokenMixin):
    digest: str
    sub: str
    client_id: str
    scope: str
    expires_at: int

    def check_client(self, client: ClientMixin) -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False


class RefreshTokens:
    """Refresh tokens by SHA-256 digest, persisted so a restarted issuer still honours them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.journal = path.with_name(path.name + ".journal")
        self._lock = threading.Lock()
        try:
            self._records: dict[str, dict[str, Any]] = (read_json(path) or {}).get("tokens", {})
        except ValueError:
            self._records = {}
        self._replay()
        self._compact()

    def _replay(self) -> None:
        """Apply the journal's changes; a torn last line (the issuer died mid-write) is skipped."""
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                change = json.loads(line)
                if "revoke" in change:
                    self._records.pop(change["revoke"], None)
                else:
                    self._records[change.pop("add")] = change
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        self._journal_lines = len(lines)

    def _compact(self) -> None:
        """The live tokens into the file (atomically), then an empty journal."""
        now = time.time()
        self._records = {d: r for d, r in self._records.items() if r["expires_at"] > now}
        write_json(self.path, {"tokens": self._records})
        # A crash here replays the journal on top of the new file: adds and revokes repeat harmlessly.
        with open(os.open(self.journal, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w"):
            pass
        self._journal_lines = 0

    def _append(self, change: dict[str, Any]) -> None:
        descriptor = os.open(self.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with open(descriptor, "w", encoding="utf-8") as journal:
            journal.write(json.dumps(change, separators=(",", ":")) + "\n")
        self._journal_lines += 1
        if self._journal_lines > max(1000, 4 * len(self._records)):
            self._compact()

    def add(self, token: str, sub: str, client_id: str, scope: str, ttl: int) -> None:
        record = {"sub": sub, "client_id": client_id, "scope": scope, "expires_at": int(time.time()) + ttl}
        digest = token_digest(token)
        with self._lock:
            self._records[digest] = record
            self._append({"add": digest, **record})

    def find(self, token: str) -> RefreshRecord | None:
        digest = token_digest(token)
        with self._lock:
            raw = self._records.get(digest)
        if raw is None:
            return None
        record = RefreshRecord(digest=digest, **raw)
        return None if record.is_expired() else record

    def revoke(self, record: RefreshRecord) -> None:
        with self._lock:
            if self._records.pop(record.digest, None) is not None:
                self._append({"revoke": record.digest})

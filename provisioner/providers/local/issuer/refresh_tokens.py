"""The refresh tokens the issuer handed out, by SHA-256 digest, kept across restarts.

A restarted issuer (after a reboot, or a `lab up` that changed its keys) must still honour the
refresh tokens in kubectl users' caches, so they live in the issuer folder; only digests are
stored, so a copy of the folder yields no usable token. Each token works once (rotation).
"""

from __future__ import annotations

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
        self._lock = threading.Lock()
        try:
            self._records: dict[str, dict[str, Any]] = (read_json(path) or {}).get("tokens", {})
        except ValueError:
            self._records = {}

    def _save(self) -> None:
        now = time.time()
        self._records = {d: r for d, r in self._records.items() if r["expires_at"] > now}
        write_json(self.path, {"tokens": self._records})

    def add(self, token: str, sub: str, client_id: str, scope: str, ttl: int) -> None:
        with self._lock:
            self._records[token_digest(token)] = {
                "sub": sub, "client_id": client_id, "scope": scope, "expires_at": int(time.time()) + ttl,
            }
            self._save()

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
                self._save()

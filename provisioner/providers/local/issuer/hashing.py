"""Salted hashes for the secrets the issuer checks: user passwords and the client secret.

The issuer's folder must never hold a plaintext password, so the provider writes hashes and the
server checks presented secrets against them. A password a person chose (lab.yaml) may be
guessable, so it gets scrypt, slow on purpose. A secret the lab generated (the client secret, a
user's generated password) has well over 128 random bits: no guessing can get through that, slow
hash or not, so it gets a salted SHA-256 (`hash_generated`), which a 500-user `lab up` checks in
microseconds instead of the minute scrypt costs. Both schemes verify, so older labs' scrypt hashes
of generated secrets keep working. The server keeps a small in-memory memo of secrets it already
verified so that a token still takes milliseconds. Refresh tokens are random and long, so a plain
SHA-256 digest is enough to store them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading

_SCHEME = "scrypt"
_FAST_SCHEME = "sha256"
_N, _R, _P = 2**14, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=32)


def hash_secret(secret: str) -> str:
    """`scrypt$<n>$<r>$<p>$<salt>$<digest>`: the parameters travel with the hash so they can change."""
    salt = os.urandom(16)
    return f"{_SCHEME}${_N}${_R}${_P}${_b64(salt)}${_b64(_scrypt(secret, salt, _N, _R, _P))}"


def hash_generated(secret: str) -> str:
    """`sha256$<salt>$<digest>`: for a secret the lab generated, never for one a person chose."""
    salt = os.urandom(16)
    return f"{_FAST_SCHEME}${_b64(salt)}${_b64(hashlib.sha256(salt + secret.encode()).digest())}"


def is_fast(encoded: str) -> bool:
    return encoded.startswith(_FAST_SCHEME + "$")


def verify_secret(secret: str, encoded: str) -> bool:
    try:
        if is_fast(encoded):
            _, salt, digest = encoded.split("$")
            computed = hashlib.sha256(_unb64(salt) + secret.encode()).digest()
        else:
            scheme, n, r, p, salt, digest = encoded.split("$")
            if scheme != _SCHEME:
                return False
            computed = _scrypt(secret, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def decoy_hash(like: str | None) -> str:
    """A hash of a random secret with the same scheme and cost as `like` (a real user's hash).

    Checking an unknown login against it takes as long as a known user's wrong password, so the
    answer's timing does not tell which logins exist.
    """
    if like and is_fast(like):
        return hash_generated(os.urandom(16).hex())
    try:
        scheme, n, r, p, _, _ = (like or "").split("$")
        cost = (int(n), int(r), int(p)) if scheme == _SCHEME else (_N, _R, _P)
    except ValueError:
        cost = (_N, _R, _P)
    salt = os.urandom(16)
    return f"{_SCHEME}${cost[0]}${cost[1]}${cost[2]}${_b64(salt)}${_b64(_scrypt(os.urandom(16).hex(), salt, *cost))}"


def token_digest(token: str) -> str:
    """How a refresh token is stored: its SHA-256, so a leaked folder yields no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class VerifiedSecrets:
    """Remembers which secret last matched each stored hash, so only the first check pays for scrypt.

    The memo holds a SHA-256 of the secret, in memory only; a changed hash (new password) is a new
    key, so a stale entry can never let an old password in.
    """

    def __init__(self) -> None:
        self._matched: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def verify(self, secret: str, encoded: str) -> bool:
        fingerprint = hashlib.sha256(secret.encode()).digest()
        with self._lock:
            known = self._matched.get(encoded)
        if known is not None and hmac.compare_digest(known, fingerprint):
            return True
        if not verify_secret(secret, encoded):
            return False
        with self._lock:
            if len(self._matched) > 10_000:
                self._matched.clear()
            self._matched[encoded] = fingerprint
        return True

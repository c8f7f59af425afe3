"""Password guessing: slow down, then lock out, repeated failed sign-ins.

The rule follows Keycloak's brute-force detection (a wait that grows with each failure, then a
temporary lockout) and Auth0's brute-force protection (counted per user and per client address):

- Failed password sign-ins are counted per login name (case-insensitive) and per client address.
- A login's first 5 consecutive failures are answered at once; after the 6th to the 9th it must
  wait 1, 2, 4 and 8 s before the next attempt; the 10th locks it for 15 minutes.
- An address gets 20 failures (over any logins) answered at once, then waits of 1, 2, 4, 8, 8 ... s,
  and the 30th locks it for 15 minutes.
- A locked or waiting login or address gets `invalid_grant` "too many failed sign-ins; try again in
  N s" whatever the password, without the password being checked. Unknown logins are counted and
  locked exactly like real ones, so the answer never tells whether a user exists.
- A success clears its login's count (not its address's); a count without a failure for an hour is
  forgotten. Refresh grants are never held back: they prove a token, not a guess.

Counts live in memory: restarting the issuer clears them.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    """How one kind of key (a login, an address) is held back after consecutive failures."""

    free: int  # failures answered without a wait
    lock_at: int  # the failure that locks the key
    lock_seconds: float
    max_wait: float
    forget_seconds: float = 3600.0

    def wait_after(self, failures: int) -> float:
        """How long the key must wait after its `failures`-th consecutive failure."""
        if failures >= self.lock_at:
            return self.lock_seconds
        if failures <= self.free:
            return 0.0
        return min(2.0 ** (failures - self.free - 1), self.max_wait)


LOGIN_RULE = Backoff(free=5, lock_at=10, lock_seconds=15 * 60, max_wait=8)
ADDRESS_RULE = Backoff(free=20, lock_at=30, lock_seconds=15 * 60, max_wait=8)
MAX_KEYS = 10_000  # bounds the memory an attacker can make the issuer spend on random logins


@dataclass
class _Count:
    failures: int = 0
    last_failure: float = 0.0
    blocked_until: float = 0.0


class _Counter:
    def __init__(self, rule: Backoff, clock: Callable[[], float]) -> None:
        self.rule = rule
        self.clock = clock
        self._counts: dict[str, _Count] = {}

    def wait(self, key: str) -> float:
        count = self._counts.get(key)
        if count is None:
            return 0.0
        now = self.clock()
        if now - count.last_failure >= self.rule.forget_seconds and now >= count.blocked_until:
            del self._counts[key]
            return 0.0
        return max(0.0, count.blocked_until - now)

    def fail(self, key: str) -> None:
        if key not in self._counts and len(self._counts) >= MAX_KEYS:
            self._forget_stale()
        count = self._counts.setdefault(key, _Count())
        now = self.clock()
        count.failures += 1
        count.last_failure = now
        count.blocked_until = max(count.blocked_until, now + self.rule.wait_after(count.failures))

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def _forget_stale(self) -> None:
        now = self.clock()
        self._counts = {k: c for k, c in self._counts.items()
                        if now < c.blocked_until or now - c.last_failure < self.rule.forget_seconds}
        if len(self._counts) >= MAX_KEYS:  # still full: keep the most recent half
            recent = sorted(self._counts.items(), key=lambda item: item[1].last_failure)[MAX_KEYS // 2:]
            self._counts = dict(recent)


class TooManyFailures(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(f"Too many failed sign-ins for this login or from this address; try again in {wait} s.")
        self.wait = wait


class SignInGuard:
    """Admits a password attempt only when neither its login nor its address is held back.

    An admitted attempt counts as a failure of its login until it succeeds, so a burst of parallel
    guesses cannot all slip in before the first of them is judged.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 login_rule: Backoff = LOGIN_RULE, address_rule: Backoff = ADDRESS_RULE) -> None:
        self._lock = threading.Lock()
        self._logins = _Counter(login_rule, clock)
        self._addresses = _Counter(address_rule, clock)

    @staticmethod
    def _login_key(login: str) -> str:
        return login.strip().casefold()

    def admit(self, login: str, address: str) -> None:
        """Raise TooManyFailures while the login or the address must wait; else count the attempt."""
        key = self._login_key(login)
        with self._lock:
            wait = max(self._logins.wait(key), self._addresses.wait(address))
            if wait > 0:
                raise TooManyFailures(math.ceil(wait))
            self._logins.fail(key)

    def failed(self, login: str, address: str) -> None:
        """The admitted attempt was wrong: its login is already counted, now count its address."""
        with self._lock:
            self._addresses.fail(address)

    def succeeded(self, login: str, address: str) -> None:
        with self._lock:
            self._logins.clear(self._login_key(login))

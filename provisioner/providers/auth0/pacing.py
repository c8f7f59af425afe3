"""Auth0's Management API rate limit, read from its answers, so requests wait instead of failing."""

from __future__ import annotations

import threading
from typing import Mapping


class RateBudget:
    """What the last answers said about the Management API's request budget.

    Auth0 sends `X-RateLimit-Limit` (the bucket), `-Remaining` and `-Reset` (unix seconds, when
    the bucket is full again) with every answer. When nothing remains, the next request would be
    refused, so it is held until a token is back: a bucket of `limit` refills in about a second
    (free tenants: 2, at 2 requests/s), or at the latest at the reset. Time is counted from the
    previous answer, which Auth0 sent after spending its token.
    """

    def __init__(self) -> None:
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.limit: int | None = None
        self.answered_at: float = 0.0
        self._lock = threading.Lock()

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        with self._lock:
            self.answered_at = now
            try:
                self.remaining = int(headers["x-ratelimit-remaining"])
                self.reset_at = float(headers["x-ratelimit-reset"])
                self.limit = int(headers.get("x-ratelimit-limit") or 0) or None
            except (KeyError, ValueError):
                pass

    def delay(self, now: float) -> float:
        """Seconds to hold the next request so it does not spend a token the tenant does not have."""
        with self._lock:
            if self.remaining is None or self.remaining > 0 or self.reset_at is None:
                return 0.0
            until_reset = max(0.0, self.reset_at - now)
            interval = 1.0 / self.limit if self.limit else until_reset
            return max(0.0, min(until_reset, self.answered_at + interval - now))

    def spend(self) -> None:
        with self._lock:
            if self.remaining is not None:
                self.remaining -= 1

    def forget(self) -> None:
        """After a 429 the count is unknown until the next answer."""
        with self._lock:
            self.remaining = None


def retry_delay(headers: Mapping[str, str] | None, now: float) -> float:
    """How long a 429 asks us to wait: Retry-After, else until X-RateLimit-Reset, else a second."""
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(0.2, float(headers["x-ratelimit-reset"]) - now)
    except (KeyError, ValueError):
        return 1.0

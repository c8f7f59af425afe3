"""The Management API's rate limit: a token bucket, and the headers Auth0 sends with every answer.

A free tenant allows 2 requests a second with a burst of 2; `None` turns limiting off (the
headers are still sent, showing a full bucket).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


class TokenBucket:
    def __init__(self, rate: float | None = None, burst: int = 2, clock: Callable[[], float] = time.time) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def configure(self, rate: float | None, burst: int | None = None) -> None:
        with self._lock:
            self.rate = rate
            if burst is not None:
                self.burst = burst
            self._tokens = float(self.burst)
            self._stamp = self.clock()

    def take(self) -> tuple[bool, dict[str, str]]:
        """Spend one request; returns whether it is allowed and the X-RateLimit-* headers."""
        with self._lock:
            moment = self.clock()
            if self.rate is None:
                return True, self._headers(self.burst, self.burst, moment)
            self._tokens = min(float(self.burst), self._tokens + (moment - self._stamp) * self.rate)
            self._stamp = moment
            allowed = self._tokens >= 1.0
            if allowed:
                self._tokens -= 1.0
            full_in = (self.burst - self._tokens) / self.rate
            return allowed, self._headers(self.burst, math.floor(self._tokens), moment + full_in)

    @staticmethod
    def _headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, remaining)),
            "X-RateLimit-Reset": str(math.ceil(reset_at)),
        }

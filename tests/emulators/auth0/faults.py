"""Faults a test can inject into the emulator to prove that retries, resumes and teardowns work.

    emulator.inject("POST", r"^/api/v2/clients$", "drop_after_act")
    emulator.inject("*", r"^/api/v2/", Fault.rate_limited(reset_in=2), times=3)

A fault matches a method (or "*") and a regular expression searched in the request's decoded
path; each use consumes one of its `times`. Kinds:
- `429`: Auth0's rate-limit answer with `X-RateLimit-*` headers; nothing is done.
- `500`: an internal error; nothing is done.
- `timeout`: the request is performed (unless `act=False`), then the answer is held for `hold`
  seconds, longer than the client waits.
- `drop_after_act`: the request is performed, then the connection is closed without an answer,
  as when a proxy or the network fails after Auth0 acted.
- `error`: any status and body, for answers the emulator does not produce by itself.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Fault:
    kind: str
    status: int = 0
    body: dict[str, Any] | None = None
    hold: float = 5.0
    act: bool = True
    reset_in: int = 1

    @classmethod
    def rate_limited(cls, reset_in: int = 1) -> "Fault":
        return cls("429", status=429, reset_in=reset_in)

    @classmethod
    def server_error(cls) -> "Fault":
        return cls("500", status=500)

    @classmethod
    def timeout(cls, hold: float = 5.0, act: bool = True) -> "Fault":
        return cls("timeout", hold=hold, act=act)

    @classmethod
    def drop_after_act(cls) -> "Fault":
        return cls("drop_after_act")

    @classmethod
    def error(cls, status: int, body: dict[str, Any]) -> "Fault":
        return cls("error", status=status, body=body)

    @classmethod
    def of(cls, spec: "Fault | str | int") -> "Fault":
        if isinstance(spec, Fault):
            return spec
        named = {"429": cls.rate_limited, "500": cls.server_error, "timeout": cls.timeout,
                 "drop_after_act": cls.drop_after_act}
        try:
            return named[str(spec)]()
        except KeyError:
            raise ValueError(f"unknown fault {spec!r}; use one of {sorted(named)} or a Fault") from None


@dataclass
class _Injection:
    method: str
    path: re.Pattern[str]
    fault: Fault
    times: int
    used: int = field(default=0)


class FaultPlan:
    """The injected faults, consumed in the order they were added."""

    def __init__(self) -> None:
        self._injections: list[_Injection] = []
        self._lock = threading.Lock()

    def add(self, method: str, path_regex: str, fault: Fault | str | int, times: int = 1) -> None:
        with self._lock:
            self._injections.append(_Injection(method.upper(), re.compile(path_regex), Fault.of(fault), times))

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for injection in self._injections:
                if injection.used >= injection.times:
                    continue
                if injection.method not in ("*", method.upper()) or not injection.path.search(path):
                    continue
                injection.used += 1
                return injection.fault
        return None

    def pending(self) -> int:
        """How many injected faults have not fired yet."""
        with self._lock:
            return sum(i.times - i.used for i in self._injections)

    def clear(self) -> None:
        with self._lock:
            self._injections.clear()

"""A Casdoor emulator: HTTPS, the REST endpoints the lab uses, OAuth tokens, fault injection."""

from .server import FAULTS, CasdoorEmulator, Recorded, RequestLog

__all__ = ["FAULTS", "CasdoorEmulator", "Recorded", "RequestLog"]

"""The `casdoor_emulator` pytest fixture: a running Casdoor emulator the environment points at.

Like a lab user's shell, the environment names the server and the admin application
(CASDOOR_ENDPOINT, CASDOOR_CLIENT_ID, CASDOOR_CLIENT_SECRET), and the test CA is added to the
bundles requests and httpx read (REQUESTS_CA_BUNDLE, SSL_CERT_FILE), because the `casdoor` SDK
cannot be given a CA any other way. Use it in a test module with
`from tests.emulators.casdoor.fixtures import casdoor_emulator  # noqa: F401`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from .server import CasdoorEmulator


def trust_bundle(folder: Path, extra_ca_pem: bytes) -> Path:
    """The system's CA bundle plus `extra_ca_pem`, so public hosts and the emulator are both trusted."""
    system = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    base = Path(system).read_bytes() if system and Path(system).is_file() else b""
    bundle = folder / "ca-bundle.crt"
    bundle.write_bytes(base.rstrip(b"\n") + b"\n" + extra_ca_pem)
    return bundle


@pytest.fixture
def casdoor_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CasdoorEmulator]:
    emulator = CasdoorEmulator().start()
    try:
        bundle = trust_bundle(tmp_path, emulator.ca.cert_pem)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("CASDOOR_ENDPOINT", emulator.endpoint)
        monkeypatch.setenv("CASDOOR_CLIENT_ID", emulator.admin_client_id)
        monkeypatch.setenv("CASDOOR_CLIENT_SECRET", emulator.admin_client_secret)
        yield emulator
    finally:
        emulator.stop()

"""pytest fixtures for the Auth0 emulator (registered by the test suite through `pytest_plugins`).

`auth0_emulator` is a started emulator for one test. It points the environment at it the way
a user's shell would (`AUTH0_DOMAIN`, `AUTH0_CLIENT_ID`, `AUTH0_CLIENT_SECRET`) and makes both
HTTP stacks trust its test CA: httpx (the Management SDK's token fetch builds a bare
`httpx.Client()`) reads `SSL_CERT_FILE`, requests (the Authentication API classes) reads
`REQUESTS_CA_BUNDLE`. The bundle holds only the test CA, so nothing can reach a real server.

Options come from the `auth0` marker, e.g. `@pytest.mark.auth0(rate=2, burst=2, search_lag=1)`;
any keyword of `Auth0Emulator` is accepted.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .server import Auth0Emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "auth0(**options): options for the auth0_emulator fixture")


@pytest.fixture
def auth0_emulator(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Auth0Emulator]:
    marker = request.node.get_closest_marker("auth0")
    options = dict(marker.kwargs) if marker else {}
    emulator = Auth0Emulator(**options)
    emulator.start()
    try:
        bundle = emulator.write_ca_bundle(tmp_path_factory.mktemp("auth0-ca") / "ca-bundle.pem")
        monkeypatch.setenv("AUTH0_DOMAIN", emulator.domain)
        monkeypatch.setenv("AUTH0_CLIENT_ID", emulator.m2m_client_id)
        monkeypatch.setenv("AUTH0_CLIENT_SECRET", emulator.m2m_client_secret)
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        yield emulator
    finally:
        emulator.stop()

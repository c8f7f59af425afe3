"""Shared fixtures.

Sandbox and cluster (tests/fakes/):
- `lab_env`: a private machine under tmp_path. HOME, KUBECONFIG (`<home>/.kube/config`),
  MINIKUBE_HOME (minikube appends `.minikube`: see `lab_env.mk`), OIDC_LAB_HOME and XDG_STATE_HOME
  point there; PATH finds the fake `minikube` and the real kubectl first. Helpers:
  `kubectl(*args, context=None)` and `minikube(*args)` -> CompletedProcess (never raise),
  `minikube_calls()` (recorded argv lists), `profile_config(p)`, `extra_options(p)`,
  `apiserver_log(p)`, `kubeconfig_document()`, `write_host_file(node_path, data)` (a file minikube
  copies into the node on start, e.g. a CA for `--oidc-ca-file`), `profile(p)` (paths), and
  `add_token_context(name)` (a context without client certificate, for `kubectl --token`: with the
  admin context the certificate wins, as on a real cluster).
  Every apiserver double started in the sandbox is stopped at teardown.
- `minikube_profile`: `lab_env` with profile `minikube` started, as a user has it before `lab up`.
- `oidc_issuer`: a started `TestIssuer` (HTTPS discovery + JWKS at
  `https://host.minikube.internal:<port>`, `mint(...)` for id_tokens, `ca_pem` for --oidc-ca-file).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.fakes.oidc_issuer import TestIssuer
from tests.fakes.sandbox import LabEnv

# The IdP emulators' fixtures (`auth0_emulator`, `casdoor_emulator`) and their markers.
pytest_plugins = ["tests.emulators.auth0.fixtures", "tests.emulators.casdoor.fixtures"]


@pytest.fixture
def lab_env(tmp_path, monkeypatch) -> Iterator[LabEnv]:
    env = LabEnv.create(tmp_path / "sandbox", monkeypatch)
    try:
        yield env
    finally:
        env.close()


@pytest.fixture
def minikube_profile(lab_env: LabEnv) -> LabEnv:
    started = lab_env.minikube("start", "-p", "minikube")
    assert started.returncode == 0, started.stdout + started.stderr
    return lab_env


@pytest.fixture
def oidc_issuer(tmp_path) -> Iterator[TestIssuer]:
    folder = tmp_path / "test-issuer"
    folder.mkdir()
    with TestIssuer(folder) as issuer:
        yield issuer

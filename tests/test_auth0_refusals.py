"""Auth0 refusals that leave nothing behind, through `lab up` as a user runs it.

Everything that can be checked without a write is checked before the first one: a same-named
application the lab does not own, and the passwords lab.yaml fixes against the connection's
password policy (Auth0's five levels and `password_complexity_options.min_length`). A password
Auth0 refused anyway is never kept in credentials.json, so it is not sent again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.emulators.auth0.faults import Fault
from tests.support import labcli

LAB_YAML = """
name: zero
provider: auth0
users:
  - email: ada@example.com
"""


@pytest.fixture
def lab(minikube_profile, auth0_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_NODE_HOSTS", "127.0.0.1=127.0.0.1")
    work = tmp_path / "work"
    work.mkdir()
    (work / "lab.yaml").write_text(LAB_YAML)
    minikube_profile.work = work
    minikube_profile.auth0 = auth0_emulator
    minikube_profile.folder = Path(os.environ["OIDC_LAB_HOME"]) / "zero"
    yield minikube_profile
    labcli.run_lab(work, "down", "-q", check=False)


def refused_before_any_change(lab, *words: str) -> None:
    tenant_before = lab.auth0.snapshot()
    calls_before = len(lab.minikube_calls())
    result = labcli.run_lab(lab.work, "up", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert lab.auth0.snapshot() == tenant_before
    assert not [c for c in lab.minikube_calls()[calls_before:] if c and c[0] in ("start", "stop")]
    assert not lab.folder.exists()
    status = labcli.run_lab(lab.work, "status")
    assert "is not up" in status.stdout


def test_a_same_named_application_of_someone_else_stops_lab_up_before_anything_is_made(lab):
    lab.auth0.seed_client("oidc-lab zero", app_type="spa")
    refused_before_any_change(lab, "already has an application named 'oidc-lab zero'", "auth0.application")


@pytest.mark.parametrize(("options", "password", "why"), [
    ({}, "short1A!", None),  # a new connection gets "good": 8 characters, three kinds
    ({}, "alllowercase", "needs three of"),
    ({"passwordPolicy": "excellent"}, "Abc1!aaab", "shorter than 10"),
    ({"passwordPolicy": "excellent"}, "Abcdef1!xxx", "three times in a row"),
    ({"passwordPolicy": "low", "password_complexity_options": {"min_length": 12}}, "Abcdef1!xy", "shorter than 12"),
])
def test_a_password_the_connection_policy_refuses_stops_lab_up_before_anything_is_made(lab, options, password, why):
    yaml_text = LAB_YAML + f"    password: {json.dumps(password)}\n"
    if options:
        lab.auth0.seed_connection("shared-db", options=options)
        yaml_text = yaml_text.replace("provider: auth0\n", "provider: auth0\nauth0:\n  connection: shared-db\n")
    (lab.work / "lab.yaml").write_text(yaml_text)
    if why is None:
        labcli.run_lab(lab.work, "up", "-q")
        assert lab.kubectl("auth", "whoami", context="zero-ada").returncode == 0
    else:
        refused_before_any_change(lab, "'ada'", why, "password policy")


def test_a_password_auth0_refused_is_never_kept_nor_sent_again(lab):
    (lab.work / "lab.yaml").write_text(LAB_YAML + "    password: Refused-by-auth0-1\n")
    lab.auth0.inject("POST", r"^/api/v2/users$", Fault.error(400, {
        "statusCode": 400, "error": "Bad Request", "errorCode": "invalid_body",
        "message": "PasswordStrengthError: Password is too weak"}))
    failed = labcli.run_lab(lab.work, "up", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    credentials = (lab.folder / "credentials.json").read_text()
    assert "Refused-by-auth0-1" not in credentials

    (lab.work / "lab.yaml").write_text(LAB_YAML)  # the password is gone from lab.yaml
    labcli.run_lab(lab.work, "up", "-q")
    assert "Refused-by-auth0-1" not in (lab.folder / "credentials.json").read_text()
    assert lab.kubectl("auth", "whoami", context="zero-ada").returncode == 0

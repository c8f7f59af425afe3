"""The `local` provider's story: `lab up` starts the issuer once, re-runs change nothing, `lab down` leaves no trace."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography import x509

from provisioner.config import LabConfig, parse_config
from provisioner.errors import ProviderError
from provisioner.providers.local.issuer import hashing
from provisioner.providers.local.issuer.files import IssuerFiles
from provisioner.providers.local.issuer.process import IssuerProcess
from provisioner.paths import LabPaths
from tests.support.quiet import SilentReporter
from provisioner.providers import provider_class
from provisioner.providers.local.provider import LocalProvider, client_id, issuer_url, kept_hash, subject
from provisioner.secrets import LabSecrets
from provisioner.state import LabState
from tests.support.labcli import free_port

LAB = "local-test"


def lab_config(port: int, users: list[dict[str, Any]] | None = None, **local: Any) -> LabConfig:
    return parse_config({
        "name": LAB,
        "local": {"port": port, "listen": "127.0.0.1", **local},
        "users": users or [{"email": "alice@example.com", "groups": ["devs"]}, {"email": "bob@example.com"}],
    })


class Lab:
    """One lab on disk, as successive `lab` commands see it (each loads state and secrets afresh)."""

    def __init__(self, config: LabConfig) -> None:
        self.config = config
        self.paths = LabPaths.for_lab(LAB)

    def provider(self, config: LabConfig | None = None) -> LocalProvider:
        return LocalProvider(config or self.config, self.paths, SilentReporter())

    def run(self, action: str, config: LabConfig | None = None) -> Any:
        state, secrets = LabState.load(self.paths, LAB), LabSecrets.load(self.paths)
        return getattr(self.provider(config), action)(state, secrets)

    def status(self) -> dict[str, Any]:
        return self.provider().status(LabState.load(self.paths, LAB))

    @property
    def files(self) -> IssuerFiles:
        return IssuerFiles(self.paths.issuer)

    def snapshot(self) -> dict[str, tuple[int, int]]:
        return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in self.paths.issuer.iterdir()}

    def login(self, email: str, password: str) -> requests.Response:
        client = self.run("token_client")
        return requests.post(client.token_endpoint, verify=client.ca_file, timeout=5, data={
            "grant_type": "password", "username": email, "password": password,
            "client_id": client.client_id, "client_secret": client.client_secret, "scope": client.scope,
        })


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """scrypt at full cost is the point in production, and only slows these tests down."""
    monkeypatch.setattr(hashing, "_N", 2**8)


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name, folder in (("HOME", "home"), ("OIDC_LAB_HOME", "labs"), ("MINIKUBE_HOME", "minikube")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "home" / "kubeconfig"))
    made = Lab(lab_config(free_port()))
    try:
        yield made
    finally:
        IssuerProcess(made.paths.issuer).stop()


def pid_gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


# --- naming ---------------------------------------------------------------------------------------------


def test_the_provider_is_found_by_its_kind() -> None:
    assert provider_class("local") is LocalProvider and LocalProvider.kind == "local"


def test_issuer_url_is_the_hostname_and_port_without_a_trailing_slash() -> None:
    config = parse_config({"name": "demo", "local": {"hostname": "issuer.test", "port": 8443}})

    assert issuer_url(config) == "https://issuer.test:8443"
    assert client_id(config) == "oidc-lab-demo"


def test_a_users_sub_is_stable_and_differs_between_users_and_labs() -> None:
    one, other = parse_config({"name": "one"}), parse_config({"name": "other"})

    assert subject(one, "alice") == subject(one, "alice")
    assert subject(one, "alice") != subject(one, "bob")
    assert subject(one, "alice") != subject(other, "alice")


def test_rbac_can_name_users_by_sub_because_the_issuer_derives_it_in_advance(lab: Lab) -> None:
    config = lab_config(lab.config.local.port, [{"email": "alice@example.com"}])
    lab.run("ensure", config)
    client = lab.run("token_client", config)

    token = lab.login("alice@example.com", LabSecrets.load(lab.paths).password("alice")).json()["id_token"]

    claims = jwt.decode(token, options={"verify_signature": False})
    provider = lab.provider(config)
    assert claims["sub"] == provider.claim_value(config.users[0], "sub")
    assert claims["email"] == provider.claim_value(config.users[0], "email")
    assert claims["iss"] == client.issuer


def test_an_unchanged_password_keeps_its_hash_and_a_changed_one_gets_a_new_hash() -> None:
    existing = hashing.hash_secret("old")

    assert kept_hash("old", existing) == existing
    changed = kept_hash("new", existing)
    assert changed != existing and hashing.verify_secret("new", changed)


# --- lab up ------------------------------------------------------------------------------------------


def test_plan_on_a_new_lab_lists_the_issuer_and_users_and_writes_nothing(lab: Lab) -> None:
    changes = lab.run("plan")

    assert changes == [
        f"start the built-in issuer https://host.minikube.internal:{lab.config.local.port} with client oidc-lab-local-test",
        "add user alice@example.com to the built-in issuer",
        "add user bob@example.com to the built-in issuer",
    ]
    assert not lab.paths.root.exists()


def test_lab_up_starts_an_issuer_the_cluster_and_plugin_can_use(lab: Lab) -> None:
    issuer = lab.run("ensure")
    client = lab.run("token_client")

    port = lab.config.local.port
    assert issuer.url == client.issuer == f"https://host.minikube.internal:{port}"
    assert issuer.client_id == client.client_id == "oidc-lab-local-test"
    assert issuer.ca_pem == Path(client.ca_file).read_bytes() and b"BEGIN CERTIFICATE" in issuer.ca_pem
    assert client.token_endpoint == f"https://127.0.0.1:{port}/token"
    assert client.client_secret == LabSecrets.load(lab.paths).client_secret
    secrets = LabSecrets.load(lab.paths)
    assert secrets.document["users"]["alice"]["login"] == "alice@example.com"
    response = lab.login("alice@example.com", secrets.password("alice"))
    assert response.status_code == 200, response.text
    status = lab.status()
    assert status["running"] is True and status["pid"] == lab.provider().process.pid
    assert (status["issuer_url"], status["client_id"], status["port"]) == (issuer.url, issuer.client_id, port)
    section = LabState.load(lab.paths, LAB).section("provider")
    assert section["users"] == ["alice", "bob"] and section["pid"] == status["pid"]


def test_the_certificate_covers_the_cluster_name_and_the_hosts_loopback(lab: Lab) -> None:
    lab.run("ensure")

    cert = x509.load_pem_x509_certificate(lab.files.tls_cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = {str(name) for name in sans.get_values_for_type(x509.DNSName)}
    addresses = {str(address) for address in sans.get_values_for_type(x509.IPAddress)}
    assert {"host.minikube.internal", "localhost"} <= names and "127.0.0.1" in addresses


def test_a_second_lab_up_restarts_nothing_and_rewrites_nothing(lab: Lab) -> None:
    lab.run("ensure")
    pid, files = lab.status()["pid"], lab.snapshot()
    credentials = lab.paths.credentials.stat().st_mtime_ns

    assert lab.run("plan") == []
    lab.run("ensure")

    assert lab.status()["pid"] == pid
    assert lab.snapshot() == files
    assert lab.paths.credentials.stat().st_mtime_ns == credentials


def test_a_fixed_password_from_lab_yaml_is_the_users_password(lab: Lab) -> None:
    config = lab_config(lab.config.local.port, [{"email": "alice@example.com", "password": "Workshop-2024!"}])

    lab.run("ensure", config)

    assert lab.login("alice@example.com", "Workshop-2024!").status_code == 200
    assert LabSecrets.load(lab.paths).password("alice") == "Workshop-2024!"


def test_changed_users_are_planned_then_applied_without_a_restart(lab: Lab) -> None:
    lab.run("ensure")
    pid = lab.status()["pid"]
    changed = lab_config(lab.config.local.port, [
        {"email": "alice@example.com", "groups": ["devs", "ops"]},
        {"email": "carol@example.com"},
    ])

    assert lab.run("plan", changed) == [
        "update user alice@example.com in the built-in issuer (groups)",
        "add user carol@example.com to the built-in issuer",
        "remove user bob@example.com from the built-in issuer",
    ]
    bob_password = LabSecrets.load(lab.paths).password("bob")
    lab.run("ensure", changed)

    assert lab.status()["pid"] == pid
    assert lab.login("bob@example.com", bob_password).json()["error"] == "invalid_grant"
    assert "bob" not in LabSecrets.load(lab.paths).document["users"]
    assert lab.login("carol@example.com", LabSecrets.load(lab.paths).password("carol")).status_code == 200
    assert lab.run("plan", changed) == []


def test_a_new_port_restarts_the_issuer_there(lab: Lab) -> None:
    lab.run("ensure")
    old_pid, old_port = lab.status()["pid"], lab.config.local.port
    moved = lab_config(free_port())

    assert f"restart the built-in issuer on port {moved.local.port}" in lab.run("plan", moved)
    issuer = lab.run("ensure", moved)

    lab.config = moved
    assert issuer.url == f"https://host.minikube.internal:{moved.local.port}"
    assert lab.status()["pid"] != old_pid and pid_gone(old_pid)
    assert lab.login("alice@example.com", LabSecrets.load(lab.paths).password("alice")).status_code == 200
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", old_port))  # the old port is free again


def test_a_new_hostname_reissues_the_certificate_under_the_same_ca(lab: Lab) -> None:
    first = lab.run("ensure")
    old_pid = lab.status()["pid"]
    renamed = lab_config(lab.config.local.port, hostname="issuer.lab.test")

    second = lab.run("ensure", renamed)

    assert second.ca_pem == first.ca_pem
    assert second.url == f"https://issuer.lab.test:{lab.config.local.port}"
    cert = x509.load_pem_x509_certificate(lab.files.tls_cert.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "issuer.lab.test" in sans.get_values_for_type(x509.DNSName)
    assert lab.provider(renamed).status(LabState.load(lab.paths, LAB))["pid"] != old_pid


def test_an_issuer_that_died_is_started_again(lab: Lab) -> None:
    lab.run("ensure")
    IssuerProcess(lab.paths.issuer).stop()
    assert lab.status()["running"] is False

    lab.run("ensure")

    assert lab.status()["running"] is True


# --- ports -------------------------------------------------------------------------------------------------


def test_a_port_taken_by_another_program_fails_before_anything_is_written(lab: Lab) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", lab.config.local.port))
        other.listen()

        with pytest.raises(ProviderError) as preflight:
            lab.provider().preflight()
        with pytest.raises(ProviderError) as ensure:
            lab.run("ensure")

    for caught in (preflight, ensure):
        assert caught.value.message == f"port {lab.config.local.port} is already in use by another program"
        assert caught.value.hint == "set local.port in lab.yaml to a free port"
    assert not lab.paths.root.exists() or list(lab.paths.root.iterdir()) == []


def test_the_port_held_by_our_own_issuer_passes_preflight(lab: Lab) -> None:
    lab.run("ensure")

    lab.provider().preflight()


def test_a_stale_pid_file_never_stops_someone_elses_process(lab: Lab) -> None:
    lab.run("ensure")
    process = IssuerProcess(lab.paths.issuer)
    process.stop()
    lab.files.pid.write_text(f"{os.getpid()}\n")

    assert process.running() is False
    assert process.stop() is False  # and this test process is still alive to assert it


# --- lab down -------------------------------------------------------------------------------------------


def test_lab_down_stops_the_issuer_and_leaves_no_trace(lab: Lab) -> None:
    lab.run("ensure")
    pid = lab.status()["pid"]

    lab.run("teardown")

    assert pid_gone(pid)
    assert not lab.paths.issuer.exists()
    assert LabState.load(lab.paths, LAB).empty
    secrets = LabSecrets.load(lab.paths)
    assert secrets.client_secret is None and secrets.document["users"] == {}
    assert lab.status()["running"] is False
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", lab.config.local.port))


def test_lab_down_twice_is_harmless(lab: Lab) -> None:
    lab.run("ensure")
    lab.run("teardown")

    lab.run("teardown")

    assert not lab.paths.issuer.exists()


def test_the_labs_secret_files_are_private(lab: Lab) -> None:
    lab.run("ensure")

    for path in [lab.paths.credentials, lab.paths.state, *lab.paths.issuer.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_the_state_record_keeps_the_json_shape_earlier_versions_wrote() -> None:
    from provisioner.providers.local.record import LocalRecord

    stored = {"issuer_url": "https://host.minikube.internal:9443", "client_id": "oidc-lab-demo", "port": 9443,
              "users": ["ada", "carl"], "pid": 4242}

    record = LocalRecord.from_dict(stored)

    assert record.users == ["ada", "carl"] and record.pid == 4242 and record.port == 9443
    assert record.to_dict() == stored
    assert LocalRecord.from_dict({}).to_dict() == {}

"""`provider: casdoor` against the Casdoor emulator: what a lab user sees from `lab up` and `lab down`."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import jwt
import pytest
import requests

from provisioner.config import parse_config
from provisioner.errors import ConfigError, ProviderError
from provisioner.paths import LabPaths
from tests.support.quiet import SilentReporter
from provisioner.providers import provider_class
from provisioner.providers.casdoor import PROVIDER, CasdoorProvider, payloads
from provisioner.secrets import LabSecrets
from provisioner.state import LabState

USERS = [
    {"email": "alice@example.com", "name": "Alice", "groups": ["devs", "ops"]},
    {"email": "bob@example.com", "role": "view"},
]


class Lab:
    """One lab's config, files and provider, as `lab up`/`lab down` would hold them."""

    def __init__(self, root: Path, **document) -> None:
        document.setdefault("name", "demo")
        document.setdefault("provider", "casdoor")
        document.setdefault("users", USERS)
        self.config = parse_config(document)
        self.paths = LabPaths(root / self.config.name)
        self.provider = CasdoorProvider(self.config, self.paths, SilentReporter())

    def state(self) -> LabState:
        return LabState.load(self.paths, self.config.name)

    def secrets(self) -> LabSecrets:
        return LabSecrets.load(self.paths)

    def up(self):
        return self.provider.ensure(self.state(), self.secrets())

    def down(self) -> None:
        self.provider.teardown(self.state(), self.secrets())

    def section(self) -> dict:
        return self.state().section("provider")


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(CasdoorProvider, "http_timeout", 1.0)
    monkeypatch.setattr(CasdoorProvider, "http_retry_pause", 0.0)


@pytest.fixture
def lab(tmp_path, casdoor_emulator, fast) -> Lab:
    return Lab(tmp_path)


def password_grant(client, login: str, password: str) -> dict:
    """What the credential plugin does with the TokenClient the provider hands it."""
    reply = requests.post(client.token_endpoint, timeout=5, verify=client.ca_file or True, data={
        "grant_type": client.grant_type, "client_id": client.client_id, "client_secret": client.client_secret,
        "username": login, "password": password, "scope": client.scope})
    return reply.json()


# --- pure payloads ---------------------------------------------------------------------------------------
def test_application_payload_overrides_the_sdks_trap_defaults():
    lab = parse_config({"name": "demo", "provider": "casdoor", "casdoor": {"expire_in_hours": 8}})
    payload = payloads.application_payload(lab, "cid", "secret")
    assert payload["grantTypes"] == ["password", "refresh_token"]  # the SDK default is [""]
    assert payload["expireInHours"] == 8  # the SDK default 0 makes tokens born expired
    assert (payload["owner"], payload["name"], payload["organization"]) == ("admin", "demo-kubernetes", "demo")
    assert (payload["clientId"], payload["clientSecret"]) == ("cid", "secret")
    assert payloads.application_is_marked(lab, payload)


@pytest.mark.parametrize(
    "casdoor, organization, application",
    [({}, "demo", "demo-kubernetes"), ({"organization": "acme", "application": "k8s"}, "acme", "k8s")],
)
def test_names_default_to_the_lab_prefix(casdoor, organization, application):
    lab = parse_config({"name": "demo", "provider": "casdoor", "casdoor": casdoor})
    assert payloads.names(lab) == payloads.Names(organization, application)


def test_user_payload_is_verified_grouped_and_marked_with_the_handle_as_name():
    lab = parse_config({"name": "demo", "provider": "casdoor", "users": USERS})
    payload = payloads.user_payload(lab, lab.users[0], "pw")
    assert (payload["owner"], payload["name"], payload["email"]) == ("demo", "alice", "alice@example.com")
    assert payload["emailVerified"] is True and payload["groups"] == ["demo/devs", "demo/ops"]  # ids, as Casdoor's UI
    assert payload["displayName"] == "Alice" and payload["signupApplication"] == "demo-kubernetes"
    assert payloads.user_is_marked(lab, payload)
    other = parse_config({"name": "other", "provider": "casdoor"})
    assert not payloads.user_is_marked(other, payload)


@pytest.mark.parametrize(
    "handle, name", [("alice", "alice"), ("ada.lovelace", "ada-lovelace"), ("b..c-d", "b-c-d")]
)
def test_user_names_are_valid_casdoor_names(handle, name):
    lab = parse_config({"name": "demo", "provider": "casdoor", "users": [{"username": handle, "email": "x@example.com"}]})
    assert payloads.user_name(lab.users[0]) == name


def test_handles_that_become_one_casdoor_name_are_refused_before_any_call(tmp_path, casdoor_emulator):
    lab = Lab(tmp_path, users=[{"email": "ada.l@example.com"}, {"email": "ada-l@example.com"}])
    with pytest.raises(ConfigError, match="users 'ada.l' and 'ada-l' would both be Casdoor user 'ada-l'"):
        lab.up()
    assert len(casdoor_emulator.requests) == 0


def test_a_dotted_handle_signs_in_under_its_casdoor_name(tmp_path, casdoor_emulator, fast):
    lab = Lab(tmp_path, users=[{"email": "ada.lovelace@example.com"}])
    lab.up()
    assert casdoor_emulator.user("demo", "ada-lovelace")["email"] == "ada.lovelace@example.com"
    assert lab.secrets().document["users"]["ada.lovelace"]["login"] == "ada-lovelace"


@pytest.mark.parametrize(
    "app, problem",
    [
        ({"grantTypes": ["authorization_code"], "expireInHours": 1, "clientSecret": "s"}, "password grant"),
        ({"grantTypes": ["password"], "expireInHours": 0, "clientSecret": "s"}, "born expired"),
        ({"grantTypes": ["password"], "expireInHours": 2, "clientSecret": "***"}, "client secret"),
    ],
)
def test_a_borrowed_application_that_cannot_serve_kubectl_is_explained(app, problem):
    assert any(problem in p for p in payloads.application_problems(app))


def test_provider_is_registered_for_provider_casdoor():
    assert provider_class("casdoor") is PROVIDER is CasdoorProvider


# --- lab up ----------------------------------------------------------------------------------------------
def test_up_creates_the_recipes_objects_and_returns_the_issuer(lab, casdoor_emulator):
    issuer = lab.up()
    app = casdoor_emulator.application("demo-kubernetes")
    assert casdoor_emulator.organization("demo") is not None
    assert app["organization"] == "demo" and app["grantTypes"] == ["password", "refresh_token"]
    assert app["expireInHours"] == 24
    alice = casdoor_emulator.user("demo", "alice")
    assert (alice["email"], alice["emailVerified"], alice["groups"]) == ("alice@example.com", True, ["demo/devs", "demo/ops"])
    assert {g["name"] for g in casdoor_emulator.snapshot()["groups"].values()} == {"devs", "ops"}
    assert casdoor_emulator.user("demo", "bob")["groups"] == []
    assert issuer.url == casdoor_emulator.endpoint and issuer.client_id == app["clientId"]
    assert issuer.client_id != casdoor_emulator.admin_client_id and issuer.ca_pem is None


def test_up_keeps_secrets_out_of_state_and_in_a_private_file(lab, casdoor_emulator):
    lab.up()
    secrets = lab.secrets()
    app_secret = casdoor_emulator.application("demo-kubernetes")["clientSecret"]
    assert secrets.client_secret is None  # an application's secret is an admin credential at Casdoor
    assert app_secret not in lab.paths.credentials.read_text()
    password = secrets.document["users"]["alice"]["password"]
    assert casdoor_emulator.user("demo", "alice")["password"] == password
    state_text = lab.paths.state.read_text()
    for secret in (app_secret, password, casdoor_emulator.admin_client_secret):
        assert secret not in state_text
    assert stat.S_IMODE(lab.paths.credentials.stat().st_mode) == 0o600
    # The admin secret travels as HTTP Basic, never in a URL that access logs keep.
    assert all("clientSecret" not in r.query for r in casdoor_emulator.requests)
    assert {r.auth for r in casdoor_emulator.requests.to(r"^/api/(get|add|update|delete)-")} == {"basic"}


def test_token_client_gets_kubectl_tokens_with_the_lab_application(lab, casdoor_emulator):
    lab.up()
    client = lab.provider.token_client(lab.state(), lab.secrets())
    assert client.token_endpoint == casdoor_emulator.endpoint + "/api/login/oauth/access_token"
    assert client.refresh_endpoint == casdoor_emulator.endpoint + "/api/login/oauth/refresh_token"
    assert client.client_id == casdoor_emulator.application("demo-kubernetes")["clientId"]
    login = lab.provider.login_name(lab.config.users[0])
    assert login == "alice"
    tokens = password_grant(client, login, lab.secrets().document["users"]["alice"]["password"])
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["iss"] == client.issuer and claims["aud"] == [client.client_id]
    assert claims["groups"] == ["demo/devs", "demo/ops"] and claims["email_verified"] is True
    assert client.client_secret is None
    refreshed = requests.post(client.refresh_endpoint, timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
        "client_id": client.client_id, "client_secret": client.client_secret}).json()
    assert jwt.decode(refreshed["id_token"], options={"verify_signature": False})["name"] == "alice"


def test_second_up_writes_nothing_and_plans_nothing(lab, casdoor_emulator):
    first = lab.up()
    writes = casdoor_emulator.requests.writes
    assert lab.up() == first
    assert casdoor_emulator.requests.writes == writes
    assert lab.provider.plan(lab.state(), lab.secrets()) == []


def test_plan_says_what_up_would_create_and_changes_nothing(lab, casdoor_emulator):
    before = casdoor_emulator.snapshot()
    plan = lab.provider.plan(lab.state(), lab.secrets())
    assert plan[0] == "create organization 'demo'"
    assert any("create application 'demo-kubernetes'" in line for line in plan)
    assert "create user demo/alice (alice@example.com, groups devs, ops)" in plan
    assert casdoor_emulator.snapshot() == before and casdoor_emulator.requests.writes == 0


def test_changed_groups_update_the_user_and_removed_users_are_deleted(tmp_path, casdoor_emulator, fast):
    Lab(tmp_path).up()
    changed = Lab(tmp_path, users=[{"email": "alice@example.com", "name": "Alice", "groups": ["admins"]}])
    assert changed.provider.plan(changed.state(), changed.secrets()) == [
        "create group demo/admins", "update user demo/alice: groups", "delete user demo/bob (no longer in lab.yaml)",
        "delete group demo/devs (no longer in lab.yaml)", "delete group demo/ops (no longer in lab.yaml)"]
    changed.up()
    assert casdoor_emulator.user("demo", "alice")["groups"] == ["demo/admins"]
    assert set(casdoor_emulator.snapshot()["groups"]) == {"demo/admins"}
    assert casdoor_emulator.user("demo", "bob") is None
    assert "bob" not in changed.section()["users"] and "bob" not in changed.secrets().document["users"]


def test_a_changed_token_lifetime_updates_the_labs_application(tmp_path, casdoor_emulator, fast):
    Lab(tmp_path).up()
    shorter = Lab(tmp_path, casdoor={"expire_in_hours": 8})
    assert shorter.provider.plan(shorter.state(), shorter.secrets()) == [
        "update application 'demo-kubernetes': expireInHours 8"]
    secret = casdoor_emulator.application("demo-kubernetes")["clientSecret"]
    shorter.up()
    app = casdoor_emulator.application("demo-kubernetes")
    assert app["expireInHours"] == 8 and app["clientSecret"] == secret  # the secret kubectl uses is kept
    assert shorter.provider.plan(shorter.state(), shorter.secrets()) == []


def test_a_changed_password_in_lab_yaml_reaches_casdoor_and_only_once(tmp_path, casdoor_emulator, fast):
    Lab(tmp_path, users=[{"email": "alice@example.com", "password": "first-pass-1"}]).up()
    changed = Lab(tmp_path, users=[{"email": "alice@example.com", "password": "second-pass-2"}])
    assert changed.provider.plan(changed.state(), changed.secrets()) == ["update user demo/alice: password"]
    changed.up()
    client = changed.provider.token_client(changed.state(), changed.secrets())
    assert "id_token" in password_grant(client, "alice", "second-pass-2")
    assert password_grant(client, "alice", "first-pass-1")["error"] == "invalid_grant"
    assert "second-pass-2" not in changed.paths.state.read_text()  # state keeps a digest, never the password
    writes = casdoor_emulator.requests.writes
    changed.up()
    assert casdoor_emulator.requests.writes == writes
    assert changed.provider.plan(changed.state(), changed.secrets()) == []


def test_a_lost_credentials_file_gives_casdoor_the_new_generated_password(lab, casdoor_emulator):
    lab.up()
    old = lab.secrets().document["users"]["alice"]["password"]
    lab.paths.credentials.unlink()
    lab.up()
    new = lab.secrets().document["users"]["alice"]["password"]
    assert new != old
    client = lab.provider.token_client(lab.state(), lab.secrets())
    assert "id_token" in password_grant(client, "alice", new)


# --- interrupted runs ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path, creates", [(r"/api/add-organization$", 1), (r"/api/add-application$", 1), (r"/api/add-user$", 2)]
)
def test_a_reply_lost_after_a_create_is_adopted_not_duplicated(lab, casdoor_emulator, path, creates):
    casdoor_emulator.inject(path, "drop")
    lab.up()
    assert len(casdoor_emulator.requests.to(path)) == creates  # one create per object, never a second
    assert casdoor_emulator.requests.writes == 6  # org, app, groups devs and ops, alice, bob
    assert lab.secrets().client_secret is None
    assert lab.section()["application"]["created"] is True


def test_interrupted_up_then_rerun_completes_and_down_cleans_everything(tmp_path, casdoor_emulator, fast):
    before = casdoor_emulator.snapshot()
    casdoor_emulator.inject(r"/api/add-user$", "error", times=1, message="database is locked")
    first = Lab(tmp_path)
    with pytest.raises(ProviderError) as failure:
        first.up()
    assert str(failure.value) == "Casdoor refused to create user demo/alice: database is locked"
    recorded = first.section()
    assert recorded["organization"]["created"] and recorded["application"]["created"]
    assert "alice" not in recorded.get("users", {})

    rerun = Lab(tmp_path)
    rerun.up()
    assert casdoor_emulator.user("demo", "alice") and casdoor_emulator.user("demo", "bob")
    assert len(casdoor_emulator.requests.to(r"/api/add-application$")) == 1
    rerun.down()
    assert casdoor_emulator.snapshot() == before


def test_a_lost_state_file_is_recovered_by_the_labs_marks(tmp_path, casdoor_emulator, fast):
    before = casdoor_emulator.snapshot()
    Lab(tmp_path).up()
    Lab(tmp_path).paths.state.unlink()
    again = Lab(tmp_path)
    again.up()
    assert again.section()["organization"]["created"] and again.section()["application"]["created"]
    again.down()
    assert casdoor_emulator.snapshot() == before


def test_a_create_that_times_out_is_looked_up_then_sent_again(lab, casdoor_emulator):
    casdoor_emulator.inject(r"/api/add-user$", "timeout")
    lab.up()
    assert len(casdoor_emulator.requests.to(r"/api/add-user$")) == 3  # alice twice, bob once
    assert casdoor_emulator.user("demo", "alice") is not None


# --- lab down --------------------------------------------------------------------------------------------
def test_down_leaves_casdoor_as_it_was_and_the_section_empty(lab, casdoor_emulator):
    before = casdoor_emulator.snapshot()
    lab.up()
    lab.down()
    assert casdoor_emulator.snapshot() == before
    assert lab.section() == {}
    assert lab.secrets().client_secret is None and lab.secrets().document["users"] == {}


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_an_interrupted_down_is_finished_by_the_next_down(lab, casdoor_emulator, fault):
    before = casdoor_emulator.snapshot()
    lab.up()
    casdoor_emulator.inject(r"/api/delete-application$", fault)
    with pytest.raises(ProviderError, match="delete application 'demo-kubernetes'"):
        lab.down()
    assert "users" not in lab.section() or lab.section()["users"] == {}  # what was deleted is forgotten
    lab.down()
    assert casdoor_emulator.snapshot() == before
    assert lab.section() == {}


def test_down_tolerates_objects_already_gone(lab, casdoor_emulator):
    before = casdoor_emulator.snapshot()
    lab.up()
    casdoor_emulator.directory.users.pop(("demo", "alice"))
    casdoor_emulator.directory.applications.pop("demo-kubernetes")
    lab.down()
    assert casdoor_emulator.snapshot() == before


def test_down_keeps_a_lab_organization_that_now_holds_strangers(lab, casdoor_emulator):
    lab.up()
    casdoor_emulator.directory.add_user({"owner": "demo", "name": "carol", "password": "x", "displayName": "C"})
    lab.down()
    assert casdoor_emulator.organization("demo") is not None
    assert casdoor_emulator.user("demo", "alice") is None and casdoor_emulator.user("demo", "carol") is not None
    assert lab.section() == {}


def test_a_borrowed_organization_and_application_are_used_and_never_deleted(tmp_path, casdoor_emulator, fast):
    d = casdoor_emulator.directory
    d.add_organization({"name": "acme", "displayName": "ACME"})
    d.add_application({"name": "acme-k8s", "organization": "acme", "grantTypes": ["password", "refresh_token"],
                       "expireInHours": 2})
    before = casdoor_emulator.snapshot()
    lab = Lab(tmp_path, casdoor={"organization": "acme", "application": "acme-k8s", "create_organization": False})
    assert lab.provider.plan(lab.state(), lab.secrets())[:2] == [
        "use the existing organization 'acme' (borrowed, never deleted)",
        "use the existing application 'acme-k8s' (borrowed, never deleted)"]
    issuer = lab.up()
    assert lab.provider.plan(lab.state(), lab.secrets()) == []
    assert issuer.client_id == casdoor_emulator.application("acme-k8s")["clientId"]
    assert lab.section()["organization"]["created"] is False and lab.section()["application"]["created"] is False
    assert casdoor_emulator.requests.writes == 4  # only the groups devs and ops and the two users
    lab.down()
    assert casdoor_emulator.snapshot() == before


# --- errors, one sentence each -----------------------------------------------------------------------------
def test_missing_admin_credentials_are_named(tmp_path, casdoor_emulator, monkeypatch):
    monkeypatch.delenv("CASDOOR_CLIENT_SECRET")
    with pytest.raises(ProviderError) as failure:
        Lab(tmp_path).provider.preflight()
    assert failure.value.message == "CASDOOR_CLIENT_SECRET is not set"
    assert "app-built-in" in failure.value.hint


def test_an_http_endpoint_is_refused_before_any_call(tmp_path, casdoor_emulator, monkeypatch):
    monkeypatch.setenv("CASDOOR_ENDPOINT", "http://casdoor.example.com:8000")
    with pytest.raises(ProviderError, match="is not an https URL"):
        Lab(tmp_path).up()
    assert len(casdoor_emulator.requests) == 0


def test_an_unreachable_endpoint_is_one_clear_sentence(tmp_path, casdoor_emulator, monkeypatch, fast):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CASDOOR_ENDPOINT", f"https://127.0.0.1:{port}")
    with pytest.raises(ProviderError) as failure:
        Lab(tmp_path).up()
    assert failure.value.message == (
        f"cannot reach Casdoor at https://127.0.0.1:{port} to read the OIDC discovery document: connection refused")


def test_bad_admin_credentials_are_reported_without_the_secret(tmp_path, casdoor_emulator, monkeypatch, fast):
    monkeypatch.setenv("CASDOOR_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(ProviderError) as failure:
        Lab(tmp_path).up()
    assert failure.value.message.startswith("Casdoor refused the admin credentials when asked to read organization")
    assert "CASDOOR_CLIENT_ID" in failure.value.hint
    assert "not-the-secret" not in failure.value.message + failure.value.hint
    assert casdoor_emulator.requests.writes == 0


def test_an_error_envelope_becomes_one_sentence_with_casdoors_reason(lab, casdoor_emulator):
    casdoor_emulator.inject(r"/api/add-application$", "error", message="The application name is invalid.")
    with pytest.raises(ProviderError) as failure:
        lab.up()
    assert failure.value.message == "Casdoor refused to create application 'demo-kubernetes': The application name is invalid"


def test_reads_are_retried_through_a_passing_500_but_not_forever(lab, casdoor_emulator):
    casdoor_emulator.inject(r"/api/get-organization$", "500", times=1)
    lab.up()
    casdoor_emulator.inject(r"/api/get-organization$", "500", times=5)
    with pytest.raises(ProviderError, match=r"failed the request to read organization 'demo' with HTTP 500"):
        lab.up()


def test_a_casdoor_that_never_answers_is_reported_as_such(lab, casdoor_emulator, monkeypatch):
    monkeypatch.setattr(CasdoorProvider, "http_timeout", 0.3)
    casdoor_emulator.inject(r"openid-configuration", "timeout", times=3)
    with pytest.raises(ProviderError, match=r"did not answer the request to read the OIDC discovery document within 0.3 seconds"):
        lab.up()


def test_an_http_origin_stops_up_before_anything_is_created(lab, casdoor_emulator):
    casdoor_emulator.origin = "http://casdoor.internal:8000"
    with pytest.raises(ProviderError) as failure:
        lab.up()
    assert "'http://casdoor.internal:8000', which is not https" in failure.value.message
    assert casdoor_emulator.requests.writes == 0


def test_tokens_whose_issuer_disagrees_with_discovery_are_caught_before_minikube(lab, casdoor_emulator):
    casdoor_emulator.token_issuer = "https://casdoor.example.com/"
    with pytest.raises(ProviderError) as failure:
        lab.up()
    assert failure.value.message.startswith(
        f"Casdoor's tokens name the issuer 'https://casdoor.example.com/' but its discovery document says "
        f"'{casdoor_emulator.endpoint}'")


def test_a_token_that_is_already_expired_is_caught(lab, casdoor_emulator):
    casdoor_emulator.directory.clock_offset_seconds = -48 * 3600
    with pytest.raises(ProviderError, match="Casdoor issued a token for user alice that is already expired"):
        lab.up()


def test_a_borrowed_application_with_born_expired_tokens_is_refused(tmp_path, casdoor_emulator, fast):
    casdoor_emulator.directory.add_organization({"name": "demo"})
    casdoor_emulator.directory.add_application({"name": "demo-kubernetes", "organization": "demo",
                                                "grantTypes": ["password"], "expireInHours": 0})
    with pytest.raises(ProviderError) as failure:
        Lab(tmp_path).up()
    assert "existed before the lab and cannot serve kubectl: its expireInHours is 0" in failure.value.message


def test_an_application_of_another_organization_is_refused(tmp_path, casdoor_emulator, fast):
    casdoor_emulator.directory.add_organization({"name": "other"})
    casdoor_emulator.directory.add_application({"name": "demo-kubernetes", "organization": "other"})
    with pytest.raises(ProviderError, match="belongs to organization 'other', not 'demo'"):
        Lab(tmp_path).up()


def test_a_missing_organization_without_permission_to_create_it(tmp_path, casdoor_emulator, fast):
    lab = Lab(tmp_path, casdoor={"create_organization": False})
    for attempt in (lambda: lab.provider.plan(lab.state(), lab.secrets()), lab.up):
        with pytest.raises(ProviderError) as failure:
            attempt()
        assert failure.value.message == "Casdoor has no organization 'demo' and casdoor.create_organization is false"


def test_an_organization_without_an_application_cannot_serve_tokens(lab, casdoor_emulator):
    lab.up()
    state = lab.state()
    del state.section("provider")["application"]
    with pytest.raises(ProviderError) as failure:
        lab.provider.token_client(state, lab.secrets())
    assert failure.value.message == "the lab's Casdoor organization 'demo' has no application for kubectl"


def test_a_foreign_user_with_the_same_name_is_refused(lab, casdoor_emulator):
    casdoor_emulator.directory.add_organization({"name": "demo"})
    casdoor_emulator.directory.add_application({"name": "other-app", "organization": "demo"})  # Casdoor needs one
    casdoor_emulator.directory.add_user({"owner": "demo", "name": "alice", "password": "x", "displayName": "A"})
    with pytest.raises(ProviderError, match="Casdoor user demo/alice already exists and was not made by lab 'demo'"):
        lab.up()


# --- private CA ----------------------------------------------------------------------------------------------
def test_casdoor_ca_file_is_trusted_alone_and_handed_to_the_cluster(tmp_path, casdoor_emulator, monkeypatch, fast):
    system = "/etc/ssl/certs/ca-certificates.crt"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", system)  # the test CA is no longer trusted by default
    monkeypatch.setenv("SSL_CERT_FILE", system)
    with pytest.raises(ProviderError, match="is not trusted"):
        Lab(tmp_path).up()
    lab = Lab(tmp_path, casdoor={"ca_file": str(casdoor_emulator.ca_file)})
    issuer = lab.up()
    assert issuer.ca_pem == casdoor_emulator.ca.cert_pem
    client = lab.provider.token_client(lab.state(), lab.secrets())
    assert client.ca_file == str(casdoor_emulator.ca_file)
    assert "id_token" in password_grant(client, "bob", lab.secrets().document["users"]["bob"]["password"])


def test_a_ca_file_that_is_not_pem_is_refused(tmp_path, casdoor_emulator):
    bogus = tmp_path / "ca.crt"
    bogus.write_text("not a certificate")
    with pytest.raises(ProviderError, match="holds no PEM certificate"):
        Lab(tmp_path, casdoor={"ca_file": str(bogus)}).provider.preflight()


def test_status_shows_what_the_lab_owns_without_secrets(lab, casdoor_emulator):
    lab.up()
    status = lab.provider.status(lab.state())
    assert status["organization"] == {"name": "demo", "created": True}
    assert status["issuer"] == casdoor_emulator.endpoint
    assert casdoor_emulator.application("demo-kubernetes")["clientSecret"] not in json.dumps(status)


def test_username_claims_are_predictable_from_lab_yaml(lab):
    alice = lab.config.users[0]
    assert lab.provider.claim_value(alice, "email") == "alice@example.com"
    assert lab.provider.claim_value(alice, "name") == "alice"


def test_a_lab_is_not_moved_to_another_casdoor_silently(lab, casdoor_emulator, monkeypatch):
    lab.up()
    monkeypatch.setenv("CASDOOR_ENDPOINT", "https://casdoor.example.com")
    with pytest.raises(ProviderError, match=f"the lab was built on Casdoor at {casdoor_emulator.endpoint}"):
        lab.up()
    lab.down()  # still torn down where it was built
    assert casdoor_emulator.organization("demo") is None


# --- Casdoor as its source behaves (issue 13) ------------------------------------------------------------
def test_down_deletes_the_application_with_its_organization(lab, casdoor_emulator):
    lab.up()
    lab.down()
    [delete] = casdoor_emulator.requests.to(r"/api/delete-application$")
    assert delete.body == {"owner": "admin", "name": "demo-kubernetes", "organization": "demo"}
    assert casdoor_emulator.application("demo-kubernetes") is None


def test_an_unaffected_delete_of_an_object_still_there_is_an_error_with_a_hint(lab, casdoor_emulator):
    lab.up()
    casdoor_emulator.directory.applications["demo-kubernetes"]["organization"] = "built-in"  # moved by hand
    with pytest.raises(ProviderError) as failure:
        lab.down()
    assert failure.value.message == (
        "Casdoor answered Unaffected when asked to delete application 'demo-kubernetes', and it is still there")
    assert "lab down" in failure.value.hint
    assert lab.section()["application"]["name"] == "demo-kubernetes"  # still recorded, so still to delete


def test_a_changed_email_verified_reaches_casdoor_through_its_column(tmp_path, casdoor_emulator, fast):
    Lab(tmp_path).up()
    changed = Lab(tmp_path, users=[{"email": "alice@example.com", "name": "Alice", "groups": ["devs", "ops"],
                                    "email_verified": False}, USERS[1]])
    changed.up()
    assert casdoor_emulator.user("demo", "alice")["emailVerified"] is False
    [update] = casdoor_emulator.requests.to(r"/api/update-user$")
    assert update.query["columns"] == "display_name,email,email_verified,groups,properties"


def test_a_password_casdoor_refused_is_never_kept(tmp_path, casdoor_emulator, fast):
    message = "The password must have at least 8 characters"
    casdoor_emulator.inject(r"/api/add-user$", "error", message=message)
    weak = Lab(tmp_path, users=[{"email": "alice@example.com", "password": "short1"}])
    with pytest.raises(ProviderError, match=message):
        weak.up()
    assert not (weak.secrets().document["users"].get("alice") or {}).get("password")
    Lab(tmp_path, users=[{"email": "alice@example.com", "password": "first-pass-1"}]).up()
    casdoor_emulator.inject(r"/api/update-user$", "error", message=message)
    refused = Lab(tmp_path, users=[{"email": "alice@example.com", "password": "short2"}])
    with pytest.raises(ProviderError, match=message):
        refused.up()
    assert refused.secrets().document["users"]["alice"]["password"] == "first-pass-1"  # what Casdoor still has
    assert casdoor_emulator.user("demo", "alice")["password"] == "first-pass-1"


def test_wrong_issuer_in_tokens_is_caught_before_anything_is_created(lab, casdoor_emulator):
    casdoor_emulator.token_issuer = "https://casdoor.example.com/"
    with pytest.raises(ProviderError, match="Casdoor's tokens name the issuer 'https://casdoor.example.com/'"):
        lab.up()
    assert casdoor_emulator.requests.writes == 0
    assert not casdoor_emulator.requests.to(r"/api/(get|add)-(user|group)")


def test_groups_are_bound_as_the_token_carries_them(lab, casdoor_emulator):
    assert lab.provider.group_claim_value("devs") == "demo/devs"
    other = Lab(lab.paths.root.parent, casdoor={"organization": "acme"})
    assert other.provider.group_claim_value("devs") == "acme/devs"


def test_a_client_secret_kept_by_an_older_version_is_forgotten(lab, casdoor_emulator):
    secrets = lab.secrets()
    secrets.set_client_secret("old-admin-grade-secret")
    lab.up()
    assert lab.secrets().client_secret is None
    assert "old-admin-grade-secret" not in lab.paths.credentials.read_text()


def test_an_admin_application_without_client_credentials_leaves_the_issuer_check_to_the_labs_token(lab, casdoor_emulator):
    casdoor_emulator.directory.applications["app-built-in"]["grantTypes"].remove("client_credentials")
    casdoor_emulator.token_issuer = "https://casdoor.example.com/"
    with pytest.raises(ProviderError, match="Casdoor's tokens name the issuer 'https://casdoor.example.com/'"):
        lab.up()
    assert casdoor_emulator.user("demo", "alice") is not None  # caught only after the users exist
    lab.down()

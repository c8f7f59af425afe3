"""`provider: auth0` against the Auth0 emulator, through the real auth0-python SDK.

Each test reads like what an instructor sees: `lab up` makes the recipe's objects once, a second
`lab up` changes nothing, faults and interruptions never leave duplicates, `lab down` leaves the
tenant as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests

from provisioner.config import parse_config
from provisioner.errors import ProviderError
from provisioner.paths import LabPaths
from tests.support.quiet import SilentReporter
from provisioner.providers import provider_class
from provisioner.providers.auth0 import Auth0Provider
from provisioner.providers.auth0.api import ManagementApi
from provisioner.secrets import AUTH0_PASSWORD_REALM_GRANT, PASSWORD_GRANT, LabSecrets
from provisioner.state import LabState
from tests.emulators.auth0.faults import Fault


UPA = "Username-Password-Authentication"
WRITES = ("POST", "PATCH", "PUT", "DELETE")


class Interrupted(BaseException):
    """Stands in for Ctrl-C or a killed process in the middle of `lab up`."""


class RecordingReporter(SilentReporter):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[tuple[float, str]] = []
        self.warnings: list[str] = []

    def wait(self, seconds: float, reason: str) -> None:
        self.waits.append((seconds, reason))
        super().wait(seconds, reason)

    def warn(self, text: str) -> None:
        self.warnings.append(text)


@dataclass
class Lab:
    """One lab's provider, state and secrets, loaded from disk like a fresh `lab` process does."""

    provider: Auth0Provider
    state: LabState
    secrets: LabSecrets
    ui: RecordingReporter

    def up(self):
        self.provider.preflight()
        return self.provider.ensure(self.state, self.secrets)

    def down(self) -> None:
        self.provider.teardown(self.state, self.secrets)


@pytest.fixture
def lab_home(tmp_path, monkeypatch):
    monkeypatch.setenv("OIDC_LAB_HOME", str(tmp_path / "labs"))
    monkeypatch.setattr(Auth0Provider, "request_timeout", 1.5)
    monkeypatch.setattr(ManagementApi, "patience", 20.0)
    return tmp_path / "labs"


@pytest.fixture
def open_lab(lab_home):
    opened: list[Lab] = []

    def make(**document: Any) -> Lab:
        config = parse_config({"name": "ws1", "provider": "auth0", **document})
        paths = LabPaths.for_lab(config.name)
        ui = RecordingReporter()
        provider = provider_class("auth0")(config, paths, ui)
        lab = Lab(provider, LabState.load(paths, config.name), LabSecrets.load(paths) if paths.credentials.exists() else LabSecrets(paths), ui)
        opened.append(lab)
        return lab

    yield make
    for lab in opened:
        lab.provider.close()


def roster(count: int) -> list[dict[str, Any]]:
    return [{"email": f"learner{i:03d}@example.com", "name": f"Learner {i}"} for i in range(count)]


def writes(emulator, since: int = 0) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests[since:] if r.method in WRITES and r.path.startswith("/api/v2/")]


def lab_objects(emulator) -> dict[str, Any]:
    snapshot = emulator.snapshot()
    clients = [c for c in snapshot["clients"].values() if (c.get("client_metadata") or {}).get("oidc_lab") == "ws1"]
    connections = [c for c in snapshot["connections"].values() if c["name"] == "ws1-users"]
    users = [u for u in snapshot["users"].values() if (u.get("app_metadata") or {}).get("oidc_lab") == "ws1"]
    return {"clients": clients, "connections": connections, "users": users, "snapshot": snapshot}


def password_grant(emulator, lab: Lab, handle: str, *, with_realm: bool | None = None) -> dict[str, Any]:
    """What the credential plugin does with the TokenClient data: a password grant at the token endpoint."""
    client = lab.provider.token_client(lab.state, lab.secrets)
    user = lab.secrets.document["users"][handle]
    form = {
        "grant_type": client.grant_type,
        "client_id": client.client_id,
        "client_secret": client.client_secret,
        "username": user["login"],
        "password": user["password"],
        "scope": client.scope,
        **client.extra,
    }
    answer = requests.post(client.token_endpoint, data=form, verify=emulator.ca_file, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


# lab up ------------------------------------------------------------------------------------------
def test_lab_up_does_what_the_recipe_does_by_hand(auth0_emulator, open_lab):
    lab = open_lab(users=[{"email": "ada@example.com", "name": "Ada"}, {"email": "bo@example.com", "role": "view"}])
    issuer = lab.up()

    assert issuer.url == f"https://{auth0_emulator.domain}/"
    made = lab_objects(auth0_emulator)
    [client] = made["clients"]
    assert issuer.client_id == client["client_id"]
    assert client["app_type"] == "regular_web"
    assert set(client["grant_types"]) == {"password", AUTH0_PASSWORD_REALM_GRANT, "authorization_code", "refresh_token"}
    assert client["jwt_configuration"]["alg"] == "RS256"
    [connection] = made["connections"]
    assert connection["strategy"] == "auth0" and connection["metadata"] == {"oidc_lab": "ws1"}
    assert made["snapshot"]["enabled_clients"]["ws1-users"] == [client["client_id"]]
    assert made["snapshot"]["tenant_settings"]["default_directory"] == "ws1-users"
    assert sorted(u["email"] for u in made["users"]) == ["ada@example.com", "bo@example.com"]
    assert all(u["email_verified"] and u["connection"] == "ws1-users" for u in made["users"])


def test_secrets_stay_out_of_state_and_are_private(auth0_emulator, open_lab):
    lab = open_lab()
    lab.up()
    state_text = lab.state.paths.state.read_text()
    assert lab.secrets.client_secret and lab.secrets.client_secret not in state_text
    assert lab.secrets.document["users"]["learner"]["password"] not in state_text
    assert auth0_emulator.m2m_client_secret not in state_text
    management_token = lab.provider.api._bearer()
    assert management_token not in state_text and management_token not in lab.state.paths.credentials.read_text()
    assert oct(lab.state.paths.credentials.stat().st_mode & 0o777) == "0o600"


def test_the_plugin_gets_an_id_token_the_apiserver_would_accept(auth0_emulator, open_lab):
    lab = open_lab()
    issuer = lab.up()
    client = lab.provider.token_client(lab.state, lab.secrets)
    assert client.grant_type == PASSWORD_GRANT
    assert client.token_endpoint == f"https://{auth0_emulator.domain}/oauth/token"
    answer = password_grant(auth0_emulator, lab, "learner")
    claims = jwt.decode(answer["id_token"], options={"verify_signature": False})
    assert jwt.get_unverified_header(answer["id_token"])["alg"] == "RS256"
    assert claims["iss"] == issuer.url == f"https://{auth0_emulator.domain}/"
    assert claims["aud"] == issuer.client_id
    assert claims["email"] == "learner@example.com" and claims["email_verified"] is True
    assert answer.get("refresh_token")


def test_a_second_lab_up_makes_no_write_calls(auth0_emulator, open_lab):
    open_lab(users=roster(3)).up()
    before = len(auth0_emulator.requests)
    again = open_lab(users=roster(3))
    again.up()
    assert writes(auth0_emulator, before) == []
    assert len(lab_objects(auth0_emulator)["users"]) == 3


def test_users_removed_from_lab_yaml_are_deleted_on_the_next_lab_up(auth0_emulator, open_lab):
    open_lab(users=roster(3)).up()
    open_lab(users=roster(2)).up()
    emails = sorted(u["email"] for u in lab_objects(auth0_emulator)["users"])
    assert emails == ["learner000@example.com", "learner001@example.com"]


def test_a_changed_user_in_lab_yaml_is_updated_not_recreated(auth0_emulator, open_lab):
    open_lab(users=[{"email": "ada@example.com", "name": "Ada"}]).up()
    [before] = lab_objects(auth0_emulator)["users"]
    lab = open_lab(users=[{"email": "ada@example.com", "name": "Ada Lovelace", "password": "Chosen-Passw0rd!"}])
    lab.up()
    [after] = lab_objects(auth0_emulator)["users"]
    assert after["user_id"] == before["user_id"] and after["name"] == "Ada Lovelace"
    assert password_grant(auth0_emulator, lab, "ada")["id_token"]


# ownership -----------------------------------------------------------------------------------------
def test_a_same_named_application_of_someone_else_stops_lab_up_before_any_change(auth0_emulator, open_lab):
    auth0_emulator.seed_client("oidc-lab ws1", app_type="spa")
    before = auth0_emulator.snapshot()
    with pytest.raises(ProviderError, match="already has an application named 'oidc-lab ws1'") as refused:
        open_lab().up()
    assert "auth0.application" in refused.value.hint
    assert auth0_emulator.snapshot() == before


def test_a_same_named_connection_of_someone_else_is_refused_unless_lab_yaml_names_it(auth0_emulator, open_lab):
    auth0_emulator.seed_connection("ws1-users")
    with pytest.raises(ProviderError, match="connection named 'ws1-users'") as refused:
        open_lab().up()
    assert "auth0.connection: ws1-users" in refused.value.hint


def test_a_borrowed_connection_is_used_and_left_as_it_was(auth0_emulator, open_lab):
    before = auth0_emulator.snapshot()
    lab = open_lab(auth0={"connection": UPA})
    lab.up()
    made = lab_objects(auth0_emulator)
    assert not made["connections"]  # no connection of its own
    [client] = made["clients"]
    assert client["client_id"] in made["snapshot"]["enabled_clients"][UPA]
    assert [u["connection"] for u in made["users"]] == [UPA]
    assert lab.provider.status(lab.state)["connection_borrowed"] is True
    assert password_grant(auth0_emulator, lab, "learner")["id_token"]
    lab.down()
    assert auth0_emulator.snapshot() == before


def test_a_borrowed_connection_must_be_a_database(auth0_emulator, open_lab):
    auth0_emulator.seed_connection("corp-google", strategy="google-oauth2")
    with pytest.raises(ProviderError, match="not a username/password database"):
        open_lab(auth0={"connection": "corp-google"}).up()


def test_a_user_of_someone_else_in_a_borrowed_connection_is_not_taken_over(auth0_emulator, open_lab):
    auth0_emulator.seed_user("learner@example.com", "Their-0wn-password!")
    with pytest.raises(ProviderError, match="already has a user learner@example.com"):
        open_lab(auth0={"connection": UPA}).up()
    assert auth0_emulator.user_by_email("learner@example.com").profile.get("app_metadata") in (None, {})


# the tenant's default directory ------------------------------------------------------------------------
def test_default_directory_is_set_then_restored_by_lab_down(auth0_emulator, open_lab):
    auth0_emulator.set_default_directory(UPA)
    before = auth0_emulator.snapshot()
    lab = open_lab()
    lab.up()
    assert auth0_emulator.snapshot()["tenant_settings"]["default_directory"] == "ws1-users"
    lab.down()
    assert auth0_emulator.snapshot() == before


def test_without_set_default_directory_the_tenant_is_untouched_and_the_plugin_uses_the_realm(auth0_emulator, open_lab):
    lab = open_lab(auth0={"set_default_directory": False})
    lab.up()
    assert "default_directory" not in auth0_emulator.snapshot()["tenant_settings"]
    assert auth0_emulator.count("PATCH", r"^/api/v2/tenants/settings$") == 0
    client = lab.provider.token_client(lab.state, lab.secrets)
    assert client.grant_type == AUTH0_PASSWORD_REALM_GRANT and client.extra == {"realm": "ws1-users"}
    answer = password_grant(auth0_emulator, lab, "learner")
    assert jwt.decode(answer["id_token"], options={"verify_signature": False})["iss"] == f"https://{auth0_emulator.domain}/"


def test_turning_set_default_directory_off_later_restores_the_tenant(auth0_emulator, open_lab):
    open_lab().up()
    open_lab(auth0={"set_default_directory": False}).up()
    assert "default_directory" not in auth0_emulator.snapshot()["tenant_settings"]


# lab down -------------------------------------------------------------------------------------------------
def test_lab_down_leaves_the_tenant_exactly_as_before(auth0_emulator, open_lab):
    before = auth0_emulator.snapshot()
    lab = open_lab(users=roster(3))
    lab.up()
    lab.down()
    assert auth0_emulator.snapshot() == before
    assert lab.state.section("provider") == {}
    assert lab.secrets.client_secret is None


def test_lab_down_twice_is_harmless(auth0_emulator, open_lab):
    before = auth0_emulator.snapshot()
    lab = open_lab()
    lab.up()
    lab.down()
    open_lab().down()
    assert auth0_emulator.snapshot() == before


def test_lab_down_tolerates_objects_already_deleted_by_hand(auth0_emulator, open_lab):
    before = auth0_emulator.snapshot()
    lab = open_lab()
    lab.up()
    management = auth0_emulator.management_client()
    management.users.delete(lab.state.section("provider")["users"]["learner"]["user_id"])
    management.clients.delete(lab.state.section("provider")["application"]["client_id"])
    open_lab().down()
    assert auth0_emulator.snapshot() == before


# interruptions and faults -----------------------------------------------------------------------------------
STEPS = ["create_client", "create_connection", "set_enabled_clients", "set_default_directory", "create_user", "start_import"]


@pytest.mark.parametrize("step", STEPS)
def test_lab_up_stopped_after_any_step_converges_on_the_next_run(auth0_emulator, open_lab, monkeypatch, step):
    users = roster(3) if step != "start_import" else roster(25)
    original = getattr(ManagementApi, step)

    def then_stop(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise Interrupted(step)

    monkeypatch.setattr(ManagementApi, step, then_stop)
    with pytest.raises(Interrupted):
        open_lab(users=users).up()
    monkeypatch.setattr(ManagementApi, step, original)

    lab = open_lab(users=users)
    lab.up()
    made = lab_objects(auth0_emulator)
    assert len(made["clients"]) == 1 and len(made["connections"]) == 1
    assert sorted(u["email"] for u in made["users"]) == sorted(u["email"] for u in users)
    assert password_grant(auth0_emulator, lab, "learner000")["id_token"]


@pytest.mark.parametrize("step", STEPS)
def test_lab_down_after_a_stopped_lab_up_leaves_no_trace(auth0_emulator, open_lab, monkeypatch, step):
    before = auth0_emulator.snapshot()
    original = getattr(ManagementApi, step)

    def then_stop(self, *args, **kwargs):
        original(self, *args, **kwargs)
        raise Interrupted(step)

    monkeypatch.setattr(ManagementApi, step, then_stop)
    with pytest.raises(Interrupted):
        open_lab(users=roster(25) if step == "start_import" else roster(2)).up()
    monkeypatch.setattr(ManagementApi, step, original)
    auth0_emulator.run_jobs()
    open_lab(users=roster(25) if step == "start_import" else roster(2)).down()
    assert auth0_emulator.snapshot() == before


CREATES = [
    ("POST", r"^/api/v2/clients$"),
    ("POST", r"^/api/v2/connections$"),
    ("POST", r"^/api/v2/users$"),
    ("PATCH", r"^/api/v2/connections/[^/]+/clients$"),
    ("PATCH", r"^/api/v2/tenants/settings$"),
    ("GET", r"^/api/v2/clients$"),
]


@pytest.mark.parametrize("fault", ["429", "500", "timeout", "drop_after_act"])
@pytest.mark.parametrize("method, path", CREATES)
def test_a_fault_at_any_call_leaves_no_duplicates(auth0_emulator, open_lab, method, path, fault):
    auth0_emulator.inject(method, path, Fault.timeout(hold=3.0) if fault == "timeout" else fault)
    lab = open_lab(users=roster(2))
    lab.up()
    made = lab_objects(auth0_emulator)
    assert len(made["clients"]) == 1 and len(made["connections"]) == 1
    assert sorted(u["email"] for u in made["users"]) == ["learner000@example.com", "learner001@example.com"]
    assert auth0_emulator.faults.pending() == 0
    assert password_grant(auth0_emulator, lab, "learner001")["id_token"]


def test_a_429_storm_is_waited_out_visibly(auth0_emulator, open_lab):
    auth0_emulator.inject("*", r"^/api/v2/", Fault.rate_limited(reset_in=1), times=3)
    lab = open_lab()
    lab.up()
    assert len(lab_objects(auth0_emulator)["clients"]) == 1
    assert sum("rate limit" in reason for _, reason in lab.ui.waits) >= 3


def test_a_rate_limit_that_never_clears_is_one_sentence(auth0_emulator, open_lab, monkeypatch):
    monkeypatch.setattr(ManagementApi, "patience", 2.0)
    auth0_emulator.inject("*", r"^/api/v2/", Fault.rate_limited(reset_in=1), times=100)
    with pytest.raises(ProviderError, match="rate limit .* did not clear") as refused:
        open_lab().up()
    assert "run the command again" in refused.value.hint


# big rosters ----------------------------------------------------------------------------------------------------
def test_200_users_fit_a_free_tenant_budget_through_the_bulk_import(auth0_emulator, open_lab):
    auth0_emulator.set_rate_limit(2, burst=2)  # a free tenant
    auth0_emulator.tenant.search_lag = 2.0  # and its lagging user search
    lab = open_lab(users=roster(200))
    lab.up()
    management = [r for r in auth0_emulator.requests if r.path.startswith("/api/v2/")]
    assert auth0_emulator.count("POST", r"^/api/v2/jobs/users-imports$") == 1
    assert auth0_emulator.count("POST", r"^/api/v2/users$") == 0
    assert len(management) <= 12
    assert not [r for r in management if r.status == 429]
    made = lab_objects(auth0_emulator)
    assert len(made["users"]) == 200 and all(u["email_verified"] for u in made["users"])
    assert len(lab.state.section("provider")["users"]) == 200
    assert password_grant(auth0_emulator, lab, "learner199")["id_token"]


def test_bulk_import_failures_are_reported_per_user(auth0_emulator, open_lab, monkeypatch):
    from provisioner.providers.auth0 import bulk_import as provider_module

    def broken_for_one(password, *, generated):
        return "not-a-bcrypt-hash" if password == "Broken-Passw0rd!" else provider_module.bcrypt_hash.__wrapped__(password, generated=generated)

    users = roster(20) + [{"email": "odd@example.com", "password": "Broken-Passw0rd!"}]
    monkeypatch.setattr(provider_module, "bcrypt_hash", _wrapping(provider_module.bcrypt_hash, broken_for_one))
    lab = open_lab(users=users, auth0={"bulk_import_threshold": 5})
    with pytest.raises(ProviderError, match=r"refused 1 user\(s\): odd@example.com") as refused:
        lab.up()
    assert "lab.yaml" in refused.value.hint
    assert len(lab_objects(auth0_emulator)["users"]) == 20


def _wrapping(original, replacement):
    replacement.__wrapped__ = original
    return replacement


# errors a user meets ---------------------------------------------------------------------------------------------------
def test_bad_credentials_are_one_sentence_before_any_change(auth0_emulator, open_lab, monkeypatch):
    monkeypatch.setenv("AUTH0_CLIENT_SECRET", "wrong")
    before = auth0_emulator.snapshot()
    with pytest.raises(ProviderError) as refused:
        open_lab().provider.preflight()
    assert "rejected the machine-to-machine credentials" in refused.value.message
    assert "AUTH0_CLIENT_SECRET" in refused.value.hint
    assert "wrong" not in refused.value.message + refused.value.hint
    assert auth0_emulator.snapshot() == before


def test_missing_scopes_are_listed_before_any_change(auth0_emulator, open_lab):
    from tests.emulators.auth0.server import DEFAULT_SCOPES

    auth0_emulator.set_scopes(DEFAULT_SCOPES - {"delete:users", "update:tenant_settings"})
    with pytest.raises(ProviderError) as refused:
        open_lab().provider.preflight()
    assert "delete:users" in refused.value.message and "update:tenant_settings" in refused.value.message
    assert "Machine To Machine" in refused.value.hint


def test_a_scope_removed_after_preflight_is_named_by_the_failing_call(auth0_emulator, open_lab):
    lab = open_lab()
    lab.provider.preflight()
    auth0_emulator.inject(
        "POST", r"^/api/v2/clients$",
        Fault.error(403, {"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: create:clients", "errorCode": "insufficient_scope"}),
    )
    with pytest.raises(ProviderError, match="lacks the scope create:clients"):
        lab.provider.ensure(lab.state, lab.secrets)


@pytest.mark.parametrize(
    "domain, reason",
    [
        ("dev-lab.invalid", "does not resolve"),
        ("127.0.0.1:9", "connection was refused"),
        ("https://dev-x.auth0.com", "without https://"),
    ],
)
def test_a_wrong_domain_is_one_sentence(auth0_emulator, open_lab, monkeypatch, domain, reason):
    monkeypatch.setenv("AUTH0_DOMAIN", domain)
    with pytest.raises(ProviderError) as refused:
        open_lab().provider.preflight()
    assert reason in refused.value.message + refused.value.hint
    assert "AUTH0_DOMAIN" in refused.value.message + refused.value.hint


def test_missing_credentials_name_the_variables(auth0_emulator, open_lab, monkeypatch):
    monkeypatch.delenv("AUTH0_CLIENT_SECRET")
    with pytest.raises(ProviderError, match="AUTH0_CLIENT_SECRET is not set"):
        open_lab().provider.preflight()


def test_a_lab_is_not_torn_down_on_another_tenant(auth0_emulator, open_lab, monkeypatch):
    open_lab().up()
    monkeypatch.setenv("AUTH0_DOMAIN", "dev-other.eu.auth0.com")
    with pytest.raises(ProviderError, match="was built on the Auth0 tenant 127.0.0.1"):
        open_lab().down()


def test_unverified_users_are_warned_about(auth0_emulator, open_lab):
    lab = open_lab(users=[{"email": "ada@example.com", "email_verified": False}])
    lab.up()
    assert any("email_verified: false" in warning for warning in lab.ui.warnings)
    [user] = lab_objects(auth0_emulator)["users"]
    assert user["email_verified"] is False


def test_the_password_grant_without_a_default_directory_is_explained(auth0_emulator, open_lab):
    from provisioner.providers.auth0.failures import login_refused

    lab = open_lab()
    lab.up()
    auth0_emulator.set_default_directory(None)
    client = lab.provider.token_client(lab.state, lab.secrets)
    user = lab.secrets.document["users"]["learner"]
    answer = requests.post(
        client.token_endpoint,
        data={"grant_type": "password", "client_id": client.client_id, "client_secret": client.client_secret,
              "username": user["login"], "password": user["password"], "scope": client.scope},
        verify=auth0_emulator.ca_file, timeout=10,
    ).json()
    problem = login_refused(answer["error"], answer["error_description"], domain=auth0_emulator.domain, login=user["login"], connection="ws1-users")
    assert "no default directory" in problem.message and "set_default_directory" in problem.hint


# plan and status ----------------------------------------------------------------------------------------------------------
def test_plan_lists_what_lab_up_would_make_and_changes_nothing(auth0_emulator, open_lab):
    before = auth0_emulator.snapshot()
    lab = open_lab(users=roster(2))
    lab.provider.preflight()
    changes = lab.provider.plan(lab.state, lab.secrets)
    assert auth0_emulator.snapshot() == before
    text = "\n".join(changes)
    assert "create the Auth0 application 'oidc-lab ws1'" in text
    assert "create the database connection 'ws1-users'" in text
    assert "default directory" in text and "create 2 user(s)" in text
    lab.up()
    assert open_lab(users=roster(2)).provider.plan(lab.state, lab.secrets) == []


def test_status_shows_the_lab_without_secrets(auth0_emulator, open_lab):
    lab = open_lab()
    issuer = lab.up()
    status = lab.provider.status(lab.state)
    assert status["issuer"] == issuer.url and status["client_id"] == issuer.client_id
    assert status["users"] == 1 and status["connection"] == "ws1-users"
    assert lab.secrets.client_secret not in json.dumps(status)


def test_rbac_names_users_by_the_claims_auth0_will_put_in_their_tokens(auth0_emulator, open_lab):
    lab = open_lab(users=[{"email": "Ada.Lovelace@Example.com", "name": "Ada"}])
    lab.up()
    claims = jwt.decode(password_grant(auth0_emulator, lab, "ada.lovelace")["id_token"], options={"verify_signature": False})
    user = lab.provider.lab.users[0]
    for claim in ("email", "name", "nickname", "sub"):
        assert lab.provider.claim_value(user, claim) == claims[claim]
    with pytest.raises(Exception, match="preferred_username"):
        lab.provider.claim_value(user, "preferred_username")


@pytest.mark.parametrize("fault", ["500", "timeout", "drop_after_act"])
def test_a_lost_answer_to_the_bulk_import_makes_no_duplicate_users(auth0_emulator, open_lab, fault):
    auth0_emulator.inject("POST", r"^/api/v2/jobs/users-imports$", Fault.timeout(hold=3.0) if fault == "timeout" else fault)
    lab = open_lab(users=roster(25))
    lab.up()
    made = lab_objects(auth0_emulator)
    assert sorted(u["email"] for u in made["users"]) == [u["email"] for u in roster(25)]
    assert auth0_emulator.count("PATCH", r"^/api/v2/users/") == 0  # the stored passwords were already theirs
    assert password_grant(auth0_emulator, lab, "learner024")["id_token"]



def test_an_expired_management_token_is_renewed_mid_run(auth0_emulator, open_lab):
    lab = open_lab()
    lab.provider.preflight()
    auth0_emulator.expire_management_tokens()
    lab.provider.ensure(lab.state, lab.secrets)
    assert len(lab_objects(auth0_emulator)["clients"]) == 1
    assert auth0_emulator.count("POST", r"^/oauth/token$") == 2


def test_a_bulk_import_job_that_fails_as_a_whole_says_so_and_records_no_users(auth0_emulator, open_lab):
    auth0_emulator.inject("GET", r"^/api/v2/jobs/[^/]+$", Fault.error(200, {"id": "job_x", "status": "failed", "type": "users_import"}))
    auth0_emulator.inject(
        "GET", r"^/api/v2/jobs/job_x/errors$",
        Fault.error(200, {"id": "job_x", "type": "users_import", "status": "failed", "status_details": "Invalid users file"}),
    )
    lab = open_lab(users=roster(3), auth0={"bulk_import_threshold": 2})
    with pytest.raises(ProviderError, match=r"failed as a whole \(Invalid users file\)"):
        lab.up()
    assert lab.state.section("provider")["users"] == {}

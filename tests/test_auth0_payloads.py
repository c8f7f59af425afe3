"""The Auth0 payloads and records, checked against real recorded Auth0 traffic and the SDK, offline."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from urllib.parse import unquote

import bcrypt
import pytest
import yaml

from provisioner.config import parse_config
from provisioner.errors import ProviderError
from provisioner.providers.auth0 import application as auth0_application
from provisioner.providers.auth0 import bulk_import, directory, failures, marks, scopes, users
from provisioner.providers.auth0 import connection as auth0_connection
from provisioner.providers.auth0.pacing import RateBudget, retry_delay
from provisioner.providers.auth0.passwords import bcrypt_hash
from provisioner.providers.auth0.records import Auth0Record
from provisioner.providers.auth0.scopes import granted_scopes as _granted_scopes
from provisioner.providers.auth0.tenant import tenant_domain

RECORDINGS = Path("/work/shared/reference/auth0/recordings")


def recorded(cassette: str, method: str, path_prefix: str) -> list[tuple[object, int, object]]:
    """(request body, response code, response body) of each recorded exchange matching method and path."""
    exchanges = []
    for interaction in yaml.safe_load((RECORDINGS / cassette).read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        path = unquote(request["url"].split(".auth0.com", 1)[1].split("?", 1)[0])
        if request["method"] == method and path.startswith(path_prefix):
            body = json.loads(request["body"]) if request["body"] else None
            answer = json.loads(response["body"]) if response["body"] else None
            exchanges.append((body, response["code"], answer))
    assert exchanges, f"no {method} {path_prefix} in {cassette}"
    return exchanges


def lab(**overrides):
    document = {"name": "ws1", "provider": "auth0", "users": [{"email": "Ada@Example.com", "name": "Ada"}]}
    document.update(overrides)
    return parse_config(document)


def sdk_parameters(method) -> set[str]:
    return {name for name in inspect.signature(method).parameters if name not in ("self", "request_options")}


# expand ---------------------------------------------------------------------------------------------
def test_client_payload_asks_for_the_password_grants_and_rs256_and_is_marked():
    payload = auth0_application.client_payload(lab())
    assert payload["name"] == "oidc-lab ws1"
    assert payload["app_type"] == "regular_web"
    # authorization_code (issue 10): browser sign-in and `lab serve`'s page, whose callback is registered
    assert set(payload["grant_types"]) == {"password", "http://auth0.com/oauth/grant-type/password-realm",
                                           "authorization_code", "refresh_token"}
    assert payload["callbacks"] == ["https://127.0.0.1:8443/me"]
    assert payload["jwt_configuration"] == {"alg": "RS256"}
    assert payload["client_metadata"] == {"oidc_lab": "ws1"}
    assert all(isinstance(value, str) for value in payload["client_metadata"].values())


@pytest.mark.parametrize(
    "build, sdk_method",
    [
        (lambda: auth0_application.client_payload(lab()), "clients.create"),
        (lambda: auth0_connection.connection_payload(lab()), "connections.create"),
        (lambda: users.user_payload(lab(), lab().users[0], "ws1-users", "pw"), "users.create"),
        (lambda: directory.default_directory_patch("ws1-users"), "tenants.settings.update"),
        (lambda: {**users.user_drift(lab(), lab().users[0], {}), "password": "x"}, "users.update"),
    ],
)
def test_every_payload_field_is_one_the_sdk_sends(build, sdk_method):
    from auth0.management.client import Auth0

    target = Auth0(base_url="https://example.invalid/api/v2", token="t")
    for part in sdk_method.split("."):
        target = getattr(target, part)
    assert set(build()) <= sdk_parameters(target)


@pytest.mark.parametrize(
    "cassette",
    ["TestAccConnection.yaml", "TestAccConnectionClient.yaml", "TestAccConnectionClients.yaml"],
)
def test_connection_payload_has_the_recorded_shape_plus_the_mark(cassette):
    body, code, answer = recorded(cassette, "POST", "/api/v2/connections")[0]
    payload = auth0_connection.connection_payload(lab())
    assert code == 201
    assert {"name", "strategy"} <= set(body) and body["strategy"] == payload["strategy"] == "auth0"
    assert set(payload) - set(body) <= {"metadata"}


def test_enable_client_payload_is_the_recorded_connection_clients_patch():
    body, code, answer = recorded("TestAccConnectionClients.yaml", "PATCH", "/api/v2/connections/")[0]
    assert code == 204 and answer is None
    mine = auth0_connection.enable_client_payload("abc")
    assert [set(entry) for entry in mine] == [set(entry) for entry in body]
    assert mine == [{"client_id": "abc", "status": True}]
    assert auth0_connection.enable_client_payload("abc", enabled=False) == [{"client_id": "abc", "status": False}]


def test_user_payload_sets_email_verified_skips_the_verification_mail_and_marks_the_user():
    user = lab(users=[{"email": "Bo@Example.com", "email_verified": False}]).users[0]
    payload = users.user_payload(lab(), user, "ws1-users", "S3cret!9")
    recorded_body = recorded("TestAccUser.yaml", "POST", "/api/v2/users")[0][0]
    assert {"connection", "email", "password"} <= set(recorded_body) & set(payload)
    assert payload["email"] == "bo@example.com"
    assert payload["email_verified"] is False and payload["verify_email"] is False
    assert payload["app_metadata"] == {"oidc_lab": "ws1"}
    assert payload["connection"] == "ws1-users"


@pytest.mark.parametrize(
    "config, application, connection",
    [
        ({}, "oidc-lab ws1", "ws1-users"),
        ({"auth0": {"application": "k8s", "connection": "Username-Password-Authentication"}}, "k8s", "Username-Password-Authentication"),
    ],
)
def test_names_default_from_the_lab_and_yield_to_lab_yaml(config, application, connection):
    config_lab = lab(**config)
    assert auth0_application.application_name(config_lab) == application
    assert auth0_connection.connection_name(config_lab) == connection
    assert auth0_connection.connection_is_named_by_config(config_lab) == bool(config)


def test_import_rows_carry_a_bcrypt_hash_never_the_password():
    user = lab().users[0]
    row = bulk_import.import_row(lab(), user, bcrypt_hash("pa55-Word!", generated=True))
    assert "password" not in row and "pa55-Word!" not in json.dumps(row)
    assert row["custom_password_hash"]["algorithm"] == "bcrypt"
    assert bcrypt.checkpw(b"pa55-Word!", row["custom_password_hash"]["hash"]["value"].encode())
    assert row["email_verified"] is True and row["app_metadata"] == {"oidc_lab": "ws1"}


def test_chosen_passwords_get_the_full_bcrypt_work_factor():
    assert bcrypt_hash("x", generated=True).startswith("$2b$04$")
    assert bcrypt_hash("x", generated=False).startswith("$2b$10$")


def test_import_files_split_under_the_size_limit_and_keep_every_row():
    rows = [{"email": f"user{i}@example.com", "pad": "x" * 100} for i in range(50)]
    files = bulk_import.import_files(rows, limit=1_000)
    assert len(files) > 1
    assert all(len(f) <= 1_000 for f in files)
    assert [row for f in files for row in json.loads(f)] == rows
    assert bulk_import.import_files([]) == []


# flatten ---------------------------------------------------------------------------------------------
def test_client_record_from_a_recorded_create_keeps_no_secret():
    _, code, answer = recorded("TestAccConnectionClient.yaml", "POST", "/api/v2/clients")[0]
    assert code == 201 and "client_secret" in answer
    record = auth0_application.client_record(answer)
    assert record.to_json() == {"client_id": answer["client_id"], "name": answer["name"]}


def test_a_recorded_default_client_drifts_to_the_lab_settings():
    """Auth0's defaults (no alg: HS256; authorization_code etc.) are not what kube-apiserver needs."""
    _, _, answer = recorded("TestAccConnectionClient.yaml", "POST", "/api/v2/clients")[0]
    drift = auth0_application.client_drift(lab(), answer)
    assert drift["jwt_configuration"] == {"alg": "RS256"}
    assert set(drift["grant_types"]) == set(auth0_application.GRANT_TYPES)
    assert drift["oidc_conformant"] is True
    in_sync = {**answer, **auth0_application.client_payload(lab())}
    assert auth0_application.client_drift(lab(), in_sync) == {}


@pytest.mark.parametrize("created", [True, False])
def test_connection_record_from_a_recorded_create(created):
    _, _, answer = recorded("TestAccConnection.yaml", "POST", "/api/v2/connections")[0]
    assert auth0_connection.connection_record(answer, created=created).to_json() == {"id": answer["id"], "name": answer["name"], "created": created}


def test_user_record_and_connection_from_a_recorded_user():
    _, code, answer = recorded("TestAccUser.yaml", "POST", "/api/v2/users")[0]
    assert code == 201
    assert users.user_record(answer).to_json() == {"user_id": "auth0|testaccuser", "email": "testaccuser@acceptance.test.com"}
    assert users.user_connection(answer) == "Username-Password-Authentication"
    assert users.user_connection({}) is None


def test_recorded_tenant_settings_carry_the_default_directory():
    _, _, answer = recorded("TestAccTenantDefaults.yaml", "GET", "/api/v2/tenants/settings")[0]
    assert "default_directory" in answer


@pytest.mark.parametrize(
    "api_user, drift",
    [
        ({"email_verified": True, "name": "Ada"}, {}),
        ({"email_verified": False, "name": "Ada"}, {"email_verified": True}),
        ({"email_verified": True, "name": "ada@example.com"}, {"name": "Ada"}),
    ],
)
def test_user_drift(api_user, drift):
    assert users.user_drift(lab(), lab().users[0], api_user) == drift


@pytest.mark.parametrize(
    "metadata, ours",
    [({"oidc_lab": "ws1"}, True), ({"oidc_lab": "other"}, False), ({}, False), (None, False)],
)
def test_the_mark_tells_ours_from_others(metadata, ours):
    assert marks.is_ours(metadata, lab()) is ours


def test_import_failures_name_each_refused_user():
    errors = [
        {"user": {"email": "a@x.io"}, "errors": [{"code": "DUPLICATED_USER", "message": "The user already exists."}]},
        {"user": {"email": "b@x.io"}, "errors": [{"code": "INVALID_FORMAT", "message": "password not allowed"}]},
    ]
    assert bulk_import.import_failures(errors) == [
        ("a@x.io", "DUPLICATED_USER", "The user already exists."),
        ("b@x.io", "INVALID_FORMAT", "password not allowed"),
    ]
    assert bulk_import.import_failures(None) == []
    whole_job = {"id": "job_1", "type": "users_import", "status": "failed", "status_details": "Invalid file"}
    assert bulk_import.import_failures(whole_job) == []
    assert bulk_import.job_failure(whole_job) == "Invalid file"


# failures -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "status, body, must_say",
    [
        (401, {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}, "AUTH0_CLIENT_SECRET"),
        (
            403,
            {"statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: create:clients", "errorCode": "insufficient_scope"},
            "create:clients",
        ),
        (429, {"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached"}, "rate limit"),
        (500, {"statusCode": 500, "error": "Internal Server Error", "message": "boom"}, "HTTP 500"),
        (400, "not json", "HTTP 400"),
    ],
)
def test_api_failures_are_one_sentence_with_a_fix(status, body, must_say):
    error = failures.api_failure(status, body, "creating the application", "dev-x.eu.auth0.com")
    assert isinstance(error, ProviderError)
    assert must_say in error.message + error.hint
    assert "\n" not in error.message and error.hint


def test_missing_scope_hint_lists_every_scope_the_lab_needs():
    error = failures.api_failure(403, {"message": "Insufficient scope, expected any of: delete:users", "errorCode": "insufficient_scope"}, "x", "d")
    assert "delete:users" in error.message
    assert all(scope in error.hint for scope in scopes.REQUIRED_SCOPES)


@pytest.mark.parametrize(
    "error, description, must_say",
    [
        ("server_error", "Authorization server not configured with default connection.", "default directory"),
        ("unauthorized_client", "Grant type 'password' not allowed for the client.", "Grant Types"),
        ("invalid_grant", "Wrong email or password.", "password of ada@example.com"),
        ("access_denied", "email not verified", "email_verified: true"),
        ("invalid_request", "the connection was disabled", "not enabled for the Auth0 application"),
    ],
)
def test_login_refusals_explain_the_tenant_setting_behind_them(error, description, must_say):
    problem = failures.login_refused(error, description, domain="d", login="ada@example.com", connection="ws1-users")
    assert must_say in problem.message + problem.hint


def test_scopes_are_read_from_the_token_answer_or_the_token_itself():
    assert _granted_scopes({"access_token": "x", "scope": "read:clients create:clients"}) == ["read:clients", "create:clients"]
    claims = json.dumps({"scope": "read:users"}).encode()
    import base64

    token = "h." + base64.urlsafe_b64encode(claims).decode().rstrip("=") + ".s"
    assert _granted_scopes({"access_token": token}) == ["read:users"]
    assert _granted_scopes({"access_token": "opaque"}) is None
    assert scopes.missing_scopes(scopes.REQUIRED_SCOPES) == []
    assert scopes.missing_scopes(["read:clients"])[0] == "create:clients"


# domains and rate limits ---------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["dev-abc123.us.auth0.com", "127.0.0.1:8443", "localhost:9000", "Login.Example.COM/"])
def test_tenant_domains_accepted(raw):
    assert tenant_domain(raw)


@pytest.mark.parametrize("raw", ["https://dev-abc.auth0.com", "not a domain", "10.0.0.1:443"])
def test_tenant_domains_refused_with_the_variable_named(raw):
    with pytest.raises(ProviderError, match="AUTH0_DOMAIN"):
        tenant_domain(raw)


def test_retry_delay_prefers_retry_after_then_the_reset_time():
    assert retry_delay({"Retry-After": "3"}, now=100.0) == 3.0
    assert retry_delay({"X-RateLimit-Reset": "105"}, now=100.0) == 5.0
    assert retry_delay({"X-RateLimit-Reset": "99"}, now=100.0) == 0.2
    assert retry_delay({}, now=100.0) == 1.0


def test_the_budget_holds_a_request_only_when_no_token_remains():
    budget = RateBudget()
    assert budget.delay(now=100.0) == 0.0
    budget.observe({"x-ratelimit-limit": "2", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "101"}, now=100.0)
    assert budget.delay(now=100.0) == 0.0
    budget.spend()
    assert budget.delay(now=100.0) == 0.5  # one token of a 2-per-second bucket
    assert budget.delay(now=100.4) == pytest.approx(0.1)
    assert budget.delay(now=102.0) == 0.0
    budget.forget()
    assert budget.delay(now=100.0) == 0.0


@pytest.mark.parametrize("raw", ["login.example.com:8443", "[::1]:8443", "auth.internal"])
def test_custom_domains_and_proxies_with_a_port_are_accepted(raw):
    assert tenant_domain(raw) == raw


@pytest.mark.parametrize(
    "raw, must_say",
    [
        ("login.example.com:443", "write login.example.com"),  # Auth0's iss never carries the default port
        ("login.example.com:70000", "port"),
        ("login.example.com:", "port"),
        ("ada@login.example.com", "not a domain name"),
        ("login.example.com/path", "not a domain name"),
    ],
)
def test_domains_that_could_not_be_the_issuer_are_refused(raw, must_say):
    with pytest.raises(ProviderError, match="AUTH0_DOMAIN") as refused:
        tenant_domain(raw)
    assert must_say in refused.value.message


# state records ---------------------------------------------------------------------------------------------
SECTION_AS_WRITTEN = {  # the provider's state section as every version so far has written it
    "kind": "auth0",
    "domain": "dev-x.eu.auth0.com",
    "application": {"client_id": "abc", "name": "oidc-lab ws1"},
    "connection": {"id": "con_1", "name": "Username-Password-Authentication", "created": False, "enabled_client": "abc"},
    "default_directory": {"previous": None, "value": "Username-Password-Authentication"},
    "users": {"ada": {"user_id": "auth0|oidclab1", "email": "ada@example.com"}},
    "import_jobs": ["job_1"],
}


def test_a_state_section_loads_into_typed_records_and_is_written_back_unchanged():
    record = Auth0Record.from_json(SECTION_AS_WRITTEN)
    assert record.connection.enabled_client == "abc" and not record.connection.created
    assert record.users["ada"].user_id == "auth0|oidclab1"
    assert record.to_json() == SECTION_AS_WRITTEN
    own = {**SECTION_AS_WRITTEN, "connection": {"id": "con_2", "name": "ws1-users", "created": True}}
    del own["default_directory"], own["import_jobs"]
    assert Auth0Record.from_json(own).to_json() == own
    assert Auth0Record.from_json({}).is_empty() and Auth0Record().to_json() == {}

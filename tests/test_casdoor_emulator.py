"""The Casdoor emulator answers the real `casdoor` SDK (and the recipe's raw requests) as Casdoor does."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import requests
from casdoor import CasdoorSDK
from casdoor.application import Application
from casdoor.organization import Organization
from casdoor.user import User

from tests.emulators.casdoor import CasdoorEmulator

TOKEN = "/api/login/oauth/access_token"
REFRESH = "/api/login/oauth/refresh_token"


def admin_sdk(emulator: CasdoorEmulator, secret: str | None = None) -> CasdoorSDK:
    return CasdoorSDK(emulator.endpoint, emulator.admin_client_id, secret or emulator.admin_client_secret,
                      emulator.certificate_pem.decode(), "built-in", "app-built-in")


def make_lab_app(emulator: CasdoorEmulator, grant_types=("password", "refresh_token"), hours=1) -> CasdoorSDK:
    """An organization `team`, an application `team-app` and user `alice` (groups devs), made with the SDK."""
    sdk = admin_sdk(emulator)
    org = Organization()
    org.name = "team"
    assert sdk.add_organization(org) == "Affected"
    app = Application()
    app.name, app.organization, app.grantTypes, app.expireInHours = "team-app", "team", list(grant_types), hours
    assert sdk.add_application(app) == "Affected"
    made = sdk.get_application("team-app")
    team = CasdoorSDK(emulator.endpoint, made.clientId, made.clientSecret, emulator.certificate_pem.decode(),
                      "team", "team-app")
    user = User()
    user.name, user.password, user.email, user.displayName = "alice", "s3cret-Pw", "alice@example.com", "Alice"
    user.emailVerified = True
    user.groups = ["devs"]
    assert team.add_user(user)["data"] == "Affected"
    return team


def verify(emulator: CasdoorEmulator, token: str, audience: str) -> dict:
    jwks = requests.get(emulator.endpoint + "/.well-known/jwks", timeout=5).json()
    key = jwt.PyJWK(jwks["keys"][0])
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=emulator.issuer)


# --- admin API through the SDK -------------------------------------------------------------------------
def test_sdk_creates_reads_and_deletes_objects_with_casdoors_envelope(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    alice = team.get_user("alice")
    assert (alice.email, alice.password) == ("alice@example.com", "***")  # Casdoor masks passwords
    assert team.get_user("nobody") is None  # data: null, not an error
    app = admin_sdk(casdoor_emulator).get_application("team-app")
    assert app.grantTypes == ["password", "refresh_token"] and len(app.clientId) == 20 and len(app.clientSecret) == 40

    assert team.delete_user(alice)["data"] == "Affected"
    assert team.delete_user(alice)["data"] == "Unaffected"
    assert casdoor_emulator.user("team", "alice") is None


def test_duplicates_and_missing_organizations_are_error_envelopes(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    again = User()
    again.name, again.email, again.displayName = "alice", "other@example.com", "x"
    with pytest.raises(Exception, match="Username already exists"):
        team.add_user(again)
    dotted = User()
    dotted.name, dotted.displayName = "ada.lovelace", "Ada"
    with pytest.raises(Exception, match="may only contain alphanumeric characters"):
        team.add_user(dotted)
    stray = Application()
    stray.name, stray.organization = "stray", "no-such-org"
    with pytest.raises(ValueError, match="organization: no-such-org does not exist"):
        admin_sdk(casdoor_emulator).add_application(stray)


def test_wrong_admin_secret_is_refused_with_200_and_unauthorized_operation(casdoor_emulator):
    # routers/authz_filter.go, denyRequest: HTTP 200 and Casdoor's error envelope.
    with pytest.raises(ValueError, match="Unauthorized operation"):
        admin_sdk(casdoor_emulator, secret="wrong").get_applications()
    reply = requests.get(casdoor_emulator.endpoint + "/api/get-applications", params={"owner": "admin"},
                         auth=(casdoor_emulator.admin_client_id, "wrong"), timeout=5)
    assert reply.status_code == 200 and reply.json() == {
        "status": "error", "msg": "Unauthorized operation", "data": None, "data2": None}


def test_a_wrong_basic_pair_makes_the_caller_anonymous_even_with_right_query_parameters(casdoor_emulator):
    url = casdoor_emulator.endpoint + "/api/get-organization"
    params = {"id": "admin/built-in", "clientId": casdoor_emulator.admin_client_id,
              "clientSecret": casdoor_emulator.admin_client_secret}
    reply = requests.get(url, params=params, auth=(casdoor_emulator.admin_client_id, "wrong"), timeout=5)
    assert reply.json()["msg"] == "Unauthorized operation"
    # Anonymous callers may read an application, with its secret masked.
    app = requests.get(casdoor_emulator.endpoint + "/api/get-application", params={"id": "admin/app-built-in"},
                       timeout=5).json()["data"]
    assert app["name"] == "app-built-in" and app["clientSecret"] == "***"
    refused = requests.post(casdoor_emulator.endpoint + "/api/delete-organization", json={"owner": "admin", "name": "x"},
                            timeout=5)
    assert refused.json()["msg"] == "Unauthorized operation"


def test_admin_credentials_work_as_http_basic_and_as_query_parameters(casdoor_emulator):
    url = casdoor_emulator.endpoint + "/api/get-organization"
    basic = requests.get(url, params={"id": "admin/built-in"}, timeout=5,
                         auth=(casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret))
    query = requests.get(url, timeout=5, params={"id": "admin/built-in", "clientId": casdoor_emulator.admin_client_id,
                                                 "clientSecret": casdoor_emulator.admin_client_secret})
    assert basic.json()["data"]["name"] == query.json()["data"]["name"] == "built-in"
    assert [r.auth for r in casdoor_emulator.requests] == ["basic", "query"]
    assert "clientSecret" not in json.dumps([r.query for r in casdoor_emulator.requests]).replace('"clientSecret": "***"', "")


def test_any_applications_credentials_may_make_every_admin_call(casdoor_emulator):
    # authz/authz.go: `p, app, *, *, *, *, *`: a lab application's secret is an admin credential.
    team = make_lab_app(casdoor_emulator)
    assert {app.name for app in team.get_applications()} >= {"app-built-in", "team-app"}
    org = Organization()
    org.name = "elsewhere"
    assert team.add_organization(org) == "Affected"


def test_delete_application_without_its_organization_is_unaffected_and_deletes_nothing(casdoor_emulator):
    make_lab_app(casdoor_emulator)
    url = casdoor_emulator.endpoint + "/api/delete-application"
    auth = (casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret)
    bare = requests.post(url, json={"owner": "admin", "name": "team-app"}, auth=auth, timeout=5).json()
    assert bare["status"] == "ok" and bare["data"] == "Unaffected"
    assert casdoor_emulator.application("team-app") is not None
    full = requests.post(url, json={"owner": "admin", "name": "team-app", "organization": "team"}, auth=auth,
                         timeout=5).json()
    assert full["data"] == "Affected" and casdoor_emulator.application("team-app") is None


def test_update_user_without_columns_keeps_the_password_and_with_columns_password_changes_it(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    url = casdoor_emulator.endpoint + "/api/update-user"
    auth = (casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret)
    alice = {**casdoor_emulator.user("team", "alice"), "password": "n3w-Passw0rd", "emailVerified": False,
             "displayName": "Alice L"}
    answer = requests.post(url, params={"id": "team/alice"}, json=alice, auth=auth, timeout=5).json()
    assert answer["data"] == "Affected"  # Casdoor says Affected ...
    stored = casdoor_emulator.user("team", "alice")
    assert stored["password"] == "s3cret-Pw" and stored["emailVerified"] is True  # ... and keeps both
    assert stored["displayName"] == "Alice L"
    requests.post(url, params={"id": "team/alice", "columns": "password"}, json=alice, auth=auth, timeout=5)
    assert casdoor_emulator.user("team", "alice")["password"] == "n3w-Passw0rd"
    assert "id_token" in team.get_oauth_token(username="alice", password="n3w-Passw0rd")


def test_a_user_cannot_be_added_before_its_organization_has_an_application(casdoor_emulator):
    sdk = admin_sdk(casdoor_emulator)
    org = Organization()
    org.name = "bare"
    sdk.add_organization(org)
    reply = requests.post(casdoor_emulator.endpoint + "/api/add-user", timeout=5,
                          auth=(casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret),
                          json={"owner": "bare", "name": "bob", "displayName": "Bob", "password": "x"})
    assert reply.json()["status"] == "error" and casdoor_emulator.user("bare", "bob") is None


def test_groups_are_objects_users_list_by_id_and_tokens_carry_as_stored(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    auth = (casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret)
    api = casdoor_emulator.endpoint + "/api/"
    group = {"owner": "team", "name": "ops", "displayName": "Ops", "parentId": "team", "isTopGroup": True}
    assert requests.post(api + "add-group", json=group, auth=auth, timeout=5).json()["data"] == "Affected"
    assert requests.get(api + "get-group", params={"id": "team/ops"}, auth=auth, timeout=5).json()["data"]["name"] == "ops"
    alice = {**casdoor_emulator.user("team", "alice"), "groups": ["team/ops"]}
    requests.post(api + "update-user", params={"id": "team/alice", "columns": "groups"}, json=alice, auth=auth, timeout=5)
    token = team.get_oauth_token(username="alice", password="s3cret-Pw")["id_token"]
    assert jwt.decode(token, options={"verify_signature": False})["groups"] == ["team/ops"]
    busy = requests.post(api + "delete-group", json={"owner": "team", "name": "ops"}, auth=auth, timeout=5).json()
    assert busy["status"] == "error" and busy["msg"] == "group has users"
    team.delete_user(team.get_user("alice"))
    assert requests.post(api + "delete-group", json={"owner": "team", "name": "ops"}, auth=auth,
                         timeout=5).json()["data"] == "Affected"


# --- tokens --------------------------------------------------------------------------------------------
def test_password_grant_with_form_body_gives_one_jwt_as_access_and_id_token(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    tokens = team.get_oauth_token(username="alice", password="s3cret-Pw")  # the SDK posts a form
    assert tokens["id_token"] == tokens["access_token"] and tokens["expires_in"] == 3600
    claims = verify(casdoor_emulator, tokens["id_token"], team.client_id)
    assert claims["iss"] == casdoor_emulator.endpoint  # the origin, no trailing slash
    assert claims["aud"] == [team.client_id]
    assert (claims["name"], claims["email"], claims["email_verified"], claims["groups"]) == (
        "alice", "alice@example.com", True, ["devs"])
    assert team.parse_jwt_token(tokens["id_token"])["name"] == "alice"  # the SDK's own check, by certificate


def test_password_and_refresh_grants_accept_the_recipes_json_body(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    body = {"grant_type": "password", "client_id": team.client_id, "client_secret": team.client_secret,
            "username": "alice", "password": "s3cret-Pw"}
    first = requests.post(casdoor_emulator.endpoint + TOKEN, data=json.dumps(body), timeout=5).json()
    refreshed = requests.post(casdoor_emulator.endpoint + REFRESH, timeout=5, data=json.dumps(
        {"grant_type": "refresh_token", "client_id": team.client_id, "client_secret": team.client_secret,
         "refresh_token": first["refresh_token"]})).json()
    assert refreshed["id_token"] != first["id_token"]
    assert verify(casdoor_emulator, refreshed["id_token"], team.client_id)["name"] == "alice"
    form = team.refresh_token_request(refreshed["refresh_token"]).json()  # the SDK's form body
    assert "id_token" in form


def test_refresh_tokens_are_single_use_and_accepted_at_the_token_endpoint(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    first = team.get_oauth_token(username="alice", password="s3cret-Pw")
    again = requests.post(casdoor_emulator.endpoint + TOKEN, timeout=5, data={
        "grant_type": "refresh_token", "client_id": team.client_id, "refresh_token": first["refresh_token"]}).json()
    assert "id_token" in again  # no client secret needed: it is checked only when sent
    reused = requests.post(casdoor_emulator.endpoint + TOKEN, timeout=5, data={
        "grant_type": "refresh_token", "client_id": team.client_id, "refresh_token": first["refresh_token"]}).json()
    assert reused["error"] == "invalid_grant"
    wrong_secret = requests.post(casdoor_emulator.endpoint + REFRESH, timeout=5, data={
        "grant_type": "refresh_token", "client_id": team.client_id, "client_secret": "wrong",
        "refresh_token": again["refresh_token"]})
    assert wrong_secret.json()["error"] == "invalid_client"


def test_the_admin_application_gets_a_client_credentials_token_from_the_origin(casdoor_emulator):
    casdoor_emulator.origin = "https://casdoor.example.com"
    reply = requests.post(casdoor_emulator.endpoint + TOKEN, data={"grant_type": "client_credentials"}, timeout=5,
                          auth=(casdoor_emulator.admin_client_id, casdoor_emulator.admin_client_secret)).json()
    assert jwt.decode(reply["access_token"], options={"verify_signature": False})["iss"] == "https://casdoor.example.com"


def test_token_errors_are_oauth_errors_with_casdoors_wording(casdoor_emulator):
    team = make_lab_app(casdoor_emulator)
    wrong = requests.post(casdoor_emulator.endpoint + TOKEN, timeout=5, data={
        "grant_type": "password", "client_id": team.client_id, "username": "alice", "password": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert "invalid username or password" in wrong.json()["error_description"]
    # The SDK's admin application is not the lab's: its organization has no user alice.
    admin = admin_sdk(casdoor_emulator).get_oauth_token(username="alice", password="s3cret-Pw")
    assert admin["error_description"] == "the user does not exist"
    unknown = requests.post(casdoor_emulator.endpoint + TOKEN, data={"grant_type": "password", "client_id": "x"}, timeout=5)
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    bad_refresh = team.refresh_token_request("not-a-token").json()
    assert bad_refresh["error"] == "invalid_grant"


def test_sdk_default_application_allows_no_grant_and_mints_expired_tokens(casdoor_emulator):
    no_grant = make_lab_app(casdoor_emulator, grant_types=[""], hours=0)
    refused = no_grant.get_oauth_token(username="alice", password="s3cret-Pw")
    assert refused["error"] == "unsupported_grant_type"
    admin_sdk(casdoor_emulator).update_application(_with(admin_sdk(casdoor_emulator).get_application("team-app"),
                                                         grantTypes=["password"]))
    token = no_grant.get_oauth_token(username="alice", password="s3cret-Pw")["id_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] <= claims["iat"]  # expireInHours 0: born expired


def _with(app: Application, **fields) -> Application:
    for key, value in fields.items():
        setattr(app, key, value)
    return app


# --- discovery -------------------------------------------------------------------------------------------
def test_discovery_and_tokens_state_the_configured_origin(casdoor_emulator):
    casdoor_emulator.origin = "https://casdoor.example.com"
    team = make_lab_app(casdoor_emulator)
    document = requests.get(casdoor_emulator.endpoint + "/.well-known/openid-configuration", timeout=5).json()
    assert document["issuer"] == "https://casdoor.example.com"
    assert document["jwks_uri"] == "https://casdoor.example.com/.well-known/jwks"
    token = team.get_oauth_token(username="alice", password="s3cret-Pw")["id_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://casdoor.example.com"
    casdoor_emulator.token_issuer = "http://127.0.0.1:8000"  # a server with a half-done origin change
    token = team.get_oauth_token(username="alice", password="s3cret-Pw")["id_token"]
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "http://127.0.0.1:8000"


# --- faults, snapshots, the request log ---------------------------------------------------------------
def test_injected_error_envelope_and_500_hit_only_the_matching_requests_the_given_times(casdoor_emulator):
    sdk = admin_sdk(casdoor_emulator)
    casdoor_emulator.inject(r"/api/get-application$", "error", times=1, message="database is locked")
    with pytest.raises(ValueError, match="database is locked"):
        sdk.get_application("app-built-in")
    assert sdk.get_application("app-built-in").name == "app-built-in"
    casdoor_emulator.inject(r"get-organizations", "500", times=2)
    for _ in range(2):
        assert requests.get(casdoor_emulator.endpoint + "/api/get-organizations", timeout=5).status_code == 500
    assert sdk.get_organizations()[0].name == "built-in"


def test_dropped_connection_after_a_write_keeps_the_write(casdoor_emulator):
    casdoor_emulator.inject(r"/api/add-organization$", "drop")
    org = Organization()
    org.name = "half"
    with pytest.raises(requests.exceptions.ConnectionError):
        admin_sdk(casdoor_emulator).add_organization(org)
    assert casdoor_emulator.organization("half") is not None


def test_timeout_fault_holds_the_reply_until_the_client_gives_up(casdoor_emulator):
    casdoor_emulator.inject(r"/.well-known/openid-configuration", "timeout")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(casdoor_emulator.endpoint + "/.well-known/openid-configuration", timeout=0.3)
    assert requests.get(casdoor_emulator.endpoint + "/.well-known/openid-configuration", timeout=5).ok


def test_snapshot_compares_states_and_the_log_counts_writes(casdoor_emulator):
    before = casdoor_emulator.snapshot()
    team = make_lab_app(casdoor_emulator)
    assert casdoor_emulator.snapshot() != before
    assert casdoor_emulator.requests.writes == 3  # organization, application, user
    team.delete_user(team.get_user("alice"))
    sdk = admin_sdk(casdoor_emulator)
    sdk.delete_application(sdk.get_application("team-app"))
    org = Organization()
    org.name = "team"
    sdk.delete_organization(org)
    assert casdoor_emulator.snapshot() == before
    assert casdoor_emulator.requests.writes == 6


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="unknown fault"):
        CasdoorEmulator().inject("x", "explode")


def test_a_server_clock_behind_mints_tokens_that_are_already_expired(casdoor_emulator):
    team = make_lab_app(casdoor_emulator, hours=1)
    casdoor_emulator.directory.clock_offset_seconds = -2 * 3600
    token = team.get_oauth_token(username="alice", password="s3cret-Pw")["id_token"]
    assert jwt.decode(token, options={"verify_signature": False})["exp"] < time.time()

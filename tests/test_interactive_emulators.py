"""The emulators' interactive sign-in answers what the real services answer: Auth0's /authorize,
code redemption with PKCE and device polling errors; Casdoor's authorize page, PKCE and device codes.
Driven over HTTPS with plain requests, no browser."""

from __future__ import annotations

import base64
import hashlib
import re
import urllib.parse

import pytest
import requests

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def pkce() -> tuple[str, str]:
    verifier = "v" * 50
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


# Auth0 -------------------------------------------------------------------------------------------
@pytest.fixture
def tenant(auth0_emulator):
    web = auth0_emulator.seed_client("web", app_type="regular_web", callbacks=["http://127.0.0.1:8000"],
                                     grant_types=["authorization_code", "refresh_token"], oidc_conformant=True,
                                     jwt_configuration={"alg": "RS256"})
    native = auth0_emulator.seed_client("tv", app_type="native", token_endpoint_auth_method="none",
                                        grant_types=[DEVICE_GRANT, "refresh_token"], oidc_conformant=True,
                                        jwt_configuration={"alg": "RS256"})
    auth0_emulator.seed_connection("people", enabled_clients=[web["client_id"], native["client_id"]])
    auth0_emulator.seed_user("ada@example.com", "Ada-pass-1", connection="people")
    session = requests.Session()  # trusts the emulator's CA through REQUESTS_CA_BUNDLE (the fixture sets it)
    return auth0_emulator, web, native, session


def authorize(emulator, session, client, challenge, **extra):
    query = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": "http://127.0.0.1:8000",
             "scope": "openid email offline_access", "state": "s1", "nonce": "n1", "code_challenge": challenge,
             "code_challenge_method": "S256", **extra}
    return session.post(f"{emulator.base_url}/authorize?{urllib.parse.urlencode(query)}",
                        data={"username": "ada@example.com", "password": "Ada-pass-1"}, allow_redirects=False)


def test_auth0_code_flow_checks_callbacks_pkce_and_carries_the_nonce(tenant):
    emulator, web, _, session = tenant
    verifier, challenge = pkce()
    mismatch = authorize(emulator, session, web, challenge, redirect_uri="http://127.0.0.1:9999")
    assert mismatch.status_code == 400 and "Callback URL mismatch" in mismatch.text
    answer = authorize(emulator, session, web, challenge)
    assert answer.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(answer.headers["Location"]).query))
    assert query["state"] == "s1"
    form = {"grant_type": "authorization_code", "client_id": web["client_id"], "client_secret": web["client_secret"],
            "code": query["code"], "redirect_uri": "http://127.0.0.1:8000"}
    wrong = session.post(f"{emulator.base_url}/oauth/token", data={**form, "code_verifier": "w" * 50})
    assert wrong.status_code == 403 and wrong.json()["error"] == "invalid_grant"
    used = session.post(f"{emulator.base_url}/oauth/token", data={**form, "code_verifier": verifier})
    assert used.json() == {"error": "invalid_grant", "error_description": "Invalid authorization code"}  # one try

    fresh = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorize(emulator, session, web, challenge)
                                                                 .headers["Location"]).query))
    tokens = session.post(f"{emulator.base_url}/oauth/token",
                          data={**form, "code": fresh["code"], "code_verifier": verifier}).json()
    import jwt

    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == "n1" and claims["aud"] == web["client_id"] and tokens["refresh_token"]


def test_auth0_device_flow_polling_answers_pending_slow_down_and_expiry_as_auth0_documents(tenant):
    emulator, web, native, session = tenant
    refused = session.post(f"{emulator.base_url}/oauth/device/code", data={"client_id": web["client_id"]})
    assert refused.status_code == 403 and refused.json()["error"] == "unauthorized_client"
    started = session.post(f"{emulator.base_url}/oauth/device/code",
                           data={"client_id": native["client_id"], "scope": "openid email"}).json()
    assert started["verification_uri"] == f"https://{emulator.domain}/activate" and started["interval"] == 5
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", started["user_code"])
    poll = {"grant_type": DEVICE_GRANT, "client_id": native["client_id"], "device_code": started["device_code"]}
    pending = session.post(f"{emulator.base_url}/oauth/token", data=poll)
    assert pending.status_code == 403 and pending.json()["error"] == "authorization_pending"
    hurried = session.post(f"{emulator.base_url}/oauth/token", data=poll)
    assert hurried.status_code == 429 and hurried.json()["error"] == "slow_down"

    device = emulator.auth.interactive.devices[started["device_code"]]
    device.expires = emulator.tenant.clock() - 1
    expired = session.post(f"{emulator.base_url}/oauth/token", data=poll)
    assert expired.status_code == 403 and expired.json()["error"] == "expired_token"
    after = session.post(f"{emulator.base_url}/oauth/token", data=poll)
    assert after.json()["error"] == "invalid_grant"  # expired_token is said once


# Casdoor -----------------------------------------------------------------------------------------
@pytest.fixture
def casdoor(casdoor_emulator):
    d = casdoor_emulator.directory
    d.add_organization({"owner": "admin", "name": "org"})
    d.add_application({"owner": "admin", "name": "app", "organization": "org", "clientId": "cid",
                       "clientSecret": "csecret", "grantTypes": ["password", DEVICE_GRANT], "expireInHours": 1,
                       "redirectUris": ["http://127.0.0.1:8000"]})
    d.add_user({"owner": "org", "name": "ada", "password": "Ada-pass-1", "email": "ada@example.com"})
    session = requests.Session()
    session.verify = str(casdoor_emulator.ca_file)
    return casdoor_emulator, session


def test_casdoor_code_flow_needs_no_secret_with_pkce_but_the_right_verifier(casdoor):
    emulator, session = casdoor
    verifier, challenge = pkce()
    query = {"client_id": "cid", "response_type": "code", "redirect_uri": "http://127.0.0.1:8000", "scope": "openid",
             "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256"}
    url = f"{emulator.endpoint}/login/oauth/authorize?{urllib.parse.urlencode(query)}"
    assert "doesn't exist in the allowed Redirect URI list" in session.get(
        url.replace("8000", "8001")).text
    wrong = session.post(url, data={"username": "ada", "password": "nope"}, allow_redirects=False)
    assert wrong.status_code == 401 and "password or code is incorrect" in wrong.text
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(session.post(
        url, data={"username": "ada", "password": "Ada-pass-1"}, allow_redirects=False).headers["Location"]).query))["code"]
    token_url = f"{emulator.endpoint}/api/login/oauth/access_token"
    form = {"grant_type": "authorization_code", "client_id": "cid", "code": code}
    assert session.post(token_url, data={**form, "code_verifier": "w" * 50}).json()["error_description"] == "verifier is invalid"
    answer = session.post(token_url, data={**form, "code_verifier": verifier}).json()
    assert answer["id_token"] and "client_secret" not in form
    again = session.post(token_url, data={**form, "code_verifier": verifier}).json()
    assert again["error_description"] == "authorization code has been used"


def test_casdoor_device_codes_are_pending_until_someone_signs_in_and_then_used_once(casdoor):
    emulator, session = casdoor
    started = session.post(f"{emulator.endpoint}/api/device-auth", data={"client_id": "cid", "scope": "openid"}).json()
    assert started["verification_uri"].endswith(f"/login/oauth/device/{started['user_code']}")
    assert started["expires_in"] == 120 and "interval" not in started
    token_url = f"{emulator.endpoint}/api/login/oauth/access_token"
    poll = {"grant_type": DEVICE_GRANT, "client_id": "cid", "device_code": started["device_code"]}
    pending = session.post(token_url, data=poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    signed = session.post(started["verification_uri"], data={"username": "ada", "password": "Ada-pass-1"})
    assert "Device signed in as ada" in signed.text
    assert session.post(token_url, data=poll).json()["id_token"]
    assert session.post(token_url, data=poll).json()["error"] == "expired_token"  # consumed

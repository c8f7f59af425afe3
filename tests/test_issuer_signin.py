"""The built-in issuer's browser-facing grants over real HTTPS: the sign-in page of the authorization
endpoint (PKCE S256 required), and the device authorization grant with its verification page.

A "browser" here is `requests` following the forms by hand; tests/test_browser_signin.py does the
same with real Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.test_issuer import RunningIssuer, free_port, lab_config, lab_home, start_lab  # noqa: F401 (fixture)
from provisioner.providers.local.issuer.process import IssuerProcess
from provisioner.paths import LabPaths

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def issuer(lab_home):  # noqa: F811
    port = free_port()
    redirect_port = free_port()
    lab = lab_config(port)
    lab = lab.model_copy(update={"oidc": lab.oidc.model_copy(update={"redirect_ports": [redirect_port]})})
    running = start_lab(lab)
    try:
        yield running
    finally:
        IssuerProcess(LabPaths.for_lab("issuer-test").issuer).stop()


class Form(HTMLParser):
    """The fields, labels and error of a page, as a person would see them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.labels: dict[str, str] = {}
        self.action: str | None = None
        self._label_for: str | None = None
        self.error = ""
        self._in_error = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.action = a.get("action")
        if tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""
        if tag == "label":
            self._label_for = a.get("for")
        if tag == "p" and a.get("role") == "alert":
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_for = None
        if tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._label_for:
            self.labels[self._label_for] = self.labels.get(self._label_for, "") + data.strip()
        if self._in_error:
            self.error += data


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def authorize_query(issuer: RunningIssuer, challenge: str | None, **extra: str) -> dict[str, str]:
    query = {"response_type": "code", "client_id": issuer.client.client_id, "scope": "openid email",
             "redirect_uri": f"http://127.0.0.1:{issuer.lab.oidc.redirect_ports[0]}", "state": "st-123",
             "nonce": "n-456", **extra}
    if challenge:
        query |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return query


def open_login(issuer: RunningIssuer, query: dict[str, str]) -> requests.Response:
    return requests.get(f"{issuer.base}/authorize?{urlencode(query)}", verify=issuer.client.ca_file,
                        timeout=5, allow_redirects=False)


def submit(issuer: RunningIssuer, path: str, fields: dict[str, str]) -> requests.Response:
    return requests.post(f"{issuer.base}{path}", data=fields, verify=issuer.client.ca_file, timeout=5,
                         allow_redirects=False)


def sign_in_on_page(issuer: RunningIssuer, query: dict[str, str], login: str, password: str) -> requests.Response:
    page = open_login(issuer, query)
    assert page.status_code == 200, page.text
    form = Form(page.text)
    return submit(issuer, form.action or "", {**form.fields, "username": login, "password": password})


def test_the_sign_in_page_is_a_plain_labelled_form_naming_the_lab(issuer: RunningIssuer) -> None:
    page = open_login(issuer, authorize_query(issuer, pkce()[1]))

    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script" not in page.text.lower(), "the page must work without JavaScript"
    assert "issuer-test" in page.text
    form = Form(page.text)
    assert form.labels == {"username": "Email or username", "password": "Password"}
    assert form.action == "/authorize"
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_a_right_password_sends_the_browser_back_with_a_code_that_works_once_with_its_verifier(issuer) -> None:
    verifier, challenge = pkce()
    back = sign_in_on_page(issuer, authorize_query(issuer, challenge), "alice@example.com", issuer.secrets.password("alice"))

    assert back.status_code == 302
    location = urlsplit(back.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == f"http://127.0.0.1:{issuer.lab.oidc.redirect_ports[0]}"
    answer = parse_qs(location.query)
    assert answer["state"] == ["st-123"]
    exchange = {"grant_type": "authorization_code", "code": answer["code"][0], "code_verifier": verifier,
                "redirect_uri": f"http://127.0.0.1:{issuer.lab.oidc.redirect_ports[0]}",
                "client_id": issuer.client.client_id, "client_secret": issuer.client.client_secret}
    tokens = issuer.post_token(exchange)
    assert tokens.status_code == 200, tokens.text
    claims = issuer.verify(tokens.json()["id_token"])
    assert claims["email"] == "alice@example.com" and claims["nonce"] == "n-456"
    assert tokens.json()["refresh_token"]

    again = issuer.post_token(exchange)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_code_is_worthless_without_the_right_verifier(issuer: RunningIssuer) -> None:
    _, challenge = pkce()
    back = sign_in_on_page(issuer, authorize_query(issuer, challenge), "alice@example.com", issuer.secrets.password("alice"))
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": pkce()[0],
            "redirect_uri": f"http://127.0.0.1:{issuer.lab.oidc.redirect_ports[0]}", "client_id": issuer.client.client_id}

    refused = issuer.post_token(form)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    missing = issuer.post_token({k: v for k, v in form.items() if k != "code_verifier"})
    assert missing.status_code == 400 and missing.json()["error"] in ("invalid_request", "invalid_grant")


def test_a_public_client_redeems_its_code_without_a_secret_but_never_uses_the_password_grant(issuer) -> None:
    verifier, challenge = pkce()
    back = sign_in_on_page(issuer, authorize_query(issuer, challenge), "alice@example.com", issuer.secrets.password("alice"))
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    tokens = issuer.post_token({"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                "redirect_uri": f"http://127.0.0.1:{issuer.lab.oidc.redirect_ports[0]}",
                                "client_id": issuer.client.client_id})
    assert tokens.status_code == 200, tokens.text

    password = issuer.post_token({"grant_type": "password", "username": "alice@example.com",
                                  "password": issuer.secrets.password("alice"), "client_id": issuer.client.client_id,
                                  "scope": "openid"})
    assert password.status_code in (400, 401) and password.json()["error"] == "invalid_client"


@pytest.mark.parametrize("challenge_method", [None, "plain"])
def test_an_authorization_request_without_an_s256_challenge_is_sent_back_refused(issuer, challenge_method) -> None:
    query = authorize_query(issuer, None)
    if challenge_method:
        query |= {"code_challenge": pkce()[0], "code_challenge_method": challenge_method}
    answer = open_login(issuer, query)

    assert answer.status_code == 302
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert back["error"] == ["invalid_request"] and back["state"] == ["st-123"]


def test_an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(issuer: RunningIssuer) -> None:
    answer = open_login(issuer, authorize_query(issuer, pkce()[1], redirect_uri="https://evil.example/steal"))

    assert answer.status_code == 400 and "Location" not in answer.headers
    assert "evil.example" in answer.text  # named, escaped, and not followed
    assert "This sign-in link does not work" in answer.text


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer_and_no_code(issuer: RunningIssuer) -> None:
    query = authorize_query(issuer, pkce()[1])
    wrong = sign_in_on_page(issuer, query, "alice@example.com", "not-her-password")
    unknown = sign_in_on_page(issuer, query, "nobody@example.com", "whatever")

    for answer in (wrong, unknown):
        assert answer.status_code == 401 and "Location" not in answer.headers
        assert Form(answer.text).error == "Wrong username or password."
    assert Form(wrong.text).fields["username"] == "alice@example.com"  # kept, so only the password is retyped


def test_the_sign_in_page_is_held_back_by_the_brute_force_guard(issuer: RunningIssuer) -> None:
    query = authorize_query(issuer, pkce()[1])
    for _ in range(6):
        sign_in_on_page(issuer, query, "alice@example.com", "guess")

    held = sign_in_on_page(issuer, query, "alice@example.com", issuer.secrets.password("alice"))
    assert held.status_code == 401 and "Location" not in held.headers
    assert "Too many failed sign-ins" in Form(held.text).error


def start_device(issuer: RunningIssuer) -> dict[str, Any]:
    started = submit(issuer, "/device/code", {"client_id": issuer.client.client_id,
                                              "client_secret": issuer.client.client_secret, "scope": "openid email"})
    assert started.status_code == 200, started.text
    return started.json()


def poll(issuer: RunningIssuer, device_code: str) -> requests.Response:
    return issuer.post_token({"grant_type": DEVICE_GRANT, "device_code": device_code,
                              "client_id": issuer.client.client_id, "client_secret": issuer.client.client_secret})


def test_the_device_grant_waits_for_a_person_to_enter_the_code_then_answers_once(issuer: RunningIssuer) -> None:
    started = start_device(issuer)
    assert started["verification_uri"] == f"{issuer.base}/device"
    assert started["interval"] == 5 and started["expires_in"] > 0

    pending = poll(issuer, started["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    too_soon = poll(issuer, started["device_code"])
    assert too_soon.json()["error"] == "slow_down"

    page = requests.get(started["verification_uri_complete"], verify=issuer.client.ca_file, timeout=5)
    form = Form(page.text)
    assert form.fields["user_code"] == started["user_code"]
    assert form.labels == {"user_code": "Code", "username": "Email or username", "password": "Password"}
    typed = started["user_code"].lower().replace("-", " ")  # as a person might type it
    done = submit(issuer, "/device", {"user_code": typed, "username": "alice@example.com",
                                      "password": issuer.secrets.password("alice")})
    assert done.status_code == 200 and "Signed in as alice@example.com" in done.text

    tokens = poll(issuer, started["device_code"])
    assert tokens.status_code == 200, tokens.text
    assert issuer.verify(tokens.json()["id_token"])["email"] == "alice@example.com"
    assert poll(issuer, started["device_code"]).status_code == 400  # a device code works once


def test_the_device_page_refuses_a_wrong_password_and_an_unknown_code_without_approving(issuer) -> None:
    started = start_device(issuer)
    wrong = submit(issuer, "/device", {"user_code": started["user_code"], "username": "alice@example.com",
                                       "password": "nope"})
    assert wrong.status_code == 401 and Form(wrong.text).error == "Wrong username or password."
    unknown = submit(issuer, "/device", {"user_code": "BCDF-GHJK", "username": "alice@example.com",
                                         "password": issuer.secrets.password("alice")})
    assert unknown.status_code == 400 and "unknown or has expired" in Form(unknown.text).error

    assert poll(issuer, started["device_code"]).json()["error"] == "authorization_pending"

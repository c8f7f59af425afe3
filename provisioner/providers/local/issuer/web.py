"""The issuer's browser-facing endpoints: the authorization endpoint's sign-in page, and the device
verification page; also the device authorization endpoint, which `lab token` calls.

Each function takes what the HTTP handler parsed and returns a `Reply`; Authlib judges the
OAuth parameters (`interactive`), the `Authority` judges passwords (with the brute-force guard, so
the login page is no easier to guess through than the token endpoint).
"""

from __future__ import annotations

import json
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from ....selfservice import pages
from ....selfservice.pages import PAGE_HEADERS, Reply  # noqa: F401 (the issuer's server uses Reply from here)
from .grants import Authority, SignInRefused
from .interactive import AUTHORIZATION_PATH, DEVICE_PATH, normalise_user_code

# The authorization request's parameters that the sign-in form carries from the GET to the POST.
AUTHORIZATION_PARAMETERS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
                            "code_challenge", "code_challenge_method")


class PageRequest(OAuth2Request):
    """An authorization request as Authlib reads it: the query of a GET or the fields of a POST."""

    def __init__(self, method: str, uri: str, headers: Any, values: dict[str, str]) -> None:
        super().__init__(method, uri, headers=headers)
        self._values = values
        self.payload = BasicOAuth2Payload(values)

    @property
    def args(self) -> dict[str, str]:
        return self._values

    @property
    def form(self) -> dict[str, str]:
        return self._values


def _page(status: int, page: str, authority: Authority, title: str, **values: Any) -> Reply:
    lab = authority.directory.settings.lab or "oidc-lab"
    return Reply(status, pages.render(page, lab, title, **values), list(PAGE_HEADERS))


def _redirect(headers: list[tuple[str, str]]) -> Reply:
    location = dict(headers).get("Location", "")
    return Reply(302, b"", [("Location", location), ("Cache-Control", "no-store")])


def _problem_page(authority: Authority, error: OAuth2Error) -> Reply:
    description = error.description or error.error
    return _page(400, "message", authority, "This sign-in link does not work",
                 paragraphs=[f"The application sent an authorization request the lab's issuer cannot accept: "
                             f"{description}",
                             "Run the command that opened this page again; if it keeps failing, run `lab up`."])


def authorize_page(authority: Authority, uri: str, headers: Any, query: dict[str, str]) -> Reply:
    """GET /authorize: check the request, then show the sign-in form carrying its parameters."""
    request = PageRequest("GET", uri, headers, query)
    try:
        authority.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:  # the client and its redirect URI are known: tell the client
            return _redirect(error(None)[2])
        return _problem_page(authority, error)
    return _login_form(authority, query, 200, username=query.get("login_hint", ""))


def _login_form(authority: Authority, values: dict[str, str], status: int, username: str = "",
                error: str | None = None) -> Reply:
    hidden = [(name, values[name]) for name in AUTHORIZATION_PARAMETERS if values.get(name)]
    return _page(status, "login", authority, "Sign in", error=error, action=AUTHORIZATION_PATH, hidden=hidden,
                 username=username, client=authority.directory.settings.client.client_id,
                 footnote=f"After you sign in, your browser returns to {values.get('redirect_uri')}.")


def authorize_submit(authority: Authority, uri: str, headers: Any, form: dict[str, str], address: str) -> Reply:
    """POST /authorize: the sign-in form. A right password sends the browser back with a code."""
    values = {name: form[name] for name in AUTHORIZATION_PARAMETERS if name in form}
    request = PageRequest("POST", uri, headers, values)
    try:
        grant = authority.get_consent_grant(request)
    except OAuth2Error as error:
        if error.redirect_uri:
            return _redirect(error(None)[2])
        return _problem_page(authority, error)
    login = form.get("username", "")
    try:
        user = authority.sign_in(login, form.get("password", ""), address)
    except SignInRefused as refused:
        return _login_form(authority, values, 401, username=login, error=str(refused))
    status, _, reply_headers = authority.create_authorization_response(request, grant_user=user, grant=grant)
    return _redirect(reply_headers)


def device_page(authority: Authority, query: dict[str, str]) -> Reply:
    """GET /device: the form where a person types the code `lab token` printed, and signs in."""
    return _device_form(authority, 200, user_code=query.get("user_code", ""))


def _device_form(authority: Authority, status: int, user_code: str = "", username: str = "",
                 error: str | None = None) -> Reply:
    return _page(status, "device", authority, "Sign in on another device", error=error, action=DEVICE_PATH,
                 user_code=user_code, username=username)


def device_submit(authority: Authority, form: dict[str, str], address: str) -> Reply:
    """POST /device: a known, pending code and a right password approve the waiting `lab token`."""
    user_code = normalise_user_code(form.get("user_code", ""))
    login = form.get("username", "")
    if not authority.pending.pending_user_code(user_code):
        return _device_form(authority, 400, user_code=form.get("user_code", ""), username=login,
                            error="This code is unknown or has expired. Run `lab token` again for a new one.")
    try:
        user = authority.sign_in(login, form.get("password", ""), address)
    except SignInRefused as refused:
        return _device_form(authority, 401, user_code=user_code, username=login, error=str(refused))
    if not authority.pending.approve(user_code, user.sub):
        return _device_form(authority, 400, user_code=user_code, username=login,
                            error="This code was used or has expired. Run `lab token` again for a new one.")
    return _page(200, "message", authority, "You are signed in",
                 paragraphs=[f"Signed in as {user.email or user.username}.",
                             "Go back to your terminal: lab token has your token now. You can close this page."])


def device_authorization(authority: Authority, uri: str, headers: Any, form: dict[str, str]) -> Reply:
    """POST /device/code (RFC 8628 section 3.1): a device code and a user code for `lab token`."""
    request = PageRequest("POST", uri, headers, form)
    status, body, reply_headers = authority.create_endpoint_response("device_authorization", request)
    return Reply(status, json.dumps(body).encode(),
                 [(k, v) for k, v in reply_headers if k.lower() != "content-type"], "application/json")

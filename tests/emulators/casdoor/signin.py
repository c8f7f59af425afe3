"""Casdoor's interactive sign-in: the authorization code flow (with PKCE) and device authorization.

Real Casdoor serves `/login/oauth/authorize` from its React web UI, which checks the request with
`GET /api/get-app-login` (controllers/auth.go, GetApplicationLogin -> object.CheckOAuthLogin: the
client id must name an application, `response_type` must be `code` or `token`, and the redirect
URI must be one the application lists, object/application.go IsRedirectUriValid) and then posts
the person's username and password to `POST /api/login` with the OAuth parameters in the query
(controllers/auth.go, Login -> HandleLoggedIn -> object.GetOAuthCode, which stores a code bound to
the application, user, nonce, code challenge and redirect URI, valid for 5 minutes). The UI then
sends the browser to `redirect_uri?code=...&state=...`. The emulator serves that as one plain HTML
form (no JavaScript) posting back to the same path, with the same checks and answers.

Redeeming (object/token_oauth.go, GetAuthorizationCodeToken): an unknown code is `invalid_grant`,
a used one `invalid_grant` ("authorization code has been used"), a code challenge that the
verifier does not hash to (`pkceChallenge`, S256) `invalid_grant` ("verifier is invalid"); the
client secret may be left out when the code carries a challenge, but must be right when given;
an expired code is `invalid_grant`. The id_token carries the nonce of the authorization request.

Device authorization (controllers/auth.go, DeviceAuth; object/oidc_discovery.go,
GetDeviceAuthResponse): `POST /api/device-auth` with `client_id` (and `scope`) answers a device
code, a user code and `verification_uri` `<origin>/login/oauth/device/<user code>`, expiring in
120 s. Polling the token endpoint with the device code grant (controllers/token.go,
handleDeviceCodeToken): an unknown or consumed code is `expired_token` ("token is expired"), a code
nobody signed in with yet `authorization_pending` ("authorization pending"), an expired one
`expired_token`; a signed-in code is consumed once and answers the user's tokens. These errors are
sent with HTTP 400 (SetTokenErrorHttpStatus: only `invalid_client` gets 401). Casdoor sends no
`interval` (RFC 8628's default of 5 s applies) and never answers `slow_down`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .directory import Directory, TokenError

CODE_LIFETIME = 5 * 60  # object/token.go: "code must be used within 5 minutes"
DEVICE_CODE_LIFETIME = 120  # object/oidc_discovery.go, GetDeviceAuthResponse: ExpiresIn 120
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass
class Page:
    """An HTML answer (or a redirect) instead of Casdoor's JSON."""

    status: int
    body: str = ""
    location: str | None = None


@dataclass
class _Code:
    application: str
    user: tuple[str, str]
    nonce: str
    challenge: str
    scope: str
    expires: float
    used: bool = False


@dataclass
class _Device:
    application: str
    scope: str
    requested: float
    user: tuple[str, str] | None = None


@dataclass
class SignIn:
    directory: Directory
    codes: dict[str, _Code] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)  # device code -> request
    user_codes: dict[str, str] = field(default_factory=dict)  # user code -> device code

    # the authorization code flow --------------------------------------------------------------------
    def authorize_page(self, query: dict[str, str], form: dict[str, str] | None) -> Page:
        app = self.directory._by_client_id(query.get("client_id", ""))
        if app is None:
            return _page(400, "Error", "<p role=alert>Invalid client_id</p>")  # CheckOAuthLogin
        if query.get("response_type") not in ("code", "token"):
            return _page(400, "Error", f"<p role=alert>Grant_type: {html.escape(query.get('response_type', ''))} "
                                       "is not supported in this application</p>")
        redirect_uri = query.get("redirect_uri", "")
        if not _redirect_uri_valid(app, redirect_uri):
            return _page(400, "Error", f"<p role=alert>Redirect URI: {html.escape(redirect_uri)} doesn't exist "
                                       "in the allowed Redirect URI list</p>")
        error = ""
        if form is not None:
            user = self._check_password(app, form.get("username", ""), form.get("password", ""))
            if user is not None:
                code = secrets.token_hex(10)
                self.codes[code] = _Code(app["name"], (user["owner"], user["name"]), query.get("nonce", ""),
                                         query.get("code_challenge", ""), query.get("scope", ""),
                                         time.time() + CODE_LIFETIME)
                answer = {"code": code, "state": query.get("state", "")}
                separator = "&" if "?" in redirect_uri else "?"
                return Page(302, location=f"{redirect_uri}{separator}{urllib.parse.urlencode(answer)}")
            error = "<p role=alert>password or code is incorrect</p>"
        return _page(200 if form is None else 401, f"Sign in · {app.get('displayName') or app['name']}",
                     error + _login_form(form, query.get("login_hint", "")))

    def redeem_code(self, issuer: str, params: dict[str, str]) -> dict[str, Any]:
        app = self._application(params.get("client_id", ""))
        code = self.codes.get(params.get("code", ""))
        if not params.get("code"):
            raise TokenError("invalid_request", "authorization code should not be empty")
        if code is None:
            raise TokenError("invalid_grant", f"authorization code: [{params.get('code')}] is invalid")
        if code.used:
            raise TokenError("invalid_grant", "authorization code has been used")
        if code.challenge and _s256(params.get("code_verifier", "")) != code.challenge:
            raise TokenError("invalid_grant", "verifier is invalid")
        secret = params.get("client_secret", "")
        if secret != app["clientSecret"] and (not code.challenge or secret):
            raise TokenError("invalid_client", "client_secret is invalid", 400)
        if app["name"] != code.application:
            raise TokenError("invalid_grant", "the token is for wrong application (client_id)")
        if time.time() > code.expires:
            raise TokenError("invalid_grant", "authorization code has expired")
        code.used = True
        user = self.directory.users.get(code.user)
        if user is None:
            raise TokenError("invalid_grant", "the user does not exist")
        return self.directory._mint(issuer, app, user, code.scope, nonce=code.nonce)

    # device authorization ---------------------------------------------------------------------------
    def device_auth(self, origin: str, params: dict[str, str]) -> dict[str, Any]:
        app = self.directory._by_client_id(params.get("client_id", ""))
        if app is None:
            return {"error": "Invalid client_id", "error_description": "Invalid client_id"}  # served with 200
        device_code = secrets.token_hex(16)
        user_code = _user_code()
        self.devices[device_code] = _Device(app["name"], params.get("scope", ""), time.time())
        self.user_codes[user_code] = device_code
        return {"device_code": device_code, "user_code": user_code,
                "verification_uri": f"{origin}/login/oauth/device/{user_code}", "expires_in": DEVICE_CODE_LIFETIME}

    def device_page(self, user_code: str, form: dict[str, str] | None) -> Page:
        device_code = self.user_codes.get(user_code)
        device = self.devices.get(device_code or "")
        if device is None or time.time() > device.requested + DEVICE_CODE_LIFETIME:
            return _page(400, "Error", "<p role=alert>UserCode Invalid</p>")
        app = self.directory.applications.get(device.application) or {}
        title = f"Sign in · {app.get('displayName') or device.application}"
        if device.user is not None:
            return _page(200, title, "<p>Device signed in. You can close this page.</p>")
        error = ""
        if form is not None:
            user = self._check_password(app, form.get("username", ""), form.get("password", ""))
            if user is not None:
                device.user = (user["owner"], user["name"])
                return _page(200, title, f"<p>Device signed in as {html.escape(user['name'])}. "
                                         "You can close this page.</p>")
            error = "<p role=alert>password or code is incorrect</p>"
        return _page(200 if form is None else 401, title, error + _login_form(form, ""))

    def redeem_device_code(self, issuer: str, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("device_code"):
            raise TokenError("invalid_request", "device_code is required")
        device = self.devices.get(params["device_code"])
        if device is None:
            raise TokenError("expired_token", "token is expired")
        if device.user is None:
            raise TokenError("authorization_pending", "authorization pending")
        if time.time() > device.requested + DEVICE_CODE_LIFETIME:
            del self.devices[params["device_code"]]
            raise TokenError("expired_token", "token is expired")
        del self.devices[params["device_code"]]
        app = self._application(params.get("client_id", ""))
        user = self.directory.users.get(device.user)
        if user is None:
            raise TokenError("invalid_grant", "the user does not exist")
        return self.directory._mint(issuer, app, user, device.scope)

    # ------------------------------------------------------------------------------------------------
    def _application(self, client_id: str) -> dict[str, Any]:
        app = self.directory._by_client_id(client_id)
        if app is None:
            raise TokenError("invalid_client", "client_id is invalid", 401)
        return app

    def _check_password(self, app: dict[str, Any], username: str, password: str) -> dict[str, Any] | None:
        """object/check.go CheckUserPassword, in the application's organization; forbidden users cannot sign in."""
        user = self.directory.users.get((app.get("organization") or "", username))
        if user is None or not user.get("password") or user["password"] != password or user.get("isForbidden"):
            return None
        return user


def _redirect_uri_valid(app: dict[str, Any], redirect_uri: str) -> bool:
    """object/application.go, IsRedirectUriValid: each listed URI is a regular expression the whole
    redirect URI must match (`^` and `$` added), or the redirect URI must contain it."""
    for allowed in app.get("redirectUris") or []:
        if not allowed:
            continue
        if allowed in redirect_uri:
            return True
        try:
            if re.fullmatch(allowed, redirect_uri):
                return True
        except re.error:
            continue
    return False


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _user_code() -> str:
    """Casdoor makes it with util.GetRandomName; any unguessable, typeable string does for the flow."""
    alphabet = "BCDFGHJKLMNPQRSTVWXZ"
    return "".join(secrets.choice(alphabet) for _ in range(4)) + "-" + "".join(secrets.choice(alphabet) for _ in range(4))


def _login_form(form: dict[str, str] | None, hint: str) -> str:
    username = html.escape((form or {}).get("username") or hint, quote=True)
    return ("<form method=post>"
            f"<p><label for=username>Username</label><br><input id=username name=username value=\"{username}\" "
            "autocomplete=username required></p>"
            "<p><label for=password>Password</label><br><input id=password name=password type=password "
            "autocomplete=current-password required></p>"
            "<p><button type=submit>Sign In</button></p></form>")


def _page(status: int, title: str, body: str) -> Page:
    return Page(status, f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
                        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")

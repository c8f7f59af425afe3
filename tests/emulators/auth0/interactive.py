"""Auth0's interactive sign-in: `/authorize` with a login page, and the device authorization flow.

Sources (reference/auth0/authentication-api-oas.json unless said otherwise):
- `GET /authorize` (operationId `authorize`): `response_type`, `client_id` required; `redirect_uri`
  "must be registered in your application's Allowed Callback URLs" (the client's `callbacks`,
  recordings/TestAccClientConfig.yaml); `state`, `nonce` (carried into the ID token),
  `code_challenge` with `code_challenge_method` `S256`, `connection` to pick the connection. The
  user "will be redirected to Auth0's login page"; Universal Login is served here as one plain
  HTML form that posts back to `/authorize` with the same query. After the sign-in Auth0
  redirects to `redirect_uri` with `code` and `state`. A client without the `authorization_code`
  grant is sent back with `error=unauthorized_client`.
- `POST /oauth/token`, `AuthorizationCodeGrant` / `AuthorizationCodePKCEGrant`: `code`,
  `redirect_uri` ("The same redirect_uri used in the authorization request. Must match
  exactly."), `code_verifier` (43-128 characters; "The authorization server will hash this and
  compare it to the code_challenge"), `client_secret` "Required for confidential clients" (a
  public client has `token_endpoint_auth_method: none`, recordings/TestAccClientRefreshToken.yaml).
  A bad code is the 400 example `{"error": "invalid_grant", "error_description": "Invalid
  authorization code"}`; a code is used once.
- `POST /oauth/device/code` (`requestDeviceCode`): form `client_id` (required), `scope`,
  `audience`; answers `device_code`, `user_code`, `verification_uri`, `verification_uri_complete`,
  `expires_in`, `interval` (the example: `https://{tenant}/activate`, 900 s, 5 s). Auth0 documents
  the flow for Native applications with the Device Code grant and OIDC Conformant on
  (auth0.com/docs, "Call Your API Using the Device Authorization Flow", Prerequisites); another
  client is refused as `unauthorized_client`.
- Polling (`DeviceCodeGrant`: `client_id`, `device_code`), error responses from the same Auth0
  page: 403 `authorization_pending` "User has yet to authorize device code.", 429 `slow_down`
  "You are polling faster than the specified interval of 5 seconds.", 403 `expired_token` once
  for an expired code and `invalid_grant` after that, 403 `access_denied` when the person declines.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from .errors import OAuthError
from .tenant import DATABASE_STRATEGY, StoredUser, Tenant

AUTHORIZATION_CODE = "authorization_code"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
CODE_LIFETIME = 600
DEVICE_CODE_LIFETIME = 900
DEVICE_INTERVAL = 5
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # Auth0's default user code character set: base20 consonants


@dataclass
class Page:
    """An HTML answer, or a redirect, where the Authentication API otherwise answers JSON."""

    status: int
    body: str = ""
    location: str | None = None


@dataclass
class _Code:
    client_id: str
    user_id: str
    redirect_uri: str
    challenge: str
    scopes: list[str]
    nonce: str
    expires: float


@dataclass
class _Device:
    client_id: str
    scopes: list[str]
    expires: float
    user_code: str
    user_id: str | None = None
    denied: bool = False
    last_poll: float = 0.0
    expired_said: bool = False


@dataclass
class Interactive:
    tenant: Tenant
    codes: dict[str, _Code] = field(default_factory=dict)
    devices: dict[str, _Device] = field(default_factory=dict)

    # /authorize ------------------------------------------------------------------------------------
    def authorize(self, query: dict[str, str], form: dict[str, str] | None) -> Page:
        client = self.tenant.clients.get(query.get("client_id", ""))
        if client is None:
            return _page(400, "Error", "<p role=alert>Unknown client.</p>")
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in (client.get("callbacks") or []):
            return _page(400, "Error", "<p role=alert>Callback URL mismatch. The provided redirect_uri is not in the "
                                       "list of allowed callback URLs.</p>")
        if query.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type",
                                            "error_description": "Unsupported response type", "state": query.get("state", "")})
        if AUTHORIZATION_CODE not in (client.get("grant_types") or []):
            return _redirect(redirect_uri, {"error": "unauthorized_client", "state": query.get("state", ""),
                                            "error_description": "Grant type 'authorization_code' not allowed for the client."})
        if query.get("code_challenge") and query.get("code_challenge_method", "plain") != "S256":
            return _redirect(redirect_uri, {"error": "invalid_request", "state": query.get("state", ""),
                                            "error_description": "Unsupported code_challenge_method"})
        error = ""
        if form is not None:
            user = self._sign_in(client, query.get("connection"), form.get("username", ""), form.get("password", ""))
            if user is not None:
                code = secrets.token_urlsafe(24)
                scopes = query.get("scope", "").split()
                self.codes[code] = _Code(client["client_id"], user.profile["user_id"], redirect_uri,
                                         query.get("code_challenge", ""), scopes, query.get("nonce", ""),
                                         self.tenant.clock() + CODE_LIFETIME)
                return _redirect(redirect_uri, {"code": code, "state": query.get("state", "")})
            error = "<p role=alert>Wrong email or password.</p>"
        return _page(200, f"Log in | {self.tenant.domain}",
                     f"<p>Log in to {html.escape(client['name'])} to continue.</p>" + error
                     + _login_form(form, query.get("login_hint", "")))

    def redeem_code(self, client: dict[str, Any], params: dict[str, str]) -> tuple[StoredUser, list[str], str]:
        """The user, scopes and nonce of a code; raises OAuthError as Auth0 answers."""
        for name in ("code", "redirect_uri"):
            if not params.get(name):
                raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")
        code = self.codes.pop(params["code"], None)
        if code is None or code.client_id != client["client_id"] or code.expires < self.tenant.clock():
            raise OAuthError(400, "invalid_grant", "Invalid authorization code")
        if code.redirect_uri != params["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "Invalid authorization code")
        if code.challenge:
            verifier = params.get("code_verifier", "")
            if not 43 <= len(verifier) <= 128 or _s256(verifier) != code.challenge:
                raise OAuthError(403, "invalid_grant", "Failed to verify code verifier")
        user = self.tenant.users.get(code.user_id)
        if user is None:
            raise OAuthError(400, "invalid_grant", "Invalid authorization code")
        return user, code.scopes, code.nonce

    # the device flow ---------------------------------------------------------------------------------
    def device_code(self, params: dict[str, str]) -> dict[str, Any]:
        client = self.tenant.clients.get(params.get("client_id", ""))
        if client is None:
            raise OAuthError(401, "access_denied", "Unauthorized")
        if (client.get("app_type") != "native" or not client.get("oidc_conformant")
                or DEVICE_CODE not in (client.get("grant_types") or [])):
            raise OAuthError(403, "unauthorized_client", f"Grant type '{DEVICE_CODE}' not allowed for the client.",
                             error_uri="https://auth0.com/docs/clients/client-grant-types")
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(4)) + "-" + \
            "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(4))
        self.devices[device_code] = _Device(client["client_id"], params.get("scope", "").split(),
                                            self.tenant.clock() + DEVICE_CODE_LIFETIME, user_code)
        base = f"https://{self.tenant.domain}/activate"
        return {"device_code": device_code, "user_code": user_code, "verification_uri": base,
                "verification_uri_complete": f"{base}?{urllib.parse.urlencode({'user_code': user_code})}",
                "expires_in": DEVICE_CODE_LIFETIME, "interval": DEVICE_INTERVAL}

    def activate(self, query: dict[str, str], form: dict[str, str] | None) -> Page:
        """The page a person opens on another device: the code, then the login form."""
        entered = ((form or {}).get("user_code") or query.get("user_code") or "").strip().upper()
        device = next((d for d in self.devices.values() if d.user_code == entered), None) if entered else None
        title = f"Device Activation | {self.tenant.domain}"
        if device is None or device.expires < self.tenant.clock():
            note = "<p role=alert>Invalid or expired code.</p>" if form is not None else ""
            return _page(200, title, note + "<form method=post><p><label for=user_code>Enter the code displayed "
                                            "on your device</label><br><input id=user_code name=user_code required></p>"
                                            "<p><button type=submit>Continue</button></p></form>")
        if device.user_id is not None:
            return _page(200, title, "<p>Congratulations, you're all set! Your device is now connected.</p>")
        error = ""
        if form is not None and "password" in form:
            client = self.tenant.clients.get(device.client_id) or {}
            user = self._sign_in(client, None, form.get("username", ""), form.get("password", ""))
            if user is not None:
                device.user_id = user.profile["user_id"]
                return _page(200, title, "<p>Congratulations, you're all set! Your device is now connected.</p>")
            error = "<p role=alert>Wrong email or password.</p>"
        hidden = f"<input type=hidden name=user_code value=\"{html.escape(device.user_code, quote=True)}\">"
        return _page(200, title, f"<p>Confirm the code {html.escape(device.user_code)} and log in.</p>" + error
                     + _login_form(form if form and "password" in form else None, "", hidden))

    def redeem_device_code(self, client: dict[str, Any], params: dict[str, str]) -> tuple[StoredUser, list[str]]:
        if not params.get("device_code"):
            raise OAuthError(400, "invalid_request", "Missing required parameter: device_code")
        device = self.devices.get(params["device_code"])
        if device is None or device.client_id != client["client_id"]:
            raise OAuthError(403, "invalid_grant", "Invalid or expired device code.")
        now = self.tenant.clock()
        if device.expires < now:
            if device.expired_said:
                raise OAuthError(403, "invalid_grant", "Invalid or expired device code.")
            device.expired_said = True
            raise OAuthError(403, "expired_token", "The device code has expired.")
        if device.denied:
            del self.devices[params["device_code"]]
            raise OAuthError(403, "access_denied", "User cancelled the confirmation prompt or consent page.")
        too_soon = device.last_poll and now - device.last_poll < DEVICE_INTERVAL
        device.last_poll = now
        if device.user_id is None:
            if too_soon:
                raise OAuthError(429, "slow_down",
                                 f"You are polling faster than the specified interval of {DEVICE_INTERVAL} seconds.")
            raise OAuthError(403, "authorization_pending", "User has yet to authorize device code.")
        del self.devices[params["device_code"]]
        user = self.tenant.users.get(device.user_id)
        if user is None:
            raise OAuthError(403, "invalid_grant", "Invalid or expired device code.")
        return user, device.scopes

    # ------------------------------------------------------------------------------------------------
    def _sign_in(self, client: dict[str, Any], connection_name: str | None, login: str, password: str) -> StoredUser | None:
        """A user of a database connection enabled for the client (the named one, else any)."""
        for connection in self.tenant.connections.values():
            if connection_name and connection["name"] != connection_name:
                continue
            if connection["strategy"] != DATABASE_STRATEGY or client.get("client_id") not in connection["enabled_clients"]:
                continue
            user = self.tenant.find_user(connection["name"], login)
            if user is not None and user.check_password(password) and not user.profile.get("blocked"):
                self.tenant.record_login(user)
                return user
        return None


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _redirect(uri: str, query: dict[str, str]) -> Page:
    answer = {k: v for k, v in query.items() if v}
    return Page(302, location=f"{uri}{'&' if '?' in uri else '?'}{urllib.parse.urlencode(answer)}")


def _login_form(form: dict[str, str] | None, hint: str, hidden: str = "") -> str:
    username = html.escape((form or {}).get("username") or hint, quote=True)
    return (f"<form method=post>{hidden}"
            f"<p><label for=username>Email address</label><br><input id=username name=username value=\"{username}\" "
            "autocomplete=username required></p>"
            "<p><label for=password>Password</label><br><input id=password name=password type=password "
            "autocomplete=current-password required></p>"
            "<p><button type=submit>Continue</button></p></form>")


def _page(status: int, title: str, body: str) -> Page:
    return Page(status, f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
                        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>")

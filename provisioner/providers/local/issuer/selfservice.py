"""The self-service page on the built-in issuer: a lab user signs in and downloads their kubeconfig.

`/me` signs the person in with the authorization code flow (the lab's client, PKCE, `state` bound
to a cookie of this browser so nobody can sign someone else in with a link), then shows who they
are, the commands to try, a download link and a sign-out button. `/me/kubeconfig` answers only
the handout of the session's own `sub` (`handouts.json`, written by `lab up`): there is no
parameter that names a user, so nobody can ask for another's. Sessions live in memory for 8
hours; restarting the issuer signs everyone out.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import yaml

from ....fsutil import read_json
from ....handouts import handouts_file
from ....oidc.jwt import claims_of
from . import pages
from .grants import Authority, FormRequest
from .web import PAGE_HEADERS, Reply

ME_PATH = "/me"
SESSION_COOKIE = "lab_session"
LOGIN_COOKIE = "lab_login"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 600


def _cookie(name: str, value: str, max_age: int) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}={value}; Path={ME_PATH}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax")


class SelfService:
    def __init__(self, authority: Authority, clock: Any = time.time) -> None:
        self.authority = authority
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[str, float]] = {}  # cookie -> (sub, expiry)
        self._logins: dict[str, tuple[str, str, float]] = {}  # state -> (login cookie, verifier, expiry)

    def base(self) -> str:
        settings = self.authority.directory.settings
        return f"https://{settings.host_address}:{settings.port}"

    def _signed_in(self, headers: Any) -> str | None:
        cookie = SimpleCookie(headers.get("Cookie") or "")
        token = cookie[SESSION_COOKIE].value if SESSION_COOKIE in cookie else None
        with self._lock:
            found = self._sessions.get(token or "")
            if found and found[1] > self.clock():
                return found[0]
        return None

    def page(self, headers: Any, query: dict[str, str]) -> Reply:
        """GET /me: the callback of a sign-in, the page of a signed-in user, or off to sign in."""
        if "code" in query or "error" in query:
            return self._callback(headers, query)
        sub = self._signed_in(headers)
        if sub is None:
            return self._start_sign_in()
        return self._user_page(sub)

    def _start_sign_in(self) -> Reply:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        state, login = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._logins = {k: v for k, v in self._logins.items() if v[2] > now}
            self._logins[state] = (login, verifier, now + LOGIN_SECONDS)
        query = {"response_type": "code", "client_id": self.authority.directory.settings.client.client_id,
                 "redirect_uri": f"{self.base()}{ME_PATH}", "scope": "openid email profile", "state": state,
                 "code_challenge": challenge, "code_challenge_method": "S256"}
        return Reply(302, b"", [("Location", f"/authorize?{urlencode(query)}"), ("Cache-Control", "no-store"),
                                _cookie(LOGIN_COOKIE, login, LOGIN_SECONDS)])

    def _callback(self, headers: Any, query: dict[str, str]) -> Reply:
        cookie = SimpleCookie(headers.get("Cookie") or "")
        login = cookie[LOGIN_COOKIE].value if LOGIN_COOKIE in cookie else ""
        with self._lock:
            pending = self._logins.pop(query.get("state", ""), None)
        if pending is None or not login or not secrets.compare_digest(pending[0], login) or "code" not in query:
            return self._message(400, "Sign-in did not finish",
                                 ["This sign-in link is stale or was not started in this browser.",
                                  "Open the page again to sign in."])
        form = {"grant_type": "authorization_code", "code": query["code"], "code_verifier": pending[1],
                "redirect_uri": f"{self.base()}{ME_PATH}",
                "client_id": self.authority.directory.settings.client.client_id}
        request = FormRequest(f"{self.authority.directory.settings.issuer}/token", {}, form, client_address="self")
        status, body, _ = self.authority.create_token_response(request)
        if status != 200:
            return self._message(400, "Sign-in did not finish", ["The sign-in could not be completed; open the page again."])
        sub = claims_of(body["id_token"])["sub"]  # issued a moment ago, in this process
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = (sub, self.clock() + SESSION_SECONDS)
        return Reply(302, b"", [("Location", ME_PATH), ("Cache-Control", "no-store"),
                                _cookie(SESSION_COOKIE, session, SESSION_SECONDS), _cookie(LOGIN_COOKIE, "", 0)])

    def _handout(self, sub: str) -> dict[str, Any] | None:
        document = read_json(handouts_file(self.authority.directory.files.folder)) or {}
        found = document.get(sub)
        return found if isinstance(found, dict) else None

    def _user_page(self, sub: str) -> Reply:
        user = self.authority.directory.user_by_sub(sub)
        handout = self._handout(sub)
        if user is None:
            return self._message(403, "Not a lab user", ["This account is no longer part of the lab."])
        name = user.email or user.username
        lab = self.authority.directory.settings.lab or "oidc-lab"
        file_name = f"{lab}-{user.username}.kubeconfig"
        context = handout["current-context"] if handout else None
        body = pages.render("me", lab, "Your kubeconfig", name=name, display=user.name or user.username,
                            file_name=file_name, context=context, namespace=(
                                handout["contexts"][0]["context"]["namespace"] if handout else None))
        return Reply(200, body, list(PAGE_HEADERS))

    def download(self, headers: Any) -> Reply:
        """GET /me/kubeconfig: the signed-in user's own kubeconfig, and nobody else's."""
        sub = self._signed_in(headers)
        if sub is None:
            return Reply(302, b"", [("Location", ME_PATH), ("Cache-Control", "no-store")])
        handout = self._handout(sub)
        user = self.authority.directory.user_by_sub(sub)
        if handout is None or user is None:
            return self._message(404, "No kubeconfig yet", ["Ask the instructor to run `lab up` again."])
        lab = self.authority.directory.settings.lab or "oidc-lab"
        return Reply(200, yaml.safe_dump(handout, sort_keys=False).encode(),
                     [("Cache-Control", "no-store"),
                      ("Content-Disposition", f'attachment; filename="{lab}-{user.username}.kubeconfig"')],
                     "application/yaml")

    def sign_out(self, headers: Any) -> Reply:
        cookie = SimpleCookie(headers.get("Cookie") or "")
        if SESSION_COOKIE in cookie:
            with self._lock:
                self._sessions.pop(cookie[SESSION_COOKIE].value, None)
        reply = self._message(200, "Signed out", ["You are signed out of the lab's page."])
        reply.headers.append(_cookie(SESSION_COOKIE, "", 0))
        return reply

    def _message(self, status: int, title: str, paragraphs: list[str]) -> Reply:
        lab = self.authority.directory.settings.lab or "oidc-lab"
        return Reply(status, pages.render("message", lab, title, paragraphs=paragraphs), list(PAGE_HEADERS))

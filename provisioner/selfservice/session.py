"""The self-service page, whichever server serves it: the built-in issuer (`/me`) or `lab serve`.

`/me` signs the person in with the authorization code flow (the lab's client, PKCE, `state` bound
to a cookie of this browser so nobody can sign someone else in with a link, and a `nonce`), then
shows who they are, the commands to try, a download link and a sign-out button. `/me/kubeconfig`
answers only the handout of the session's own person: there is no parameter that names a user,
so nobody can ask for another's. Sessions live in memory for 8 hours; a restart signs everyone out.

How a sign-in is started and finished, who the person is and which kubeconfig is theirs is the
`SignInBackend`'s business: the issuer answers from its own directory, `lab serve` from the IdP's
token endpoint and the lab's users.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any, Callable, Protocol

import yaml

from . import pages
from .pages import PAGE_HEADERS, Reply

ME_PATH = "/me"
SESSION_COOKIE = "lab_session"
LOGIN_COOKIE = "lab_login"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 600


@dataclass(frozen=True)
class Person:
    """A lab user as the page shows them; `key` finds their session and their handout."""

    key: str
    name: str  # what they signed in as (email, else user name)
    display: str
    username: str


class SignInFailed(Exception):
    """The IdP's answer did not sign a lab user in; the paragraphs say why, to the person."""

    def __init__(self, *paragraphs: str) -> None:
        super().__init__(" ".join(paragraphs))
        self.paragraphs = list(paragraphs)


class SignInBackend(Protocol):
    lab: str

    def authorization_url(self, redirect_uri: str, state: str, challenge: str, nonce: str) -> str: ...
    def finish(self, code: str, verifier: str, redirect_uri: str, nonce: str) -> str: ...  # a Person key
    def person(self, key: str) -> Person | None: ...
    def handout(self, key: str) -> dict[str, Any] | None: ...


def _cookie(name: str, value: str, max_age: int) -> tuple[str, str]:
    return ("Set-Cookie", f"{name}={value}; Path={ME_PATH}; Max-Age={max_age}; Secure; HttpOnly; SameSite=Lax")


def _install_hint(handout: dict[str, Any] | None) -> str | None:
    """How to install the plugin the kubeconfig's user runs, as the kubeconfig itself says."""
    try:
        return handout["users"][0]["user"]["exec"]["installHint"] if handout else None
    except (KeyError, IndexError, TypeError):
        return None


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class SelfServicePages:
    def __init__(self, backend: SignInBackend, base: Callable[[], str], clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.base = base  # the page's origin, https://host:port, as the IdP knows its callback
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[str, float]] = {}  # cookie -> (person key, expiry)
        self._logins: dict[str, tuple[str, str, str, float]] = {}  # state -> (login cookie, verifier, nonce, expiry)

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
        key = self._signed_in(headers)
        if key is None:
            return self._start_sign_in()
        return self._user_page(key)

    def _start_sign_in(self) -> Reply:
        verifier, challenge = _pkce()
        state, login, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._logins = {k: v for k, v in self._logins.items() if v[3] > now}
            self._logins[state] = (login, verifier, nonce, now + LOGIN_SECONDS)
        url = self.backend.authorization_url(f"{self.base()}{ME_PATH}", state, challenge, nonce)
        return Reply(302, b"", [("Location", url), ("Cache-Control", "no-store"), _cookie(LOGIN_COOKIE, login, LOGIN_SECONDS)])

    def _callback(self, headers: Any, query: dict[str, str]) -> Reply:
        cookie = SimpleCookie(headers.get("Cookie") or "")
        login = cookie[LOGIN_COOKIE].value if LOGIN_COOKIE in cookie else ""
        with self._lock:
            pending = self._logins.pop(query.get("state", ""), None)
        if pending is None or not login or not secrets.compare_digest(pending[0], login) or "code" not in query:
            return self._message(400, "Sign-in did not finish",
                                 ["This sign-in link is stale or was not started in this browser.",
                                  "Open the page again to sign in."])
        try:
            key = self.backend.finish(query["code"], pending[1], f"{self.base()}{ME_PATH}", pending[2])
        except SignInFailed as failed:
            return self._message(403, "Sign-in did not finish", failed.paragraphs)
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = (key, self.clock() + SESSION_SECONDS)
        return Reply(302, b"", [("Location", ME_PATH), ("Cache-Control", "no-store"),
                                _cookie(SESSION_COOKIE, session, SESSION_SECONDS), _cookie(LOGIN_COOKIE, "", 0)])

    def _user_page(self, key: str) -> Reply:
        person = self.backend.person(key)
        if person is None:
            return self._message(403, "Not a lab user", ["This account is no longer part of the lab."])
        handout = self.backend.handout(key)
        file_name = f"{self.backend.lab}-{person.username}.kubeconfig"
        body = pages.render("me", self.backend.lab, "Your kubeconfig", name=person.name, display=person.display,
                            file_name=file_name, context=handout["current-context"] if handout else None,
                            namespace=handout["contexts"][0]["context"].get("namespace") if handout else None,
                            install_hint=_install_hint(handout))
        return Reply(200, body, list(PAGE_HEADERS))

    def download(self, headers: Any) -> Reply:
        """GET /me/kubeconfig: the signed-in person's own kubeconfig, and nobody else's."""
        key = self._signed_in(headers)
        if key is None:
            return Reply(302, b"", [("Location", ME_PATH), ("Cache-Control", "no-store")])
        person, handout = self.backend.person(key), self.backend.handout(key)
        if handout is None or person is None:
            return self._message(404, "No kubeconfig yet", ["Ask the instructor to run `lab up` again."])
        return Reply(200, yaml.safe_dump(handout, sort_keys=False).encode(),
                     [("Cache-Control", "no-store"),
                      ("Content-Disposition", f'attachment; filename="{self.backend.lab}-{person.username}.kubeconfig"')],
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
        return Reply(status, pages.render("message", self.backend.lab, title, paragraphs=paragraphs), list(PAGE_HEADERS))

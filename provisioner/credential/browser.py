"""`lab token` in browser mode: the authorization code flow with PKCE and a loopback redirect.

What kubelogin does by default, for the lab's users (RFC 8252, native apps): listen on 127.0.0.1
on the first free port of the few the IdP knows as redirect URIs, send the person's browser to the
IdP's authorization endpoint with an S256 code challenge, a `state` and a `nonce`, take the code
from the redirect, and redeem it with the code verifier. A redirect whose `state` is not ours
(another tab, a forged link) is refused and the listener keeps waiting; an id_token whose `nonce`
is not ours is refused outright.

Imported only when this flow runs: the cache hit must stay light, and parallel kubectl runs wait
on the token lock, so only the first opens a browser tab; the others reuse its token.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

from ..errors import CredentialError
from ..oidc.flows import loopback_redirect_uri

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from .client import HttpTokenClient

WAIT_SECONDS = 300.0  # how long a person gets to sign in before `lab token` gives up


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636: 43 to 128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class Redirect:
    """What the browser brought back to the listener: a code, or the IdP's error."""

    def __init__(self) -> None:
        self.code: str | None = None
        self.error: str | None = None


class _Listener(HTTPServer):
    expected_state: str
    redirect: Redirect

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser that drops a connection (speculative preconnect) is no failure of ours


class _RedirectHandler(BaseHTTPRequestHandler):
    server: _Listener

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parts.query))
        if parts.path != "/" or ("code" not in query and "error" not in query):
            self._page(404, "Nothing here", "This address only receives the lab's sign-in answer.")
            return
        if not secrets.compare_digest(query.get("state", ""), self.server.expected_state):
            self._page(400, "Not this sign-in",
                       "This answer belongs to another sign-in attempt; lab token is still waiting for its own.")
            return
        if "error" in query:
            self.server.redirect.error = query.get("error_description") or query["error"]
            self._page(400, "Sign-in failed", f"The identity provider said: {self.server.redirect.error}")
            return
        self.server.redirect.code = query["code"]
        self._page(200, "Signed in", "You are signed in. Go back to your terminal; you can close this tab.")

    def _page(self, status: int, title: str, text: str) -> None:
        body = (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)}</title>"
                f"<body style='font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto'>"
                f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the query holds the code: never print it


def listen(ports: list[int]) -> _Listener:
    """A listener on 127.0.0.1 at the first free port of `ports` (the ones the IdP knows)."""
    for port in ports:
        try:
            return _Listener(("127.0.0.1", port), _RedirectHandler)
        except OSError:
            continue
    raise CredentialError(
        f"cannot listen for the sign-in redirect: ports {', '.join(map(str, ports))} on 127.0.0.1 are all in use",
        "finish the sign-in another `lab token` or kubelogin has open, or stop what holds those ports",
    )


def authorization_url(endpoint: str, client_id: str, redirect_uri: str, scope: str, state: str, nonce: str,
                      challenge: str, login_hint: str | None) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope,
             "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}
    if login_hint:
        query["login_hint"] = login_hint
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urllib.parse.urlencode(query)}"


def wait_for_code(listener: _Listener, deadline: float, clock: Callable[[], float] = time.monotonic) -> str:
    """Serve the redirect listener until the browser brings back our code (or an error, or the deadline)."""
    redirect = listener.redirect
    while redirect.code is None and redirect.error is None:
        left = deadline - clock()
        if left <= 0:
            raise CredentialError("nobody signed in within the time allowed",
                                  "run the kubectl command again and sign in on the page it opens")
        listener.timeout = min(left, 1.0)
        listener.handle_request()
    if redirect.error is not None:
        raise CredentialError(f"the identity provider refused the sign-in: {redirect.error}",
                              "run the kubectl command again and sign in with the lab user's account")
    return redirect.code  # type: ignore[return-value]


def sign_in(client: HttpTokenClient, lab: str, user: str, stderr: TextIO, open_browser: bool,
            wait_seconds: float = WAIT_SECONDS) -> dict[str, Any]:
    """The token response of a browser sign-in as `user` (the person signs in on the IdP's page)."""
    s = client.settings
    if not s.authorization_endpoint or not s.redirect_ports:
        raise CredentialError(f"lab {lab!r} has no browser sign-in set up for its identity provider",
                              "run `lab up` again to register the redirect URIs, or set oidc.flow: password")
    client.prepare()  # the lab's own issuer must be up before the browser is sent to it
    listener = listen(list(s.redirect_ports))
    try:
        redirect_uri = loopback_redirect_uri(listener.server_address[1])
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        listener.expected_state, listener.redirect = state, Redirect()
        url = authorization_url(s.authorization_endpoint, s.client_id, redirect_uri, s.scope, state, nonce,
                                challenge, client.login)
        stderr.write(f"lab token: sign in to lab {lab} as {user} in your browser:\n  {url}\n")
        stderr.flush()
        if open_browser:
            import webbrowser

            webbrowser.open(url)
        code = wait_for_code(listener, time.monotonic() + wait_seconds)
    finally:
        listener.server_close()
    from .flow import GrantRefused

    try:
        answer = client.redeem({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                                "code_verifier": verifier})
    except GrantRefused as refused:
        raise CredentialError(f"the identity provider would not exchange the sign-in's code for tokens ({refused})",
                              "run the kubectl command again and sign in once more") from None
    check_nonce(answer, nonce)
    return answer


def check_nonce(answer: dict[str, Any], nonce: str) -> None:
    """The id_token must carry the nonce this run sent (OIDC Core 3.1.3.7), or it answers another request."""
    from ..oidc.jwt import MalformedToken, claims_of

    try:
        claims = claims_of(answer.get("id_token") or "")
    except MalformedToken:
        return  # the flow's own check names an unreadable id_token
    if claims.get("nonce") != nonce:
        raise CredentialError("the identity provider's id_token does not carry this sign-in's nonce",
                              "run the command again; if it repeats, the IdP is not answering this request")


def is_interactive(exec_info: str | None) -> bool:
    """Whether a person can use a browser now: kubectl says so in KUBERNETES_EXEC_INFO, else stdin is a terminal."""
    if exec_info and '"interactive"' in exec_info.replace(" ", ""):
        return '"interactive":true' in exec_info.replace(" ", "")
    import sys

    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:
        return False


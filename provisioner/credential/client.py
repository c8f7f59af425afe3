"""The IdP's token endpoint, spoken with the standard library.

Imported only on a cache miss: urllib and ssl are slow to import, and kubectl starts the plugin
for every command. The form fields are the same for Auth0 (`password` or `password-realm`, the
latter with `realm`), Casdoor (its own refresh endpoint) and the built-in issuer.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from .. import __version__
from ..errors import CredentialError
from .flow import GrantRefused

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..secrets import TokenClient

TIMEOUT_SECONDS = 20.0
# A 429 (a hosted IdP's rate limit, e.g. Auth0's 30 token requests a second) is waited out and
# retried this many times in all, never waiting longer than this at once.
RATE_LIMITED_TRIES = 4
MAX_RATE_LIMITED_WAIT = 10.0
USER_AGENT = f"oidc-lab/{__version__} (lab token)"


class HttpTokenClient:
    """One lab user's grants at the IdP: the sign-in of the user's flow, and the refresh grant."""

    def __init__(self, settings: TokenClient, login: str, password: str, timeout: float = TIMEOUT_SECONDS,
                 before_first_grant: Callable[[], None] | None = None, flow: str = "password",
                 lab: str = "", handle: str = "") -> None:
        self.settings = settings
        self.login = login
        self._password = password
        self.timeout = timeout
        self.flow = flow  # password, browser or device (`oidc.flow`)
        self.lab, self.handle = lab, handle
        # Runs once, under the token lock, before the first request (wakes the lab's own issuer).
        self._before_first_grant = before_first_grant
        self._own_issuer = before_first_grant is not None

    def sign_in(self) -> dict[str, Any]:
        if self.flow == "browser":
            import os
            import sys

            from .browser import is_interactive, sign_in

            return sign_in(self, self.lab, self.handle, sys.stderr,
                           open_browser=is_interactive(os.environ.get("KUBERNETES_EXEC_INFO")))
        if self.flow == "device":
            import sys

            from .device import sign_in

            return sign_in(self, self.lab, self.handle, sys.stderr)
        s = self.settings
        form = {"grant_type": s.grant_type, **s.extra, "username": self.login, "password": self._password}
        if s.scope:
            form["scope"] = s.scope
        return self._post(s.token_endpoint, self._with_client(form))

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        s = self.settings
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if s.scope:
            form["scope"] = s.scope
        return self._post(s.refresh_endpoint or s.token_endpoint, self._with_client(form))

    def redeem(self, form: dict[str, str]) -> dict[str, Any]:
        """A token request of another grant (authorization code, device code) with the lab's client."""
        return self._post(self.settings.token_endpoint, self._with_client(form))

    def authorize_device(self) -> dict[str, Any]:
        """RFC 8628 section 3.1: a device code, a user code and where to enter it."""
        form = {"scope": self.settings.scope} if self.settings.scope else {}
        return self._post(self.settings.device_authorization_endpoint or "", self._with_client(form))

    def prepare(self) -> None:
        """Run the one-time preparation (wake the lab's own issuer) now, if it has not run."""
        if self._before_first_grant is not None:
            prepare, self._before_first_grant = self._before_first_grant, None
            prepare()

    def _with_client(self, form: dict[str, str]) -> dict[str, str]:
        # client_secret_post: the way Auth0 clients made by the lab authenticate, and Casdoor accepts
        form["client_id"] = self.settings.client_id
        if self.settings.client_secret:
            form["client_secret"] = self.settings.client_secret
        return form

    def _post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        self.prepare()
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(form).encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
        )
        for attempt in range(RATE_LIMITED_TRIES):
            status, body, wait = self._send(url, request)
            if status != 429 or attempt == RATE_LIMITED_TRIES - 1:
                break
            time.sleep(wait)  # a hosted IdP's rate limit (Auth0: 429): its bucket refills within seconds
        return _token_response(url, status, body)

    def _send(self, url: str, request: urllib.request.Request) -> tuple[int, bytes, float]:
        """(status, body, seconds a 429 asks to wait)."""
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._tls()) as response:
                return response.status, response.read(), 0.0
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read(), _retry_after(answer.headers)
        except urllib.error.URLError as failure:
            raise self._connection_error(url, failure.reason) from None
        except OSError as failure:  # reset or timed out while reading the answer
            raise self._connection_error(url, failure) from None
        except http.client.HTTPException as failure:  # not HTTP at all, or cut off mid-answer
            raise self._connection_error(url, f"a garbled answer ({type(failure).__name__})") from None

    def _tls(self) -> ssl.SSLContext:
        ca_file = self.settings.ca_file
        try:
            return _tls_context(*_trust_source(ca_file))
        except (OSError, ssl.SSLError):
            raise CredentialError(
                f"the CA file {ca_file} that should verify the identity provider is missing or unreadable",
                "run `lab up` again to write the lab's CA file",
            ) from None

    def _connection_error(self, url: str, reason: object) -> CredentialError:
        host = urllib.parse.urlsplit(url).netloc
        if isinstance(reason, ssl.SSLCertVerificationError):
            trusted = f"the lab's CA file {self.settings.ca_file}" if self.settings.ca_file else "this machine's CA roots"
            return CredentialError(
                f"TLS verification of the identity provider at {host} failed: {reason.verify_message}",
                f"its certificate must be issued for {host} and signed by {trusted}; run `lab up` again if the lab's CA changed",
            )
        if isinstance(reason, ssl.SSLError):
            return CredentialError(
                f"the TLS handshake with the identity provider at {host} failed: {reason.reason or reason}",
                f"check that {url} is served over HTTPS",
            )
        if isinstance(reason, socket.gaierror):
            detail = f"the name {urllib.parse.urlsplit(url).hostname} does not resolve"
        elif isinstance(reason, ConnectionRefusedError):
            detail = "the connection was refused"
        elif isinstance(reason, TimeoutError):
            detail = f"no answer within {self.timeout:g} s"
        else:
            detail = str(reason) or reason.__class__.__name__
        if self._own_issuer:
            hint = ("the lab's built-in issuer was started but does not answer: read its log (`lab status` shows "
                    "where the lab lives, issuer/issuer.log), then run `lab up` to restart it")
        else:
            hint = "check that the identity provider is running and reachable from this machine (`lab status` shows the lab's issuer)"
        return CredentialError(f"cannot reach the identity provider at {host}: {detail}", hint)


def _token_response(url: str, status: int, body: bytes) -> dict[str, Any]:
    """The token response, or GrantRefused for an OAuth error (Casdoor may send those with 200)."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str) and document["error"]:
        description = document.get("error_description")
        raise GrantRefused(document["error"], description if isinstance(description, str) else None, status)
    if status != 200 or not isinstance(document, dict):
        raise CredentialError(
            f"the token endpoint {url} answered HTTP {status} without a token response",
            "check the lab's token endpoint (`lab status`) and the identity provider's logs",
        )
    return document


def for_user(lab: str, handle: str, root: str, flow: str | None = None) -> HttpTokenClient:
    """The client for one user of the lab in `root`, from the lab's credentials.json; `flow`
    overrides the user's sign-in flow (the lab's own checks use the password grant)."""
    from pathlib import Path

    from ..errors import StateError
    from ..paths import LabPaths
    from ..secrets import LabSecrets

    try:
        secrets = LabSecrets.load(LabPaths(Path(root)))
        settings = secrets.client
    except StateError as damaged:  # credentials.json damaged: the sentence names the file and the fix
        raise CredentialError(damaged.message, damaged.hint) from None
    except (ValueError, TypeError):
        raise CredentialError(
            f"the credentials of lab {lab!r} are damaged",
            "run `lab up` again to rewrite them",
        ) from None
    if settings is None:
        raise CredentialError(
            f"lab {lab!r} has no token client yet",
            "run `lab up` to finish setting up the lab",
        )
    users = secrets.document.get("users") or {}
    entry = users.get(handle)
    if not isinstance(entry, dict):
        known = ", ".join(sorted(users)) or "none"
        raise CredentialError(
            f"lab {lab!r} has no user {handle!r} (its users: {known})",
            "use one of the lab's users, or add the user to lab.yaml and run `lab up`",
        )
    if not entry.get("login") or not entry.get("password"):
        raise CredentialError(
            f"user {handle!r} of lab {lab!r} is not fully set up",
            "run `lab up` again to finish creating the user",
        )
    if settings.client_secret is None and secrets.client_secret and not settings.public_client:
        from dataclasses import replace

        settings = replace(settings, client_secret=secrets.client_secret)
    return HttpTokenClient(settings, entry["login"], entry["password"], before_first_grant=_issuer_waker(lab, root),
                           flow=flow or entry.get("flow") or "password", lab=lab, handle=handle)


def _issuer_waker(lab: str, root: str) -> Callable[[], None] | None:
    """For a lab on the built-in issuer: start it if it is not running (after a reboot)."""
    from .local_issuer import issuer_folder, wake

    folder = issuer_folder(root)
    return (lambda: wake(lab, folder)) if folder else None


def _retry_after(headers: Any) -> float:
    """How long a 429 asks to wait: Retry-After, else until X-RateLimit-Reset (Auth0), within reason."""
    try:
        return min(MAX_RATE_LIMITED_WAIT, max(0.1, float(headers.get("Retry-After"))))
    except (TypeError, ValueError):
        pass
    try:
        return min(MAX_RATE_LIMITED_WAIT, max(0.1, float(headers.get("X-RateLimit-Reset")) - time.time()))
    except (TypeError, ValueError):
        return 1.0


def _trust_source(ca_file: str | None) -> tuple[str | None, int, str | None, str | None]:
    """What a TLS context trusts, as it is now: the lab's CA file, else the system's roots and
    the OpenSSL variables that replace them (SSL_CERT_FILE, SSL_CERT_DIR), with file mtimes."""
    if ca_file:
        return ca_file, os.stat(ca_file).st_mtime_ns, None, None
    cert_file = os.environ.get("SSL_CERT_FILE")
    try:
        stamp = os.stat(cert_file).st_mtime_ns if cert_file else 0
    except OSError:
        stamp = -1
    return None, stamp, cert_file, os.environ.get("SSL_CERT_DIR")


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None, stamp: int, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """One TLS context per trust source for every sign-in of a process: `lab up` signs a room in,
    and the system's roots alone take about 20 ms to load each time. A context is safe to share
    between threads; the source's mtime and variables are in the key, so a change is never missed."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

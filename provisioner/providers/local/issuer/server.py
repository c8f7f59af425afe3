"""The issuer's HTTPS endpoints: discovery, JWKS, token, health.

Authlib does the OAuth 2 protocol (grant selection, client authentication, error bodies); this
module supplies what it leaves to an application: where clients, users and refresh tokens live
(the issuer folder, reloaded when `lab up` rewrites it) and what a token response holds (an RS256
id_token carrying the claims the kube-apiserver reads). Nothing secret is ever logged: request
lines are logged without their query string, and token requests only name the grant and the login.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant, ResourceOwnerPasswordCredentialsGrant
from authlib.oauth2.rfc6749.util import scope_to_list

from ....fsutil import read_json, write_json
from .files import IssuerFiles, IssuerSettings, UserRecord, read_settings, read_users
from .hashing import VerifiedSecrets, token_digest
from .keys import SigningKey

log = logging.getLogger("oidc-lab.issuer")

DEFAULT_SCOPE = "openid email profile offline_access"
SCOPES = ("openid", "email", "profile", "groups", "offline_access")
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ("password", "refresh_token")
CLAIMS = ("iss", "sub", "aud", "exp", "iat", "email", "email_verified", "name", "groups", "preferred_username")
MAX_BODY = 64 * 1024


def id_token_claims(settings: IssuerSettings, user: UserRecord, now: int) -> dict[str, Any]:
    """The id_token of `user`: what the apiserver checks (iss, aud, exp) and maps (email, groups)."""
    claims: dict[str, Any] = {
        "iss": settings.issuer,
        "sub": user.sub,
        "aud": settings.client.client_id,
        "iat": now,
        "exp": now + settings.id_token_ttl_seconds,
        "name": user.name or user.username,
        "preferred_username": user.username,
        "groups": list(user.groups),
    }
    if user.email:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    return claims


def discovery_document(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks",
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": list(SCOPES),
        "claims_supported": list(CLAIMS),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
    }


# --- where the grants find clients, users and refresh tokens ------------------------------------


class Directory:
    """The settings and users files, re-read whenever they change on disk (no restart needed)."""

    def __init__(self, files: IssuerFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._settings_stamp: tuple | None = None
        self._users_stamp: tuple | None = None
        self._settings: IssuerSettings | None = None
        self._users: list[UserRecord] = []

    @staticmethod
    def _stamp(path: Path) -> tuple | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _refresh(self) -> None:
        with self._lock:
            stamp = self._stamp(self.files.settings)
            if stamp != self._settings_stamp:
                settings = read_settings(self.files)
                if settings is None:
                    raise RuntimeError(f"{self.files.settings} is missing")
                self._settings, self._settings_stamp = settings, stamp
                log.info("loaded settings for issuer %s", settings.issuer)
            stamp = self._stamp(self.files.users)
            if stamp != self._users_stamp:
                self._users, self._users_stamp = read_users(self.files), stamp
                log.info("loaded %d users", len(self._users))

    @property
    def settings(self) -> IssuerSettings:
        self._refresh()
        assert self._settings is not None
        return self._settings

    def user_by_login(self, login: str) -> UserRecord | None:
        self._refresh()
        folded = login.strip().lower()
        for user in self._users:
            if user.username == login or (user.email and user.email.lower() == folded):
                return user
        return None

    def user_by_sub(self, sub: str) -> UserRecord | None:
        self._refresh()
        return next((user for user in self._users if user.sub == sub), None)


@dataclass(frozen=True)
class RefreshRecord(TokenMixin):
    digest: str
    sub: str
    client_id: str
    scope: str
    expires_at: int

    def check_client(self, client: "Client") -> bool:
        return client.get_client_id() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False


class RefreshTokens:
    """Refresh tokens by SHA-256 digest, persisted so a restarted issuer still honours them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            self._records: dict[str, dict[str, Any]] = (read_json(path) or {}).get("tokens", {})
        except ValueError:
            self._records = {}

    def _save(self) -> None:
        now = time.time()
        self._records = {d: r for d, r in self._records.items() if r["expires_at"] > now}
        write_json(self.path, {"tokens": self._records})

    def add(self, token: str, sub: str, client_id: str, scope: str, ttl: int) -> None:
        with self._lock:
            self._records[token_digest(token)] = {
                "sub": sub, "client_id": client_id, "scope": scope, "expires_at": int(time.time()) + ttl,
            }
            self._save()

    def find(self, token: str) -> RefreshRecord | None:
        digest = token_digest(token)
        with self._lock:
            raw = self._records.get(digest)
        if raw is None:
            return None
        record = RefreshRecord(digest=digest, **raw)
        return None if record.is_expired() else record

    def revoke(self, record: RefreshRecord) -> None:
        with self._lock:
            if self._records.pop(record.digest, None) is not None:
                self._save()


class Client(ClientMixin):
    """The lab's one confidential client: password and refresh_token grants, secret by basic or post."""

    def __init__(self, client_id: str, secret_hash: str, verifier: VerifiedSecrets) -> None:
        self.client_id = client_id
        self.secret_hash = secret_hash
        self.verifier = verifier

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or DEFAULT_SCOPE

    def check_client_secret(self, client_secret: str) -> bool:
        return self.verifier.verify(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def get_default_redirect_uri(self) -> None:
        return None


# --- the OAuth 2 grants ---------------------------------------------------------------------------


class PasswordGrant(ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_user(self, username: str, password: str) -> UserRecord:
        authority: Authority = self.server
        user = authority.directory.user_by_login(username)
        if user is None or not authority.verifier.verify(password, user.password_hash):
            # One answer for an unknown login and a wrong password: nothing to probe logins with.
            raise InvalidGrantError("Wrong username or password.")
        return user


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        return self.server.tokens.find(refresh_token)

    def authenticate_user(self, refresh_token: RefreshRecord) -> UserRecord:
        user = self.server.directory.user_by_sub(refresh_token.sub)
        if user is None:
            raise InvalidGrantError("The user of this refresh token no longer exists.")
        return user

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        self.server.tokens.revoke(refresh_token)


class FormRequest(OAuth2Request):
    """A token request as Authlib reads it, built from an already-parsed form body."""

    def __init__(self, uri: str, headers: Any, form: dict[str, str]) -> None:
        super().__init__("POST", uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class Authority(AuthorizationServer):
    """Authlib's authorization server, bound to the issuer folder and the signing key."""

    def __init__(self, files: IssuerFiles) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.directory = Directory(files)
        self.tokens = RefreshTokens(files.refresh_tokens)
        self.signer = SigningKey.load(files)
        self.verifier = VerifiedSecrets()
        self.register_grant(PasswordGrant)
        self.register_grant(RefreshGrant)
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> Client | None:
        record = self.directory.settings.client
        if client_id != record.client_id:
            return None
        return Client(record.client_id, record.secret_hash, self.verifier)

    def validate_requested_scope(self, scope: str | None) -> None:
        super().validate_requested_scope(scope)
        if scope and "openid" not in scope_to_list(scope):
            raise InvalidScopeError("This issuer only issues id_tokens: include 'openid' in the scope.")

    def _generate_token(self, grant_type: str, client: Client, user: UserRecord | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None
        settings = self.directory.settings
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "id_token": self.signer.sign(id_token_claims(settings, user, int(time.time()))),
            "expires_in": settings.id_token_ttl_seconds,
            "scope": client.get_allowed_scope(scope),
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(48)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        if "refresh_token" in token:
            self.tokens.add(token["refresh_token"], request.user.sub, request.client.get_client_id(),
                            token["scope"], self.directory.settings.refresh_token_ttl_seconds)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]):
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for framework signals; the issuer has no listeners."""


# --- HTTP -----------------------------------------------------------------------------------------


def _printable(text: str, limit: int = 120) -> str:
    """A client-supplied value made safe for a log line (no line breaks to forge entries with)."""
    return "".join(c for c in text if c.isprintable() and not c.isspace())[:limit]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "oidc-lab-issuer"
    timeout = 30
    # One buffered write per response: headers and body in separate TLS records stall on delayed ACKs.
    wbufsize = -1
    disable_nagle_algorithm = True
    server: "IssuerHTTPServer"

    def do_GET(self) -> None:
        self.audit = ""  # one handler serves every request of a kept-alive connection
        authority = self.server.authority
        path = urlsplit(self.path).path
        issuer = authority.directory.settings.issuer
        if path == "/.well-known/openid-configuration":
            self._json(200, discovery_document(issuer))
        elif path in ("/jwks", "/.well-known/jwks.json"):
            self._json(200, authority.signer.jwks())
        elif path == "/healthz":
            self._json(200, {"status": "ok", "issuer": issuer, "pid": os.getpid()})
        elif path == "/token":
            self._json(405, {"error": "invalid_request", "error_description": "Use POST."}, [("Allow", "POST")])
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/token":
            self._json(404, {"error": "not_found"})
            return
        form, problem = self._read_form()
        if problem:
            self._json(400, {"error": "invalid_request", "error_description": problem})
            return
        self.audit = f"grant={_printable(form.get('grant_type', '-'))}"
        if "username" in form:
            self.audit += f" login={_printable(form['username'])}"
        authority = self.server.authority
        request = FormRequest(f"{authority.directory.settings.issuer}/token", self.headers, form)
        status, body, headers = authority.create_token_response(request)
        self._json(status, body, [(k, v) for k, v in headers if k.lower() != "content-type"])

    def _read_form(self) -> tuple[dict[str, str], str | None]:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            return {}, "The request body is missing or too large."
        body = self.rfile.read(length)
        if content_type != "application/x-www-form-urlencoded":
            return {}, "The token endpoint takes application/x-www-form-urlencoded bodies only."
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError):
            return {}, "The form body could not be parsed."
        form: dict[str, str] = {}
        for key, value in pairs:
            if key in form:
                return {}, f"The parameter '{key}' is repeated."
            form[key] = value
        return form, None

    def _json(self, status: int, body: Any, headers: list[tuple[str, str]] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        # The path only: a query string could carry a secret someone pasted into a URL.
        path = urlsplit(self.path).path if hasattr(self, "path") else "-"
        if path == "/healthz" and str(code) == "200":
            return  # every `lab up` and `lab status` probes it; the log would be all health checks
        audit = getattr(self, "audit", "")
        log.info("%s %s %s %s %s", self.client_address[0], self.command, path, code, audit)

    def log_message(self, format: str, *args: Any) -> None:
        # http.server's own complaints quote the raw request line; drop any query string from it.
        log.info("%s %s", self.client_address[0], re.sub(r"\?[^\s'\"]*", "?...", format % args))


class IssuerHTTPServer(ThreadingHTTPServer):
    """A threaded HTTPS server; each connection's TLS handshake runs in its own thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext, authority: Authority) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.tls = tls
        self.authority = authority
        super().__init__(address, Handler)

    def service_actions(self) -> None:
        """Between requests: leave when the lab's folder is gone, so a deleted lab leaves no orphan issuer."""
        if not self.authority.directory.files.settings.exists():
            log.info("%s is gone; stopping", self.authority.directory.files.settings)
            raise SystemExit(0)

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        request.settimeout(Handler.timeout)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.info("%s TLS handshake failed: %s", client_address[0], getattr(exc, "reason", None) or exc)
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()


def tls_context(files: IssuerFiles) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.tls_cert, files.tls_key)
    return context


def make_server(folder: Path) -> IssuerHTTPServer:
    """Bind the issuer described by `folder` (its port and address are read once, here)."""
    files = IssuerFiles(folder)
    authority = Authority(files)
    settings = authority.directory.settings
    return IssuerHTTPServer((settings.listen, settings.port), tls_context(files), authority)


def serve(folder: Path) -> None:
    """Serve until SIGTERM or SIGINT. Output goes to stderr, which `process` points at the log file."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("authlib").setLevel(logging.WARNING)  # its debug lines print tokens
    httpd = make_server(folder)

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    settings = httpd.authority.directory.settings
    log.info("issuer %s listening on %s:%d (pid %d)", settings.issuer, settings.listen, settings.port, os.getpid())
    try:
        httpd.serve_forever(poll_interval=0.25)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        httpd.server_close()
        log.info("issuer stopped")

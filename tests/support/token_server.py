"""A small OAuth token endpoint over HTTPS, for testing `lab token` against a real server.

It speaks what the credential plugin needs from Auth0, Casdoor and the built-in issuer: the
password grant (plain or Auth0's password-realm), the refresh grant (at the token endpoint and
at a separate refresh endpoint, as Casdoor has), form bodies, OAuth error bodies. It signs RS256
id_tokens with PyJWT, counts requests per grant, and can be told to refuse refresh tokens or
passwords, to issue tokens of any lifetime, or to answer a fixed error.

    with TokenServer(tmp_path, users={"alice@example.org": "pw"}) as idp:
        client = idp.token_client()      # a provisioner.secrets.TokenClient aimed at it
        ...
        assert idp.grants["password"] == 1
"""

from __future__ import annotations

import collections
import json
import secrets
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from provisioner.providers.local.pki import KeyPair, create_ca, generate_rsa_signing_key, issue_server_cert
from provisioner.secrets import AUTH0_PASSWORD_REALM_GRANT, PASSWORD_GRANT, TokenClient

TOKEN_PATH = "/oauth/token"
REFRESH_PATH = "/api/login/oauth/refresh_token"  # Casdoor's separate refresh endpoint


class TokenServer:
    """A token endpoint on 127.0.0.1 with its own CA; use as a context manager or start()/stop()."""

    def __init__(
        self,
        workdir: Path,
        users: dict[str, str] | None = None,
        client_id: str = "lab-client",
        client_secret: str | None = "lab-client-secret",
        realm: str | None = None,
        ca: KeyPair | None = None,
    ) -> None:
        self.users = dict(users or {"alice@example.org": "alice-password"})
        self.client_id = client_id
        self.client_secret = client_secret
        self.realm = realm  # when set, the password-realm grant must name it
        # scriptable behaviour ----------------------------------------------------------------
        self.id_token_lifetime = 3600
        self.refuse_refresh = False
        self.rotate_refresh_tokens = False
        self.fixed_password_answer: tuple[int, dict[str, Any]] | None = None  # (status, body)
        self.password_delay = 0.0  # seconds: widens the window in which parallel runs race
        # what happened -------------------------------------------------------------------------
        self.grants: collections.Counter[str] = collections.Counter()
        self.forms: list[dict[str, str]] = []
        self._refresh_tokens: dict[str, str] = {}
        self._lock = threading.Lock()

        self.ca = ca or create_ca("oidc-lab token server test CA")
        self.ca_file = workdir / "token-server-ca.pem"
        self.ca_file.write_bytes(self.ca.cert_pem)
        server_pair = issue_server_cert(self.ca, ["127.0.0.1", "localhost"])
        (workdir / "token-server.pem").write_bytes(server_pair.cert_pem + server_pair.key_pem)
        self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._tls.load_cert_chain(workdir / "token-server.pem")
        self._signing_key = serialization.load_pem_private_key(generate_rsa_signing_key(), password=None)
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle ---------------------------------------------------------------------------------
    def start(self) -> TokenServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join()
            self._httpd = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def issuer(self) -> str:
        return self.base_url + "/"

    @property
    def token_endpoint(self) -> str:
        return self.base_url + TOKEN_PATH

    @property
    def refresh_endpoint(self) -> str:
        return self.base_url + REFRESH_PATH

    def token_client(self, **overrides: Any) -> TokenClient:
        """How the plugin should reach this server, as `lab up` would record it."""
        settings: dict[str, Any] = {
            "token_endpoint": self.token_endpoint,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "issuer": self.issuer,
            "ca_file": str(self.ca_file),
        }
        if self.realm:
            settings.update(grant_type=AUTH0_PASSWORD_REALM_GRANT, extra={"realm": self.realm})
        settings.update(overrides)
        return TokenClient(**settings)

    # tokens ------------------------------------------------------------------------------------
    def mint_id_token(self, login: str, lifetime: int | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": f"auth0|{login}",
            "aud": self.client_id,
            "iat": now,
            "exp": now + (self.id_token_lifetime if lifetime is None else lifetime),
            "email": login,
            "email_verified": True,
            "jti": secrets.token_hex(8),  # two tokens minted in the same second still differ
        }
        return jwt.encode(claims, self._signing_key, algorithm="RS256", headers={"kid": "test"})

    @property
    def public_key_pem(self) -> bytes:
        return self._signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def _answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        with self._lock:
            self.grants[grant] += 1
            self.forms.append(dict(form))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}
        if path == REFRESH_PATH and grant != "refresh_token":
            return 400, {"error": "unsupported_grant_type", "error_description": "refresh endpoint"}
        if grant in (PASSWORD_GRANT, AUTH0_PASSWORD_REALM_GRANT):
            return self._password_grant(grant, form)
        if grant == "refresh_token":
            return self._refresh_grant(form)
        return 400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"}

    def _password_grant(self, grant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if self.password_delay:
            time.sleep(self.password_delay)
        if self.fixed_password_answer is not None:
            return self.fixed_password_answer
        if grant == AUTH0_PASSWORD_REALM_GRANT and form.get("realm") != self.realm:
            return 400, {"error": "invalid_request", "error_description": "missing or unknown realm"}
        login = form.get("username", "")
        if self.users.get(login) is None or self.users[login] != form.get("password"):
            return 403, {"error": "invalid_grant", "error_description": "Wrong email or password."}
        return 200, self._tokens(login, form.get("scope", ""), new_refresh_token=True)

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        login = self._refresh_tokens.get(form.get("refresh_token", ""))
        if self.refuse_refresh or login is None:
            return 403, {"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."}
        return 200, self._tokens(login, form.get("scope", ""), new_refresh_token=self.rotate_refresh_tokens)

    def _tokens(self, login: str, scope: str, new_refresh_token: bool) -> dict[str, Any]:
        scopes = scope.split()
        answer: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.id_token_lifetime,
            "scope": scope,
        }
        if "openid" in scopes:  # like Auth0: no openid, no id_token
            answer["id_token"] = self.mint_id_token(login)
        if new_refresh_token and "offline_access" in scopes:
            refresh_token = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh_tokens[refresh_token] = login
            answer["refresh_token"] = refresh_token
        return answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, idp: TokenServer) -> None:
        self.idp = idp
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        # The TLS handshake runs in the request's thread, so a client that fails it (a test of
        # certificate errors) cannot stall the accept loop.
        try:
            request = self.idp._tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-request is part of some tests


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if path not in (TOKEN_PATH, REFRESH_PATH):
            return self._send(404, {"error": "not_found"})
        if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self._send(400, {"error": "invalid_request", "error_description": "form body expected"})
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        self._send(*self.server.idp._answer(path, form))

    def _send(self, status: int, document: dict[str, Any]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass

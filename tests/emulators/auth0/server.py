"""`Auth0Emulator`: an Auth0 tenant served over HTTPS on 127.0.0.1 for the real SDKs.

The emulator answers the Management API v2 (`/api/v2/...`, Bearer tokens with scopes, a rate
limit) and the Authentication API (`/oauth/token`, discovery, JWKS, `/userinfo`). Its domain is
`127.0.0.1:<port>`, so `ManagementClient(domain=emulator.domain, ...)` speaks to it unchanged;
the TLS certificate comes from a test CA (`ca_pem`) that clients must trust.

Tests observe it through `requests` (every answered request), `writes` (how many times each
write route acted) and `snapshot()` (the tenant's data, comparable with `==`), and break it on
purpose with `inject()`.
"""

from __future__ import annotations

import collections
import copy
import email.parser
import email.policy
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterable

from provisioner.providers.local.pki import create_ca, issue_server_cert

from . import imports, management
from .authentication import AuthenticationApi, ClaimsHook
from .errors import ManagementError, OAuthError
from .faults import Fault, FaultPlan
from .interactive import Page
from .ratelimit import TokenBucket
from .tenant import UPA, StoredUser, Tenant, random_id
from .tokens import SigningKey

#: The Management API scopes DESIGN.md asks of the lab's machine-to-machine application.
DEFAULT_SCOPES = frozenset({
    "read:clients", "create:clients", "update:clients", "delete:clients", "read:client_keys",
    "read:connections", "create:connections", "update:connections", "delete:connections",
    "read:tenant_settings", "update:tenant_settings",
    "read:users", "create:users", "update:users", "delete:users",
})
M2M_NAME = "oidc-lab automation (M2M)"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # decoded, without the query string
    query: str
    status: int  # 0 when the connection was dropped without an answer
    timestamp: float
    fault: str | None = None


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close(), after stop() has closed their sockets.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, emulator: "Auth0Emulator", address: tuple[str, int], context: ssl.SSLContext) -> None:
        self.emulator = emulator
        self.context = context
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self):  # type: ignore[override]
        raw, address = self.socket.accept()
        # Headers and body go out in two writes; without this, Nagle and delayed ACKs add 40 ms a request.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake happens in the handler thread, so a slow client never blocks accept().
        wrapped = self.context.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        with self.sockets_lock:
            self.open_sockets.add(wrapped)
        return wrapped, address

    def shutdown_request(self, request) -> None:  # type: ignore[override]
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:  # noqa: D401 - quiet on client hang-ups
        pass

    def close_open_sockets(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Dropped(Exception):
    """The fault says: close the connection without answering."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean, and secrets out of logs
        pass

    def setup(self) -> None:
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        raw_path, _, query = self.path.partition("?")
        try:
            status, headers, payload = self.server.emulator._handle(
                method, raw_path, query, {k.lower(): v for k, v in self.headers.items()}, body)
        except _Dropped:
            self.close_connection = True
            return
        page = payload if isinstance(payload, Page) else None
        if page is not None:
            data = page.body.encode()
            if page.location:
                headers = {**headers, "Location": page.location}
            headers = {**headers, "Cache-Control": "no-store"}
        else:
            data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if page is not None:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            elif payload is not None:
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


class Auth0Emulator:
    """One Auth0 tenant on 127.0.0.1 over HTTPS. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        m2m_client_id: str | None = None,
        m2m_client_secret: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        rate: float | None = None,
        burst: int = 2,
        job_delay: float = 0.2,
        search_lag: float = 0.0,
        management_token_ttl: int = 86400,
        extra_claims: ClaimsHook | None = None,
        require_enabled_connection_for_users: bool = False,
        own_signing_key: bool = False,
        realistic_tenant: bool = True,
        authentication_limits: bool = False,
    ) -> None:
        self.m2m_client_id = m2m_client_id or random_id(32)
        self.m2m_client_secret = m2m_client_secret or random_id(64)
        self._scopes = set(scopes)
        self._options = dict(job_delay=job_delay, search_lag=search_lag,
                             require_enabled_connection_for_users=require_enabled_connection_for_users)
        self.tenant = Tenant("127.0.0.1:0", **self._options)  # type: ignore[arg-type]
        self.key = SigningKey(own_key=own_signing_key)
        self._management_scopes: dict[str, set[str]] = {}
        self.auth = AuthenticationApi(self.tenant, self.key, management_scopes=self._management_scopes,
                                      management_token_ttl=management_token_ttl, extra_claims=extra_claims)
        self.rate_limit = TokenBucket(rate, burst)
        # The Authentication API's limits on a free tenant ("Rate limit configurations: Free",
        # auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy/
        # rate-limit-configurations/free-public): the whole API 300 burst, 300 a minute; POST
        # /oauth/token 30 burst, 30 a second. A token request spends from both. Off by default.
        self.authentication_limits = (
            (TokenBucket(300 / 60, 300), TokenBucket(30, 30)) if authentication_limits else None)
        self.faults = FaultPlan()
        self.requests: list[RecordedRequest] = []
        self.writes: collections.Counter[str] = collections.Counter()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._first_valid_token = 0  # Management API tokens with a lower `jti` count as expired
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._realistic_tenant = realistic_tenant
        self.ca_file: str | None = None  # set by the fixture: a PEM bundle holding only `ca_pem`
        ca = create_ca("oidc-lab Auth0 emulator test CA")
        self.ca_pem = ca.cert_pem
        self._server_cert = issue_server_cert(ca, ["127.0.0.1", "localhost"])

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> "Auth0Emulator":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as folder:
            cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert.write_bytes(self._server_cert.cert_pem)
            key.write_bytes(self._server_cert.key_pem)
            key.chmod(0o600)
            context.load_cert_chain(cert, key)
        self._server = _Server(self, ("127.0.0.1", 0), context)
        self.tenant.domain = f"127.0.0.1:{self._server.server_address[1]}"
        if self._realistic_tenant:
            self._seed_starting_tenant()
        self._management_scopes[self.m2m_client_id] = self._scopes
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="auth0-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_open_sockets()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "Auth0Emulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what clients need ---------------------------------------------------------------------------
    @property
    def domain(self) -> str:
        """`127.0.0.1:<port>`: what the SDKs take as the tenant domain."""
        return self.tenant.domain

    @property
    def base_url(self) -> str:
        return f"https://{self.domain}"

    @property
    def issuer(self) -> str:
        """The `iss` of id_tokens: `https://<domain>/`, with the trailing slash, as Auth0 has it."""
        return self.auth.issuer

    def write_ca_bundle(self, path: Path) -> Path:
        """Write the test CA as a PEM bundle and remember it as `ca_file`."""
        path.write_bytes(self.ca_pem)
        self.ca_file = str(path)
        return path

    def management_client(self, **options: Any):
        """The real SDK's `ManagementClient`, logged in as the M2M application."""
        from auth0.management import ManagementClient

        return ManagementClient(domain=self.domain, client_id=self.m2m_client_id,
                                client_secret=self.m2m_client_secret, **options)

    # configuration at run time ---------------------------------------------------------------------
    def set_scopes(self, scopes: Iterable[str]) -> None:
        """Change what the M2M application is granted (tokens issued later carry the new scopes)."""
        with self._lock:
            self._scopes.clear()
            self._scopes.update(scopes)

    def grant_management_api(self, client_id: str, scopes: Iterable[str]) -> None:
        """A client grant on the Management API for another client (client_credentials)."""
        with self._lock:
            self._management_scopes[client_id] = set(scopes)

    def set_rate_limit(self, rate: float | None, burst: int = 2) -> None:
        self.rate_limit.configure(rate, burst)

    def expire_management_tokens(self) -> None:
        """Every Management API token issued so far is refused from now on, as when it expired."""
        with self._lock:
            self._first_valid_token = self.auth.management_tokens_issued + 1

    def inject(self, method: str, path_regex: str, fault: Fault | str | int, times: int = 1) -> None:
        self.faults.add(method, path_regex, fault, times)

    def clear_faults(self) -> None:
        self.faults.clear()

    def run_jobs(self) -> None:
        """Finish every pending import job now instead of after `job_delay`."""
        with self._lock:
            imports.run_due_jobs(self.tenant, force=True)

    # observation ------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.tenant.snapshot()

    def count(self, method: str, path_regex: str) -> int:
        """How many recorded requests match (answered or dropped)."""
        pattern = re.compile(path_regex)
        return sum(1 for r in self.requests if r.method == method.upper() and pattern.search(r.path))

    def reset_observations(self) -> None:
        with self._lock:
            self.requests.clear()
            self.writes.clear()

    # seeding --------------------------------------------------------------------------------------
    def seed_client(self, name: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self.tenant.create_client({"name": name, **fields}))

    def seed_connection(self, name: str, strategy: str = "auth0", enabled_clients: Iterable[str] = (),
                        **fields: Any) -> dict[str, Any]:
        with self._lock:
            record = self.tenant.create_connection({"name": name, "strategy": strategy, **fields})
            record["enabled_clients"].extend(c for c in enabled_clients if c not in record["enabled_clients"])
            return copy.deepcopy(record)

    def enable_client(self, connection_name: str, client_id: str) -> None:
        with self._lock:
            connection = self.tenant.connection_by_name(connection_name)
            assert connection is not None, f"no connection {connection_name!r}"
            if client_id not in connection["enabled_clients"]:
                connection["enabled_clients"].append(client_id)

    def seed_user(self, email: str, password: str, connection: str = UPA, **fields: Any) -> dict[str, Any]:
        """A user that is searchable at once (no index lag), bypassing the password policy."""
        with self._lock:
            record = self.tenant.connection_by_name(connection)
            assert record is not None, f"no connection {connection!r}"
            saved_lag, self.tenant.search_lag = self.tenant.search_lag, 0.0
            saved_policy = record["options"].get("passwordPolicy")
            record["options"]["passwordPolicy"] = "none"
            try:
                profile = self.tenant.create_user({"connection": connection, "email": email, "password": password,
                                                   **fields})
            finally:
                self.tenant.search_lag = saved_lag
                if saved_policy is None:
                    record["options"].pop("passwordPolicy", None)
                else:
                    record["options"]["passwordPolicy"] = saved_policy
            return copy.deepcopy(profile)

    def set_default_directory(self, connection_name: str | None) -> None:
        with self._lock:
            if connection_name is None:
                self.tenant.settings.pop("default_directory", None)
            else:
                self.tenant.settings["default_directory"] = connection_name

    def client_by_name(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(c) for c in self.tenant.clients.values() if c["name"] == name]

    def user_by_email(self, email: str) -> StoredUser | None:
        with self._lock:
            return next((u for u in self.tenant.users.values() if u.profile.get("email") == email.lower()), None)

    def _seed_starting_tenant(self) -> None:
        """What a new free tenant looks like, plus the M2M application the lab is run with."""
        tenant = self.tenant
        tenant.create_resource_server({"name": "Auth0 Management API", "identifier": f"https://{self.domain}/api/v2/"},
                                      system=True)
        tenant.create_client({
            "name": M2M_NAME, "app_type": "non_interactive", "grant_types": ["client_credentials"],
            "token_endpoint_auth_method": "client_secret_post", "oidc_conformant": True,
            "jwt_configuration": {"alg": "RS256"},
        }, client_id=self.m2m_client_id, client_secret=self.m2m_client_secret)
        default_app = tenant.create_client({
            "name": "Default App", "callbacks": [], "oidc_conformant": True,
            "jwt_configuration": {"alg": "RS256"},
        })
        tenant.create_connection({"name": UPA, "strategy": "auth0", "enabled_clients": [default_app["client_id"]]})
        tenant.settings.update({
            "allowed_logout_urls": [],
            "enabled_locales": ["en"],
            "flags": {"allow_legacy_delegation_grant_types": False, "allow_legacy_ro_grant_types": False,
                      "enable_sso": True, "universal_login": True, "revoke_refresh_token_grant": False,
                      "disable_clickjack_protection_headers": False},
            "friendly_name": "",
            "picture_url": "",
            "sandbox_version": "18",
            "support_email": "",
            "support_url": "",
            "session_cookie": {"mode": "persistent"},
        })

    # request handling ---------------------------------------------------------------------------------
    def _handle(self, method: str, raw_path: str, query: str, headers: dict[str, str],
                body: bytes) -> tuple[int, dict[str, str], Any]:
        path = urllib.parse.unquote(raw_path)
        fault = self.faults.take(method, path)
        management_api = raw_path.startswith("/api/v2/")
        status, out_headers, payload = 0, {}, None
        try:
            if fault is not None and fault.kind in ("429", "500", "error"):
                status, out_headers, payload = self._fault_answer(fault)
            elif fault is not None and fault.kind == "timeout" and not fault.act:
                self._stopping.wait(fault.hold)
                raise _Dropped()
            else:
                with self._lock:
                    imports.run_due_jobs(self.tenant)
                    if management_api:
                        status, out_headers, payload = self._management(method, raw_path, query, headers, body)
                    else:
                        status, out_headers, payload = self._authentication(method, raw_path, headers, body, query)
                if fault is not None and fault.kind == "drop_after_act":
                    raise _Dropped()
                if fault is not None and fault.kind == "timeout":
                    self._stopping.wait(fault.hold)
            return status, out_headers, payload
        except _Dropped:
            status = 0
            raise
        finally:
            with self._lock:
                self.requests.append(RecordedRequest(method, path, query, status, time.time(),
                                                     fault.kind if fault else None))

    def _fault_answer(self, fault: Fault) -> tuple[int, dict[str, str], Any]:
        if fault.kind == "429":
            headers = {"X-RateLimit-Limit": str(self.rate_limit.burst), "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": str(int(time.time()) + fault.reset_in)}
            return 429, headers, _too_many_requests()
        if fault.kind == "500":
            return 500, {}, {"statusCode": 500, "error": "Internal Server Error", "message": "Internal Server Error"}
        return fault.status, {}, fault.body

    def _management(self, method: str, raw_path: str, query: str, headers: dict[str, str],
                    body: bytes) -> tuple[int, dict[str, str], Any]:
        allowed, limit_headers = self.rate_limit.take()
        if not allowed:
            return 429, limit_headers, _too_many_requests()
        try:
            claims = self._bearer(headers)
            found = management.resolve(method, raw_path)
            if found is None:
                raise ManagementError(404, "Not Found")
            route, params = found
            scopes = set(claims.get("scope", "").split())
            if not scopes.intersection(route.scopes):
                raise ManagementError(403, f"Insufficient scope, expected any of: {','.join(route.scopes)}",
                                      "insufficient_scope")
            call = management.Call(self.tenant, params, urllib.parse.parse_qs(query, keep_blank_values=True),
                                   None, scopes, claims.get("azp", ""))
            content_type = headers.get("content-type", "")
            if content_type.startswith("multipart/form-data"):
                call.form, call.files = _multipart(content_type, body)
            elif body:
                try:
                    call.body = json.loads(body)
                except ValueError:
                    raise ManagementError(400, "Invalid request payload JSON format", "invalid_body") from None
            elif method in ("POST", "PATCH", "PUT"):
                call.body = {}
            status, payload = route.handler(call)
            if route.writes:
                self.writes[f"{method} {route.template}"] += 1
            return status, limit_headers, payload
        except ManagementError as error:
            return error.status, limit_headers, error.body()

    def _bearer(self, headers: dict[str, str]) -> dict[str, Any]:
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("bearer "):
            raise ManagementError(401, "Missing authentication", None)
        claims = self.key.verify(authorization[7:].strip())
        if claims is None or claims.get("aud") != self.auth.management_audience:
            raise ManagementError(401, "Invalid token", "invalid_token", attributes={"error": "Invalid token"})
        if claims.get("exp", 0) <= time.time() or int(claims.get("jti", 0)) < self._first_valid_token:
            message = "Expired token received for JSON Web Token validation"
            raise ManagementError(401, message, "invalid_token", attributes={"error": message})
        return claims

    def _authentication(self, method: str, raw_path: str, headers: dict[str, str],
                        body: bytes, query: str = "") -> tuple[int, dict[str, str], Any]:
        try:
            if method == "GET" and raw_path == "/.well-known/openid-configuration":
                return 200, {}, self.auth.openid_configuration()
            if method == "GET" and raw_path == "/.well-known/jwks.json":
                return 200, {}, self.key.jwks()
            if method == "GET" and raw_path == "/userinfo":
                return 200, {}, self.auth.userinfo(headers.get("authorization"))
            if raw_path in ("/authorize", "/activate") and method in ("GET", "POST"):
                query = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
                form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()} if method == "POST" else None
                page = (self.auth.interactive.authorize if raw_path == "/authorize" else self.auth.interactive.activate)(query, form)
                return page.status, {}, page
            if method == "POST" and raw_path == "/oauth/device/code":
                params = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                return 200, {"Cache-Control": "no-store"}, self.auth.interactive.device_code(params)
            if method == "POST" and raw_path == "/oauth/token":
                limited = self._authentication_limited()
                if limited is not None:
                    return limited
                content_type = headers.get("content-type", "")
                if content_type.startswith("application/json"):
                    try:
                        params = json.loads(body or b"{}")
                    except ValueError:
                        raise OAuthError(400, "invalid_request", "Invalid JSON body") from None
                    if not isinstance(params, dict):
                        raise OAuthError(400, "invalid_request", "Invalid JSON body")
                else:
                    params = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                answer = self.auth.token(params, headers.get("authorization"))
                return 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}, answer
            return 404, {}, {"error": "not_found", "error_description": "Not Found"}
        except OAuthError as error:
            return error.status, {}, error.body()


    def _authentication_limited(self) -> tuple[int, dict[str, str], Any] | None:
        """The 429 of a token request over the free tenant's limits (see `authentication_limits`),
        with the body the Authentication API's OpenAPI document gives for it; None when allowed."""
        if self.authentication_limits is None:
            return None
        with self._lock:
            for bucket in self.authentication_limits:
                allowed, headers = bucket.take()
                if not allowed:
                    return 429, headers, {"error": "too_many_requests",
                                          "error_description": "Rate limit exceeded. Please retry after some time."}
        return None


def _too_many_requests() -> dict[str, Any]:
    return {"statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached",
            "errorCode": "too_many_requests"}


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, bytes]]:
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    form: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            files[name] = data
        else:
            form[name] = data.decode()
    return form, files

"""An HTTPS Casdoor on 127.0.0.1 that the real `casdoor` SDK and the provider can talk to.

It answers the endpoints the lab uses the way Casdoor's controllers do:
- callers (routers/auto_signin_filter.go, getUsernameByClientIdSecret): HTTP Basic is read first,
  then the `clientId`/`clientSecret` query parameters only when no Basic header was sent, so a
  wrong Basic pair makes the caller anonymous even when the query parameters are right;
- authorization (authz/authz.go, policy `p, app, *, *, *, *, *`): ANY application's client id
  and secret may make every admin call; anonymous callers may only read what the anonymous
  policies list (get-application, get-organization-applications, get-user), with secrets masked
  (object/application.go, GetMaskedApplication);
- a refused call (routers/authz_filter.go, denyRequest) is answered with HTTP 200 and
  `{"status": "error", "msg": "Unauthorized operation"}`;
- JSON bodies are read whatever the Content-Type; the token endpoint (controllers/token.go,
  GetOAuthToken) reads the query and a form body, then HTTP Basic, then a JSON body; the refresh
  grant may also be sent as `grant_type=refresh_token` to /api/login/oauth/access_token;
- discovery and JWKS under `/.well-known/`. `origin` is the issuer Casdoor is configured with (its `origin` setting);
`token_issuer` can differ from it to stage the mismatch a misconfigured server produces.

Faults are injected per path: an error envelope, a bare HTTP 500, a request held until the
client gives up, or a connection dropped after the write was made.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from provisioner.providers.local.pki import KeyPair, create_ca, generate_rsa_signing_key, issue_server_cert

from .directory import CERT_NAME, Directory, TokenError, error
from .signin import DEVICE_CODE_GRANT, Page, SignIn

FAULTS = ("error", "500", "timeout", "drop")
_WRITE = re.compile(r"^/api/(add|update|delete)-")


@dataclass
class Recorded:
    """One request as Casdoor saw it (secrets left out)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    auth: str | None  # "basic", "query" or None
    status: int | None = None

    @property
    def is_write(self) -> bool:
        return self.method == "POST" and bool(_WRITE.match(self.path))


class RequestLog(list):
    """Every request in order; `writes` counts the add/update/delete calls."""

    @property
    def writes(self) -> int:
        return sum(1 for r in self if r.is_write)

    def paths(self) -> list[str]:
        return [r.path for r in self]

    def to(self, pattern: str) -> list[Recorded]:
        return [r for r in self if re.search(pattern, r.path)]


@dataclass
class _Fault:
    pattern: re.Pattern[str]
    kind: str
    times: int
    message: str


@dataclass
class CasdoorEmulator:
    """A Casdoor server for tests. `start()` it, point clients at `endpoint`, `stop()` it."""

    ca: KeyPair = field(default_factory=lambda: create_ca("oidc-lab test CA (casdoor)"))
    origin: str | None = None  # None: https://127.0.0.1:<port>, as Casdoor with `origin` set to its URL
    token_issuer: str | None = None  # None: the origin (a healthy Casdoor)
    hold_seconds: float = 10.0  # how long a "timeout" fault keeps the client waiting at most

    def __post_init__(self) -> None:
        self.directory = Directory(signing_key_pem=generate_rsa_signing_key())
        admin = self.directory.seed()
        self.admin_client_id: str = admin["clientId"]
        self.admin_client_secret: str = admin["clientSecret"]
        self.requests = RequestLog()
        self.signin = SignIn(self.directory)  # the web UI's sign-in pages and the device flow
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="casdoor-emulator-")
        self.ca_file = Path(self._tmp.name) / "ca.crt"
        self.ca_file.write_bytes(self.ca.cert_pem)
        self.certificate_pem = _self_signed(self.directory.signing_key)

    # lifecycle ------------------------------------------------------------------------------------
    def start(self) -> "CasdoorEmulator":
        leaf = issue_server_cert(self.ca, ["127.0.0.1", "localhost"])
        cert_file, key_file = Path(self._tmp.name) / "tls.crt", Path(self._tmp.name) / "tls.key"
        cert_file.write_bytes(leaf.cert_pem)
        key_file.write_bytes(leaf.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="casdoor-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._tmp.cleanup()

    def __enter__(self) -> "CasdoorEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what tests look at ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start() the emulator first"
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.origin or self.endpoint

    def snapshot(self) -> dict[str, Any]:
        """Organizations, applications and users as they are now; compare two with ==."""
        with self._lock:
            return self.directory.snapshot()

    def inject(self, path_regex: str, fault: str, times: int = 1, message: str = "injected failure") -> None:
        """Make the next `times` requests whose path matches fail with `fault` (see FAULTS)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
        with self._lock:
            self._faults.append(_Fault(re.compile(path_regex), fault, times, message))

    def user(self, organization: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.directory.users.get((organization, name))

    def application(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.directory.applications.get(name)

    def organization(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self.directory.organizations.get(name)

    # request handling -----------------------------------------------------------------------------
    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes,
                  headers: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        with self._lock:
            if path == "/.well-known/openid-configuration" and method == "GET":
                return 200, self._discovery()
            if path == "/.well-known/jwks" and method == "GET":
                return 200, self._jwks()
            if path in ("/api/login/oauth/access_token", "/api/login/oauth/refresh_token") and method == "POST":
                return self._token(path, query, body, headers, basic)
            form = dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True)) if method == "POST" else None
            if path == "/login/oauth/authorize":
                return 0, self.signin.authorize_page(query, form)
            if path.startswith("/login/oauth/device/"):
                return 0, self.signin.device_page(path.rsplit("/", 1)[1], form)
            if path == "/api/device-auth" and method == "POST":
                # beego's Input.Query reads the query string and the form body alike
                return 200, self.signin.device_auth(self.issuer, {**query, **(form or {})})
            if not path.startswith("/api/"):
                return 404, {"status": "error", "msg": "not found"}
            client_id, client_secret = basic or (query.get("clientId"), query.get("clientSecret"))
            caller = self.directory.api_application(client_id, client_secret)
            action = path[len("/api/"):]
            if caller is None:
                if method == "GET" and action in _ANONYMOUS_READS:
                    return 200, _masked(self._api(method, action, query, body))
                return 200, error("Unauthorized operation")
            return 200, self._api(method, action, query, body)

    def _api(self, method: str, action: str, query: dict[str, str], raw: bytes) -> Any:
        d = self.directory
        if method == "GET":
            getters = {
                "get-organization": lambda: d.get_organization(query.get("id", "")),
                "get-organizations": lambda: d.get_organizations(query.get("owner", "")),
                "get-application": lambda: d.get_application(query.get("id", "")),
                "get-applications": lambda: d.get_applications(query.get("owner", "")),
                "get-organization-applications": lambda: d.get_applications("admin", query.get("organization", "")),
                "get-user": lambda: d.get_user(query.get("id", "")),
                "get-group": lambda: d.get_group(query.get("id", "")),
                "get-groups": lambda: d.get_groups(query.get("owner", "")),
                "get-users": lambda: d.get_users(query.get("owner", "")),
            }
            if action in getters:
                return getters[action]()
            return error(f"unknown API: {action}")
        try:
            body = json.loads(raw or b"null")
        except ValueError as exc:
            return error(str(exc))
        if not isinstance(body, dict):
            return error("json: cannot unmarshal into Go value of type object")
        writers = {
            "add-organization": lambda: d.add_organization(body),
            "update-organization": lambda: d.update_organization(query.get("id", ""), body),
            "delete-organization": lambda: d.delete_organization(body),
            "add-application": lambda: d.add_application(body),
            "update-application": lambda: d.update_application(query.get("id", ""), body),
            "delete-application": lambda: d.delete_application(body),
            "add-user": lambda: d.add_user(body),
            "update-user": lambda: d.update_user(query.get("id", ""), body, query.get("columns", "")),
            "delete-user": lambda: d.delete_user(body),
            "add-group": lambda: d.add_group(body),
            "delete-group": lambda: d.delete_group(body),
        }
        if action in writers:
            return writers[action]()
        return error(f"unknown API: {action}")

    def _token(self, path: str, query: dict[str, str], raw: bytes, headers: dict[str, str],
               basic: tuple[str, str] | None) -> tuple[int, Any]:
        params = dict(query)
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
        if not params.get("client_id") and basic and path.endswith("access_token"):
            params["client_id"], params["client_secret"] = basic
        if not params.get("client_id"):
            try:
                document = json.loads(raw or b"null")
            except ValueError:
                document = None
            if isinstance(document, dict):
                params = {k: str(v) for k, v in document.items() if v is not None}
        try:
            grant = params.get("grant_type", "")
            if path.endswith("refresh_token") or grant == "refresh_token":
                return 200, self.directory.refresh(self._token_issuer(), params)
            if grant == "password":
                return 200, self.directory.password_token(self._token_issuer(), params)
            if grant == "client_credentials":
                return 200, self.directory.client_credentials(self._token_issuer(), params)
            if grant == "authorization_code":  # IsGrantTypeValid: allowed whatever grantTypes lists
                return 200, self.signin.redeem_code(self._token_issuer(), params)
            if grant == DEVICE_CODE_GRANT:
                self.directory._token_application(params.get("client_id", ""), DEVICE_CODE_GRANT)
                return 200, self.signin.redeem_device_code(self._token_issuer(), params)
            app = self.directory._by_client_id(params.get("client_id", ""))
            if app is None:
                raise TokenError("invalid_client", "client_id is invalid", 401)
            raise TokenError("unsupported_grant_type", f"grant_type: {grant} is not supported in this application")
        except TokenError as exc:
            return exc.status, exc.body()

    def _token_issuer(self) -> str:
        return self.token_issuer or self.issuer

    def _discovery(self) -> dict[str, Any]:
        origin = self.issuer
        return {
            "issuer": origin,
            "authorization_endpoint": f"{origin}/login/oauth/authorize",
            "token_endpoint": f"{origin}/api/login/oauth/access_token",
            "userinfo_endpoint": f"{origin}/api/userinfo",
            "jwks_uri": f"{origin}/.well-known/jwks",
            "introspection_endpoint": f"{origin}/api/login/oauth/introspect",
            "device_authorization_endpoint": f"{origin}/api/device-auth",
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token", "none"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "grant_types_supported": ["password", "authorization_code", "refresh_token", DEVICE_CODE_GRANT],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile", "address", "phone", "offline_access"],
            "claims_supported": ["iss", "ver", "sub", "aud", "iat", "exp", "id", "type", "displayName",
                                 "avatar", "permanentAvatar", "email", "phone", "location", "affiliation",
                                 "title", "homepage", "bio", "tag", "region", "language", "score", "ranking",
                                 "isOnline", "isAdmin", "isForbidden", "signupApplication", "ldap", "groups"],
            "request_parameter_supported": True,
            "request_object_signing_alg_values_supported": ["HS256", "HS384", "HS512"],
            "end_session_endpoint": f"{origin}/api/logout",
        }

    def _jwks(self) -> dict[str, Any]:
        numbers = self.directory.signing_key.public_key().public_numbers()
        cert = x509.load_pem_x509_certificate(self.certificate_pem)
        return {"keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": CERT_NAME,
            "n": _b64(numbers.n), "e": _b64(numbers.e),
            "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()],
        }]}


def _handler_for(emulator: CasdoorEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "casdoor-emulator"
        wbufsize = 1 << 16  # headers and body leave in one segment: no Nagle/delayed-ACK stall per reply
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            basic = _basic_auth(headers.get("authorization", ""))
            record = Recorded(method, url.path, _without_secrets(query), _loggable(raw, headers),
                              "basic" if basic else ("query" if "clientSecret" in query else None))
            emulator.requests.append(record)
            fault = emulator._take_fault(url.path)
            if fault is not None and fault.kind == "timeout":
                emulator._release.wait(emulator.hold_seconds)
                self._hang_up()
                return
            if fault is not None and fault.kind == "500":
                record.status = 500
                self._send(500, b"<html><body>Internal Server Error</body></html>", "text/html")
                return
            if fault is not None and fault.kind == "error":
                record.status = 200
                if url.path.startswith("/api/login/oauth/"):
                    self._json(400, {"error": "invalid_request", "error_description": fault.message})
                else:
                    self._json(200, error(fault.message))
                return
            status, reply = emulator._dispatch(method, url.path, query, raw, headers, basic)
            if isinstance(reply, Page):
                status = reply.status
            record.status = status
            if fault is not None and fault.kind == "drop":
                self._hang_up()
                return
            if isinstance(reply, Page):
                self._page(reply)
                return
            self._json(status, reply)

        def _page(self, page: Page) -> None:
            self.send_response(page.status)
            if page.location:
                self.send_header("Location", page.location)
            payload = page.body.encode()
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, document: Any) -> None:
            self._send(status, json.dumps(document).encode(), "application/json; charset=utf-8")

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _hang_up(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    return Handler


#: authz/authz.go: the admin reads its anonymous policies allow.
_ANONYMOUS_READS = ("get-application", "get-organization-applications", "get-user")


def _masked(reply: dict[str, Any]) -> dict[str, Any]:
    """GetMaskedApplication: a caller that is not an admin sees `***` for an application's secret."""
    data = reply.get("data")
    for app in data if isinstance(data, list) else [data]:
        if isinstance(app, dict) and app.get("clientSecret"):
            app["clientSecret"] = "***"
    return reply


def _basic_auth(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _without_secrets(query: dict[str, str]) -> dict[str, str]:
    return {k: ("***" if k in ("clientSecret", "client_secret", "password") else v) for k, v in query.items()}


def _loggable(raw: bytes, headers: dict[str, str]) -> Any:
    if not raw:
        return None
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _without_secrets(dict(parse_qsl(raw.decode(errors="replace"))))
    try:
        document = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
    if isinstance(document, dict):
        return {k: ("***" if k in ("clientSecret", "client_secret", "password") and v else v) for k, v in document.items()}
    return document


def _b64(number: int) -> str:
    data = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _self_signed(key: Any) -> bytes:
    """The X.509 certificate of the token signing key, as Casdoor's `cert-built-in` holds it."""
    import datetime as dt

    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Casdoor Cert")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)

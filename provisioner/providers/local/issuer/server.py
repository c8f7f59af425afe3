"""The issuer's HTTP side: routes, form bodies, TLS, logging, and the process's serve loop.

The OAuth work is in `grants`, what the issuer publishes in `discovery`, the sign-in pages in
`web`; this module only turns HTTPS requests into calls on them. Nothing secret is ever logged: request lines are logged
without their query string, and token requests only name the grant and the login.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .discovery import DISCOVERY_PATH, JWKS_PATHS, discovery_document
from .files import IssuerFiles
from . import web
from .grants import Authority, FormRequest
from .interactive import AUTHORIZATION_PATH, DEVICE_AUTHORIZATION_PATH, DEVICE_PATH
from .process import stop_request
from .selfservice import ME_PATH, SelfService

log = logging.getLogger("oidc-lab.issuer")

MAX_BODY = 64 * 1024



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
        if path == DISCOVERY_PATH:
            self._json(200, discovery_document(issuer))
        elif path in JWKS_PATHS:
            self._json(200, authority.signer.jwks())
        elif path == "/healthz":
            listen, port = self.server.server_address[:2]
            self._json(200, {"status": "ok", "issuer": issuer, "pid": os.getpid(), "listen": listen, "port": port})
        elif path == "/token":
            self._json(405, {"error": "invalid_request", "error_description": "Use POST."}, [("Allow", "POST")])
        elif path == AUTHORIZATION_PATH:
            query, problem = self._query()
            self._reply(web.authorize_page(authority, self._uri(), self.headers, query) if not problem
                        else web.Reply(400, problem.encode(), content_type="text/plain; charset=utf-8"))
        elif path == DEVICE_PATH:
            query, _ = self._query()
            self._reply(web.device_page(authority, query))
        elif path == ME_PATH:
            query, _ = self._query()
            self._reply(self.server.self_service.page(self.headers, query))
        elif path == f"{ME_PATH}/kubeconfig":
            self._reply(self.server.self_service.download(self.headers))
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        self.audit = ""
        path = urlsplit(self.path).path
        if path == f"{ME_PATH}/signout":
            self._reply(self.server.self_service.sign_out(self.headers))
            return
        if path not in ("/token", AUTHORIZATION_PATH, DEVICE_PATH, DEVICE_AUTHORIZATION_PATH):
            self._json(404, {"error": "not_found"})
            return
        form, problem = self._read_form()
        if problem:
            self._json(400, {"error": "invalid_request", "error_description": problem})
            return
        authority = self.server.authority
        address = self.client_address[0]
        if path == AUTHORIZATION_PATH:
            self.audit = f"sign-in login={_printable(form.get('username', '-'))}"
            self._reply(web.authorize_submit(authority, self._uri(), self.headers, form, address))
            return
        if path == DEVICE_PATH:
            self.audit = f"device sign-in login={_printable(form.get('username', '-'))}"
            self._reply(web.device_submit(authority, form, address))
            return
        if path == DEVICE_AUTHORIZATION_PATH:
            self._reply(web.device_authorization(authority, self._uri(), self.headers, form))
            return
        self.audit = f"grant={_printable(form.get('grant_type', '-'))}"
        if "username" in form:
            self.audit += f" login={_printable(form['username'])}"
        request = FormRequest(f"{authority.directory.settings.issuer}/token", self.headers, form,
                              client_address=self.client_address[0])
        status, body, headers = authority.create_token_response(request)
        self._json(status, body, [(k, v) for k, v in headers if k.lower() != "content-type"])

    def _uri(self) -> str:
        return f"{self.server.authority.directory.settings.issuer}{urlsplit(self.path).path}"

    def _query(self) -> tuple[dict[str, str], str | None]:
        try:
            pairs = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        except ValueError:
            return {}, "The query string could not be parsed."
        query: dict[str, str] = {}
        for key, value in pairs:
            if key in query:
                return {}, f"The parameter '{key}' is repeated."
            query[key] = value
        return query, None

    def _reply(self, reply: "web.Reply") -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers:
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)

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
            return {}, "This endpoint takes application/x-www-form-urlencoded bodies only."
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
        self.self_service = SelfService(authority)
        super().__init__(address, Handler)

    def service_actions(self) -> None:
        """Between requests: leave when the lab's folder is gone, so a deleted lab leaves no orphan issuer,
        and when asked to through the stop-request file (Windows has no SIGTERM for a process without a console)."""
        if not self.authority.directory.files.settings.exists():
            log.info("%s is gone; stopping", self.authority.directory.files.settings)
            raise SystemExit(0)
        if stop_request(self.authority.directory.files.folder).exists():
            log.info("asked to stop")
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
    """Serve until SIGTERM, SIGINT or a stop request. Output goes to stderr, which `process` points at the log file."""
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

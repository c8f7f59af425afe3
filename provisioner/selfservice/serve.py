"""`lab serve`: the self-service page on its own HTTPS server, for a lab on any provider.

Where attendees open it is lab.yaml's `serve.host` and `serve.port` (`lab up` registers
`https://<host>:<port>/me` with the IdP as a callback). Its certificate:
- `--cert`/`--key` when the instructor has one (say, from the room's own CA);
- for a lab on the built-in issuer, one issued by the lab's own CA (attendees trust that CA already
  for the issuer);
- otherwise one issued by a CA the lab makes for the page (`serve/ca.crt` in the lab's folder,
  kept across runs so attendees trust it once; its key stays 0600 beside it).
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..config import LabConfig
from ..errors import LabError
from ..fsutil import private_dir, write_private
from ..progress import Reporter
from .pages import Reply
from .session import ME_PATH, Person, SelfServicePages

log = logging.getLogger("oidc-lab.serve")


@dataclass(frozen=True)
class Tls:
    cert_file: Path
    key_file: Path
    ca_file: Path | None  # what attendees trust; None when the instructor's own certificate is used


def page_for(lab: LabConfig) -> SelfServicePages:
    """The page of an up lab, with everything it hands out computed now (no secret is shown)."""
    from ..handouts import AttendeeKubeconfigs
    from ..steps import LabContext
    from .idp import IdpSignIn

    with LabContext(lab, Reporter(quiet=True)) as ctx:
        client = ctx.secrets.client
        if client is None or not client.authorization_endpoint:
            raise LabError(f"lab {lab.name!r} is not up (it has no sign-in client yet)", "run `lab up` first")
        provider = ctx.provider
        claim = lab.oidc.username_claim
        people, values = {}, {}
        for user in lab.users:
            values[provider.claim_value(user, claim)] = user.handle
            name = provider.login_name(user) if lab.provider != "local" else (user.email or user.handle)
            people[user.handle] = Person(user.handle, user.email or name, user.display_name, user.handle)
        handouts = AttendeeKubeconfigs(ctx).all()  # what `lab handout` writes, to the letter
        if not handouts:
            raise LabError(f"the kubeconfig has no cluster entry for lab {lab.name!r} to hand out",
                           "start the cluster and run `lab up` again")
        backend = IdpSignIn(lab.name, client, claim, people, values, handouts)
    origin = f"https://{lab.serve.host}:{lab.serve.port}"
    return SelfServicePages(backend, lambda: origin)


def tls_for(lab: LabConfig, root: Path, issuer_folder: Path, cert: Path | None, key: Path | None) -> Tls:
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise LabError("--cert and --key go together", "give both files, or neither for a certificate the lab makes")
        for path in (cert, key):
            if not path.is_file():
                raise LabError(f"{path} does not exist", "give the PEM files of the page's certificate and its key")
        return Tls(cert, key, None)
    from ..providers.local.pki import KeyPair, create_ca, issue_server_cert

    folder = private_dir(root / "serve")
    if lab.provider == "local":
        ca_cert, ca_key = issuer_folder / "ca.crt", issuer_folder / "ca.key"
        if not (ca_cert.exists() and ca_key.exists()):
            raise LabError(f"lab {lab.name!r} has no CA yet", "run `lab up` first")
    else:
        ca_cert, ca_key = folder / "ca.crt", folder / "ca.key"
        if not (ca_cert.exists() and ca_key.exists()):
            made = create_ca(f"oidc-lab {lab.name} self-service page CA")
            write_private(ca_key, made.key_pem)
            write_private(ca_cert, made.cert_pem, mode=0o644)  # attendees get a copy of it
    hosts = [lab.serve.host] + [h for h in ("127.0.0.1", "localhost") if h != lab.serve.host]
    leaf = issue_server_cert(KeyPair(ca_cert.read_bytes(), ca_key.read_bytes()), hosts)
    write_private(folder / "tls.crt", leaf.cert_pem)
    write_private(folder / "tls.key", leaf.key_pem)
    return Tls(folder / "tls.crt", folder / "tls.key", ca_cert)


def listen_address(host: str) -> str:
    """Loopback pages stay on loopback (on that very address: a room test's 127.0.0.2); a page attendees
    reach by name or address listens everywhere."""
    try:
        address = ipaddress.ip_address(host)
        if address.is_loopback:
            return host if address.version == 4 else "127.0.0.1"
        return "0.0.0.0"
    except ValueError:
        return "127.0.0.1" if host == "localhost" else "0.0.0.0"


class _Handler(BaseHTTPRequestHandler):
    server: "PageServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.command, urlsplit(self.path).path)  # never the query: it holds codes

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        page = self.server.page
        if parts.path in ("/", ""):
            self._send(Reply(302, b"", [("Location", ME_PATH), ("Cache-Control", "no-store")]))
        elif parts.path == ME_PATH:
            self._send(page.page(self.headers, dict(parse_qsl(parts.query))))
        elif parts.path == f"{ME_PATH}/kubeconfig":
            self._send(page.download(self.headers))
        else:
            self._send(Reply(404, b"not found", [], "text/plain; charset=utf-8"))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 65536))
        if urlsplit(self.path).path == f"{ME_PATH}/signout":
            self._send(self.server.page.sign_out(self.headers))
        else:
            self._send(Reply(404, b"not found", [], "text/plain; charset=utf-8"))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


class PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], page: SelfServicePages, tls: Tls) -> None:
        self.page = page
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(tls.cert_file, tls.key_file)
        super().__init__(address, _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser that drops a connection or refuses the certificate is no failure of the page


def serve(lab: LabConfig, ui: Reporter, cert: Path | None, key: Path | None, listen: str | None,
          ready: threading.Event | None = None) -> None:
    """Serve the page until interrupted."""
    from ..paths import LabPaths

    page = page_for(lab)
    paths = LabPaths.for_lab(lab.name)
    tls = tls_for(lab, paths.root, paths.issuer, cert, key)
    if lab.provider == "local":  # the page signs people in at the lab's own issuer: start it after a reboot
        from ..credential.local_issuer import issuer_folder, wake

        folder = issuer_folder(str(paths.root))
        if folder:
            wake(lab.name, folder)
    address = listen or listen_address(lab.serve.host)
    try:
        server = PageServer((address, lab.serve.port), page, tls)
    except OSError as failure:
        raise LabError(f"cannot listen on {address}:{lab.serve.port}: {failure.strerror}",
                       "stop what holds that port, or set serve.port in lab.yaml and run `lab up` again") from None
    ui.info(f"Lab {lab.name!r}: attendees open {lab.serve.callback} and sign in to get their kubeconfig.")
    if tls.ca_file is not None:
        ui.info(f"The page's certificate is signed by {tls.ca_file}: hand that file out and have attendees trust it "
                "(import it as a trusted authority in the browser, or open the page once and accept it).")
    ui.info("Press Ctrl-C to stop.")
    if ready is not None:
        ready.set()
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

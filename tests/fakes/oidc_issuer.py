"""A tiny HTTPS OIDC issuer for tests: discovery and JWKS, and tokens minted with PyJWT.

It lets the apiserver double be tested (and the product's cluster step exercised) without the
product's own issuer. Its URL uses `host.minikube.internal`, the name the node reaches the host
by, so the apiserver double trusts it only through `--oidc-ca-file` (its CA is `ca_pem`). Tokens
are built claim by claim, so a test can break exactly one rule (expired, wrong aud, `iss` with a
trailing slash, email_verified false) and see the apiserver refuse it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from provisioner.providers.local import pki
from provisioner.fsutil import write_private


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        issuer = self.server.issuer
        issuer.requests.append(self.path)
        if not issuer.available:
            return self._send(503, {"error": "unavailable"})
        base = issuer.path_prefix
        if self.path == f"{base}/.well-known/openid-configuration":
            return self._send(200, issuer.discovery_document())
        if self.path == f"{base}/jwks":
            return self._send(200, issuer.jwks())
        self._send(404, {"error": "not_found"})

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, issuer: "TestIssuer", context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.issuer = issuer
        self.socket = context.wrap_socket(self.socket, server_side=True)


class TestIssuer:
    """Start with `start()` (or `with`), stop with `stop()`. `url` is the exact issuer string."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path, host: str = "host.minikube.internal", client_id: str = "kubernetes",
                 trailing_slash: bool = False, path: str = "") -> None:
        self.folder = folder
        self.host = host
        self.client_id = client_id
        self.trailing_slash = trailing_slash
        self.path_prefix = path.rstrip("/")
        self.ca = pki.create_ca("test-issuer-ca")
        self.available = True
        self.requests: list[str] = []
        self.discovery_issuer: str | None = None  # set to advertise a different `issuer` in discovery
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> "TestIssuer":
        serving = pki.issue_server_cert(self.ca, [self.host, "127.0.0.1", "localhost"])
        cert_file, key_file = self.folder / "issuer.crt", self.folder / "issuer.key"
        write_private(cert_file, serving.cert_pem)
        write_private(key_file, serving.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server = _Server(self, context)
        self._thread = threading.Thread(target=self._server.serve_forever, name="test-issuer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "TestIssuer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def rotate_key(self) -> None:
        """Sign with a new key from now on; the JWKS publishes only the new one (a key rotation)."""
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex[:16]

    # what it serves ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "start the issuer first"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}{self.path_prefix}" + ("/" if self.trailing_slash else "")

    @property
    def ca_pem(self) -> bytes:
        return self.ca.cert_pem

    def discovery_document(self) -> dict[str, Any]:
        base = f"https://{self.host}:{self.port}{self.path_prefix}"
        return {
            "issuer": self.discovery_issuer or self.url,
            "jwks_uri": f"{base}/jwks",
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "response_types_supported": ["code", "id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "email", "email_verified", "groups", "name"],
        }

    def jwks(self) -> dict[str, Any]:
        key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        key.update(kid=self.kid, use="sig", alg="RS256")
        return {"keys": [key]}

    def mint(self, sub: str = "user-1", *, email: str | None = None, email_verified: bool | None = True,
             aud: str | list[str] | None = None, iss: str | None = None, expires_in: int = 3600,
             groups: list[str] | str | None = None, kid: str | None = None, **extra: Any) -> str:
        """An id_token signed with the published key; every claim can be overridden or left out."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": iss if iss is not None else self.url, "sub": sub,
                                  "aud": aud if aud is not None else self.client_id,
                                  "iat": now, "exp": now + expires_in}
        if email is not None:
            claims["email"] = email
            if email_verified is not None:
                claims["email_verified"] = email_verified
        if groups is not None:
            claims["groups"] = groups
        claims.update(extra)
        pem = self.signing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid or self.kid})

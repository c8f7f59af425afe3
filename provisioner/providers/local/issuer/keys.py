"""The lab's CA, the issuer's TLS certificate and its token signing key.

All three are made once per lab and then kept: the apiserver was given the CA at its last start
(a new CA would need a minikube restart), and every token already handed out is signed by the
signing key. Only the TLS certificate is reissued, by the same CA, when it no longer covers the
names the issuer is reached by or is close to expiry; nobody outside pins it.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from cryptography import x509

from .. import pki
from ....fsutil import write_private
from .files import IssuerFiles

_RENEW_BEFORE = _dt.timedelta(days=30)


def server_hosts(hostname: str, listen: str) -> list[str]:
    """Every name the issuer is reached by: the apiserver's (`hostname`) first, then the host's."""
    hosts = [hostname, "127.0.0.1", "localhost"]
    try:
        address = ipaddress.ip_address(listen)
        if not address.is_unspecified and listen not in hosts:
            hosts.append(listen)
    except ValueError:
        pass
    return list(dict.fromkeys(hosts))


def _cert_names(cert: x509.Certificate) -> set[str]:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = {str(name) for name in sans.get_values_for_type(x509.DNSName)}
    names |= {str(address) for address in sans.get_values_for_type(x509.IPAddress)}
    return names


def _tls_cert_problem(files: IssuerFiles, hosts: list[str]) -> str | None:
    """Why the TLS certificate must be (re)issued, or None when it is fine."""
    if not (files.tls_cert.exists() and files.tls_key.exists()):
        return "missing"
    cert = x509.load_pem_x509_certificate(files.tls_cert.read_bytes())
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except Exception:
        return "not signed by the lab CA"
    missing = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts} - _cert_names(cert)
    if missing:
        return f"does not cover {', '.join(sorted(missing))}"
    if cert.not_valid_after_utc - _dt.datetime.now(_dt.timezone.utc) < _RENEW_BEFORE:
        return "expires soon"
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def plan_pki(files: IssuerFiles, hosts: list[str]) -> list[str]:
    """What `ensure_pki` would make, one sentence each."""
    if not (files.ca_cert.exists() and files.ca_key.exists()):
        return ["create the issuer's CA, TLS certificate and signing key"]
    changes = []
    problem = _tls_cert_problem(files, hosts)
    if problem:
        changes.append(f"issue a new TLS certificate for the issuer (the current one is {problem})")
    if not files.signing_key.exists():
        changes.append("create the issuer's token signing key")
    return changes


def ensure_pki(files: IssuerFiles, hosts: list[str], ca_name: str) -> bool:
    """Make whatever is missing or outdated; True if anything changed (a running server must restart)."""
    changed = False
    if not (files.ca_cert.exists() and files.ca_key.exists()):
        ca = pki.create_ca(ca_name)
        write_private(files.ca_key, ca.key_pem)
        write_private(files.ca_cert, ca.cert_pem)
        for stale in (files.tls_cert, files.tls_key):
            stale.unlink(missing_ok=True)
        changed = True
    if not files.signing_key.exists():
        write_private(files.signing_key, pki.generate_rsa_signing_key())
        changed = True
    if _tls_cert_problem(files, hosts) is None:
        return changed
    ca = pki.KeyPair(files.ca_cert.read_bytes(), files.ca_key.read_bytes())
    server = pki.issue_server_cert(ca, hosts)
    write_private(files.tls_key, server.key_pem)
    write_private(files.tls_cert, server.cert_pem)
    return True


@dataclass(frozen=True)
class SigningKey:
    """The RS256 key id_tokens are signed with; `kid` is its RFC 7638 thumbprint."""

    key: Any  # joserfc RSAKey

    @classmethod
    def load(cls, files: IssuerFiles) -> "SigningKey":
        from joserfc.jwk import RSAKey

        return cls(RSAKey.import_key(files.signing_key.read_bytes()))

    @cached_property
    def kid(self) -> str:
        return self.key.thumbprint()

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def sign(self, claims: dict[str, Any]) -> str:
        from joserfc import jwt

        # joserfc does not add `kid` on its own; the apiserver picks the JWKS key by it.
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.kid}, claims, self.key)

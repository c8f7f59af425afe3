"""The minikube admin's client certificate, which only the fake minikube makes."""

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.providers.local.pki import KeyPair, issue_certificate


def issue_client_cert(ca: KeyPair, common_name: str, organizations: list[str] = (), days: int = 825) -> KeyPair:
    """A TLS client certificate, as Kubernetes reads it: CN is the user, O the groups."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return issue_certificate(ca, x509.Name(attrs), ExtendedKeyUsageOID.CLIENT_AUTH, [], days)

"""Which tenant, and with which credentials: AUTH0_DOMAIN, AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET.

The names are the ones the Auth0 Deploy CLI uses. The domain is any host name or IP address with
an optional port: a tenant domain (dev-abc123.us.auth0.com), a custom domain, or a proxy or other
server that answers as Auth0 does. The issuer becomes `https://<domain>/`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from ...errors import ProviderError

ENV_DOMAIN, ENV_CLIENT_ID, ENV_CLIENT_SECRET = "AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"
CREDENTIALS_HINT = (
    "export AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of a machine-to-machine application "
    "authorized for the Auth0 Management API"
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")  # RFC 1123


def tenant_domain(raw: str) -> str:
    """The domain, checked and lower-cased (a trailing slash is dropped)."""
    value = raw.strip().rstrip("/").lower()
    if "://" in value:
        raise _refused(raw, "must be a bare domain such as dev-abc123.us.auth0.com, without https://")
    try:
        parts = urlsplit(f"https://{value}")
        host, port = parts.hostname or "", parts.port
    except ValueError:  # a port that is not a number in 0-65535
        raise _refused(raw, "has a port that is not a number from 1 to 65535") from None
    if parts.netloc != value or parts.username is not None or not _is_host(host):
        raise _refused(raw, "is not a domain name such as dev-abc123.us.auth0.com")
    if port == 0 or value.endswith(":"):
        raise _refused(raw, "has a port that is not a number from 1 to 65535")
    if port == 443:
        # Tokens say `iss: https://<host>/` without the default port, and kube-apiserver compares
        # the issuer character for character.
        raise _refused(raw, f"names the default https port; write {value.rsplit(':', 1)[0]}")
    return value


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return len(host) <= 253 and all(_LABEL.match(label) for label in host.split("."))


def _refused(raw: str, reason: str) -> ProviderError:
    return ProviderError(f"AUTH0_DOMAIN {raw!r} {reason}", CREDENTIALS_HINT)


def domain_from(configured: str | None) -> str:
    """lab.yaml's auth0.domain, else $AUTH0_DOMAIN."""
    raw = configured or os.environ.get(ENV_DOMAIN, "")
    if not raw:
        raise ProviderError("AUTH0_DOMAIN is not set and lab.yaml has no auth0.domain", CREDENTIALS_HINT)
    return tenant_domain(raw)


def management_credentials() -> tuple[str, str]:
    """(client id, client secret) of the machine-to-machine application."""
    missing = [name for name in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not os.environ.get(name)]
    if missing:
        raise ProviderError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set", CREDENTIALS_HINT)
    return os.environ[ENV_CLIENT_ID], os.environ[ENV_CLIENT_SECRET]

"""Checks of single lab.yaml values that name places: an Auth0 domain, an issuer URL, a host."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$")
_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$")


def validate_auth0_domain(value: str) -> str:
    if "://" in value:
        raise ValueError("must be a bare domain such as dev-abc123.us.auth0.com, without https://")
    value = value.strip().rstrip("/").lower()
    if not _DOMAIN.match(value):
        raise ValueError("is not a domain name such as dev-abc123.us.auth0.com")
    return value


def validate_issuer_url(value: str) -> str:
    """An issuer URL kube-apiserver and OIDC discovery accept: https, a host, no user info, query or fragment."""
    if not value.startswith("https://"):
        raise ValueError("must be an https:// URL: kube-apiserver accepts only https issuers")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError("is not a URL; give it as https://host[:port][/path]") from None
    if parts.username is not None or parts.password is not None:
        raise ValueError("carries user info before '@'; remove it and give the bare https://host[:port][/path] "
                         "(credentials come from the environment, never from a URL)")
    if parts.query or value.endswith("?"):
        raise ValueError("has a query ('?...'); remove it: an OIDC issuer URL has no query")
    if parts.fragment or "#" in value:
        raise ValueError("has a fragment ('#...'); remove it: an OIDC issuer URL has no fragment")
    if not parts.hostname:
        raise ValueError("has no host; give it as https://host[:port][/path]")
    return value


def is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return bool(_HOST_NAME.match(value))

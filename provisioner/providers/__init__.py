"""Identity providers. `load_provider(kind)` imports only the one a lab uses (SDKs are heavy)."""

from __future__ import annotations

import importlib

from .base import Issuer, Provider

_MODULES = {"local": "provisioner.providers.local", "auth0": "provisioner.providers.auth0", "casdoor": "provisioner.providers.casdoor"}


def provider_class(kind: str) -> type[Provider]:
    module = importlib.import_module(_MODULES[kind])
    return module.PROVIDER


__all__ = ["Issuer", "Provider", "provider_class"]

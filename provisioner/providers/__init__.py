"""Identity providers. `provider_class(kind)` imports only the one a lab uses (SDKs are heavy).

Nothing is imported eagerly: the built-in issuer's process and its `pki` live below this package
and must start without pulling in the configuration models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Issuer, Provider

_MODULES = {
    "local": "provisioner.providers.local.provider",
    "auth0": "provisioner.providers.auth0",
    "casdoor": "provisioner.providers.casdoor",
}


def provider_class(kind: str) -> "type[Provider]":
    module = importlib.import_module(_MODULES[kind])
    return module.PROVIDER


def __getattr__(name: str):
    if name in ("Issuer", "Provider"):
        from . import base

        return getattr(base, name)
    raise AttributeError(name)


__all__ = ["Issuer", "Provider", "provider_class"]

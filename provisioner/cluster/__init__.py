"""Clusters whose kube-apiserver the lab configures. Only minikube today; kind would be one module.

The driver interface is imported on first use (PEP 562): `records.py` and `lab status` need only
the option and profile modules here, not the lab's config models the interface is typed with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Cluster, OidcSettings


def cluster_for(lab, paths, ui) -> Cluster:
    if lab.cluster.driver == "minikube":
        from .minikube import Minikube

        return Minikube(lab, paths, ui)
    raise ValueError(lab.cluster.driver)


def __getattr__(name: str) -> Any:
    if name in ("Cluster", "OidcSettings"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Cluster", "OidcSettings", "cluster_for"]

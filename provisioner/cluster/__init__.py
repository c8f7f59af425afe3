"""Clusters whose kube-apiserver the lab configures. Only minikube today; kind would be one module."""

from __future__ import annotations

from .base import Cluster, OidcSettings


def cluster_for(lab, paths, ui) -> Cluster:
    if lab.cluster.driver == "minikube":
        from .minikube import Minikube

        return Minikube(lab, paths, ui)
    raise ValueError(lab.cluster.driver)


__all__ = ["Cluster", "OidcSettings", "cluster_for"]

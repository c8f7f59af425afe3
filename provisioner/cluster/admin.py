"""The profile's admin identity, as kubectl would use it: the kubeconfig context minikube writes."""

from __future__ import annotations

from typing import Any

from ..errors import ClusterError


def admin_client(profile: str) -> Any:
    """A kubernetes ApiClient for the profile's own context; a missing or damaged context is named."""
    from kubernetes import config as kube_config

    from ..kubeconfig import Kubeconfig, admin_context_problem, kubeconfig_path

    path = kubeconfig_path()
    problem = admin_context_problem(path, profile)
    if problem:
        raise ClusterError(problem, f"run `minikube update-context -p {profile}` (or `minikube start -p "
                                    f"{profile}`), which writes it; a copy may be at {path}.oidc-lab.bak")
    try:
        # the document as Kubeconfig reads it (libyaml): the kubernetes client's own reading of
        # a kubeconfig with a context per lab user takes a second at 500 users
        return kube_config.new_client_from_config_dict(Kubeconfig(path).document, context=profile)
    except kube_config.ConfigException as exc:
        raise ClusterError(f"the kubeconfig {path} has no usable context {profile!r} ({exc})",
                           f"start the cluster with `minikube start -p {profile}`, which writes it") from None

"""Kubeconfigs made for one lab user each: what the self-service page hands out after a sign-in.

A handout holds the cluster (its server and CA, inlined so the file stands alone), one context
(in the user's namespace when namespaces are per user) and one user running the lab's configured
plugin: nothing secret, and nothing of any other user. For a lab on the built-in issuer, `lab up`
leaves them in the issuer's folder (`handouts.json`, 0600, keyed by each user's `sub`), where the
issuer's page finds the one of whoever signed in.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Callable


def handout(cluster_name: str, cluster: dict[str, Any], context_name: str, namespace: str,
            user: dict[str, Any]) -> dict[str, Any]:
    """A whole kubeconfig for one user; the cluster's CA file becomes inline data."""
    cluster = dict(cluster)
    ca_file = cluster.pop("certificate-authority", None)
    if ca_file and "certificate-authority-data" not in cluster:
        cluster["certificate-authority-data"] = base64.b64encode(Path(ca_file).read_bytes()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "contexts": [{"name": context_name, "context": {"cluster": cluster_name, "user": context_name,
                                                        "namespace": namespace}}],
        "users": [{"name": context_name, "user": user}],
        "current-context": context_name,
    }


def lab_handouts(lab: Any, kubeconfig: Any, cluster_name: str, context_name: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """Every lab user's handout by handle, from the kubeconfig `lab up` wrote (empty when it holds
    no entry for the cluster, e.g. minikube stopped: the next `lab up` writes them)."""
    cluster = (kubeconfig.get("clusters", cluster_name) or {}).get("cluster")
    if not cluster:
        return {}
    documents = {}
    for user in lab.users:
        name = context_name(user.handle)
        entry = kubeconfig.get("users", name)
        if entry is not None:
            documents[user.handle] = handout(cluster_name, cluster, name, lab.namespace_for(user) or "default", entry["user"])
    return documents


def handouts_file(issuer_folder: Path) -> Path:
    return issuer_folder / "handouts.json"

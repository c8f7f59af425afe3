"""The kubeconfig entries minikube owns: cluster, user and context named after the profile.

`start` writes them and makes the context current; `stop` and `delete` remove them and clear
`current-context` if it pointed there. Every other entry, and unknown top-level keys, are kept:
the product's own kubeconfig merge is tested against a file minikube has touched.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from provisioner.fsutil import write_private

from .minikube_home import MINIKUBE_VERSION, Profile


def _load(path: Path) -> dict[str, Any]:
    import yaml  # imported here: most minikube commands never read the kubeconfig

    try:
        # libyaml's safe loader, as fast as minikube's Go reader (client-go's clientcmd): the pure
        # Python one made `profile list` cost 0.4 s with a room's 100 contexts in the kubeconfig
        document = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except FileNotFoundError:
        document = {}
    document.setdefault("apiVersion", "v1")
    document.setdefault("kind", "Config")
    document.setdefault("preferences", {})
    for key in ("clusters", "users", "contexts"):
        if document.get(key) is None:
            document[key] = []
    document.setdefault("current-context", "")
    return document


def _save(path: Path, document: dict[str, Any]) -> None:
    import yaml

    write_private(path, yaml.safe_dump(document, default_flow_style=False, sort_keys=False))


def _upsert(entries: list[dict[str, Any]], name: str, entry: dict[str, Any]) -> None:
    for index, existing in enumerate(entries):
        if existing.get("name") == name:
            entries[index] = entry
            return
    entries.append(entry)


def _minikube_extension() -> list[dict[str, Any]]:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S UTC")
    return [{
        "extension": {"last-update": stamp, "provider": "minikube.sigs.k8s.io", "version": MINIKUBE_VERSION},
        "name": "cluster_info",
    }]


def write_profile_entries(path: Path, profile: Profile, server: str) -> None:
    document = _load(path)
    name = profile.name
    _upsert(document["clusters"], name, {
        "cluster": {
            "certificate-authority": str(profile.ca_cert),
            "extensions": _minikube_extension(),
            "server": server,
        },
        "name": name,
    })
    _upsert(document["users"], name, {
        "name": name,
        "user": {"client-certificate": str(profile.client_cert), "client-key": str(profile.client_key)},
    })
    _upsert(document["contexts"], name, {
        "context": {"cluster": name, "extensions": _minikube_extension(), "namespace": "default", "user": name},
        "name": name,
    })
    document["current-context"] = name
    _save(path, document)


def remove_profile_entries(path: Path, name: str) -> None:
    if not path.exists():
        return
    document = _load(path)
    for key in ("clusters", "users", "contexts"):
        document[key] = [entry for entry in document[key] if entry.get("name") != name]
    if document.get("current-context") == name:
        document["current-context"] = ""
    _save(path, document)


def has_profile_entries(path: Path, name: str) -> bool:
    if not path.exists():
        return False
    document = _load(path)
    return any(entry.get("name") == name for entry in document["clusters"])

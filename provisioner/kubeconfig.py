"""The user's kubeconfig: lab users and contexts merged in the way kubectl merges, nothing clobbered.

The file is the first one of `$KUBECONFIG`, else `~/.kube/config`, as kubectl writes. Only entries
the lab names are added, changed or removed; every other cluster, user, context and the
current-context stay as they were. The previous file is kept as `<file>.oidc-lab.bak` before each
write, and the file is written atomically as 0600 (it can hold other people's secrets).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import LabError
from .fsutil import write_private

EXEC_API_VERSION = "client.authentication.k8s.io/v1"


def kubeconfig_path() -> Path:
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        first = next((part for part in explicit.split(os.pathsep) if part), None)
        if first:
            return Path(first).expanduser()
    return Path.home() / ".kube" / "config"


def exec_user(command: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """A kubeconfig user that runs the credential plugin; `args` and `env` hold no secret."""
    spec: dict[str, Any] = {
        "apiVersion": EXEC_API_VERSION,
        "command": command,
        "args": args,
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())] or None,
        "interactiveMode": "IfAvailable",
        "provideClusterInfo": False,
        "installHint": "`lab token` comes with oidc-lab: install it (see its README) and run `lab up` again.",
    }
    return {"exec": spec}


class Kubeconfig:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or kubeconfig_path()
        self.document = self._load()

    def _load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        try:
            # libyaml's loader when PyYAML has it: the same safe rules, and a 500-user kubeconfig
            # (read by several steps of every `lab up`) in milliseconds instead of a second
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except yaml.YAMLError:
            raise LabError(f"the kubeconfig {self.path} is damaged (not valid YAML)", self._repair_hint()) from None
        if not isinstance(document, dict):
            raise LabError(f"the kubeconfig {self.path} is not a kubeconfig", "point KUBECONFIG at a kubeconfig file")
        document.setdefault("apiVersion", "v1")
        document.setdefault("kind", "Config")
        document.setdefault("preferences", {})
        for key in ("clusters", "users", "contexts"):
            if document.get(key) is None:
                document[key] = []
            elif not isinstance(document[key], list) or not all(isinstance(e, dict) for e in document[key]):
                raise LabError(f"the kubeconfig {self.path} is damaged ({key!r} is not a list of entries)",
                               self._repair_hint())
        document.setdefault("current-context", "")
        return document

    def _repair_hint(self) -> str:
        backup = self.path.with_name(self.path.name + ".oidc-lab.bak")
        where = f"restore it from {backup}" if backup.exists() else "repair it"
        return f"{where}, or move it aside and run `minikube update-context` to write the profile's entries again"

    # entries -------------------------------------------------------------------------------------
    def _entries(self, kind: str) -> list[dict[str, Any]]:
        return self.document[kind]

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        return next((entry for entry in self._entries(kind) if entry.get("name") == name), None)

    def _put(self, kind: str, name: str, body_key: str, body: dict[str, Any]) -> bool:
        entry = {"name": name, body_key: body}
        for index, existing in enumerate(self._entries(kind)):
            if existing.get("name") == name:
                if existing == entry:
                    return False
                self._entries(kind)[index] = entry
                return True
        self._entries(kind).append(entry)
        return True

    def put_user(self, name: str, user: dict[str, Any]) -> bool:
        return self._put("users", name, "user", user)

    def put_context(self, name: str, cluster: str, user: str, namespace: str = "default") -> bool:
        return self._put("contexts", name, "context", {"cluster": cluster, "user": user, "namespace": namespace})

    def remove(self, kind: str, name: str) -> bool:
        entries = self._entries(kind)
        kept = [entry for entry in entries if entry.get("name") != name]
        if len(kept) == len(entries):
            return False
        self.document[kind] = kept
        if kind == "contexts" and self.document.get("current-context") == name:
            self.document["current-context"] = ""
        return True

    # file --------------------------------------------------------------------------------------
    def save(self) -> None:
        if self.path.exists():
            write_private(self.path.with_name(self.path.name + ".oidc-lab.bak"), self.path.read_bytes())
        # libyaml's safe dumper when PyYAML has it: the same text, for a room of 500 in a fifth of the time
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
        write_private(self.path, yaml.dump(self.document, Dumper=dumper, default_flow_style=False, sort_keys=False))


def admin_context_problem(path: Path, context: str) -> str | None:
    """What keeps minikube's admin `context` in the kubeconfig at `path` from working, if anything.

    A truncated file can still parse: the kubernetes client then connects without the client
    certificate and the cluster answers 403 as if the admin had no rights. Said here instead.
    """
    kubeconfig = Kubeconfig(path)
    entry = kubeconfig.get("contexts", context)
    if entry is None:
        return f"the kubeconfig {path} has no context {context!r}"
    body = entry.get("context") or {}
    cluster = kubeconfig.get("clusters", str(body.get("cluster")))
    user = kubeconfig.get("users", str(body.get("user")))
    if cluster is None or not (cluster.get("cluster") or {}).get("server"):
        return f"the kubeconfig {path} is damaged: context {context!r} names no cluster with a server"
    credentials = (user or {}).get("user") or {}
    has_cert = credentials.get("client-certificate") or credentials.get("client-certificate-data")
    has_key = credentials.get("client-key") or credentials.get("client-key-data")
    if not (has_cert and has_key):
        return (f"the kubeconfig {path} is damaged: the user of context {context!r} lacks "
                f"{'its client key' if has_cert else 'its client certificate'}")
    return None

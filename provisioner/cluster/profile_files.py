"""What a minikube profile is, read from its files and its apiserver, without running minikube.

`lab status` is asked often (an instructor watches it while a room signs in), and each `minikube`
run costs about a second; the facts it reports are on disk anyway: the options minikube keeps in
`$MINIKUBE_HOME/.minikube/profiles/<p>/config.json` (DESIGN.md section 4) and the profile's
apiserver address in the kubeconfig minikube writes. "Running" is what `minikube status` means
by `APIServer: Running`: the apiserver answers its health endpoint (`/livez`, which Kubernetes
serves to anyone, system:public-info-viewer), trusted through the profile's own CA.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .options import ExtraOption

#: How long a health answer may take: a running apiserver answers in milliseconds.
PROBE_TIMEOUT_SECONDS = 2.0


def minikube_home() -> Path:
    """The `.minikube` folder: `$MINIKUBE_HOME/.minikube` unless MINIKUBE_HOME already ends in it."""
    explicit = os.environ.get("MINIKUBE_HOME")
    if not explicit:
        return Path.home() / ".minikube"
    path = Path(explicit).expanduser()
    return path if path.name == ".minikube" else path / ".minikube"


def profile_config(profile: str) -> dict[str, Any] | None:
    """The profile's config.json (None: there is no such profile)."""
    try:
        config = json.loads((minikube_home() / "profiles" / profile / "config.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # there, but unreadable: minikube lists it as invalid
    return config if isinstance(config, dict) else {}


def extra_options(config: dict[str, Any]) -> list[ExtraOption]:
    raw = (config.get("KubernetesConfig") or {}).get("ExtraOptions") or []
    return [ExtraOption.from_json(item) for item in raw]


def apiserver_answers(profile: str, kubeconfig: dict[str, Any]) -> bool:
    """Whether the profile's apiserver, at the address its kubeconfig cluster entry names, says it
    is live. False covers both "stopped" and "cannot tell from here" (no entry, no answer)."""
    answer = apiserver_get(profile, kubeconfig, "/livez", admin=False)
    return answer is not None and answer.strip() == "ok"


def apiserver_get(profile: str, kubeconfig: dict[str, Any], path: str, admin: bool) -> str | None:
    """The body of a 200 answer to GET `path` from the profile's apiserver (None: no such answer).

    `admin`: as the profile's own kubeconfig user (its client certificate files), for what
    anonymous users may not read, such as /metrics."""
    import http.client
    import ssl
    from urllib.parse import urlsplit

    cluster = _entry(kubeconfig, "clusters", profile)
    server = urlsplit(str(cluster.get("server") or ""))
    if server.scheme != "https" or not server.hostname:
        return None
    try:
        context = ssl.create_default_context(cafile=cluster.get("certificate-authority") or None,
                                             cadata=_decoded(cluster.get("certificate-authority-data")))
        if admin:
            context_entry = _entry(kubeconfig, "contexts", profile)
            user = _entry(kubeconfig, "users", str(context_entry.get("user")))
            if not (user.get("client-certificate") and user.get("client-key")):
                return None
            context.load_cert_chain(user["client-certificate"], user["client-key"])
    except (OSError, ValueError, ssl.SSLError):
        return None
    connection = http.client.HTTPSConnection(server.hostname, server.port or 443, context=context,
                                             timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
        return body if response.status == 200 else None
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _entry(kubeconfig: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    """The body of the named cluster, context or user entry ({} when there is none)."""
    key = kind[:-1]  # clusters -> cluster
    for entry in kubeconfig.get(kind) or []:
        if isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get(key), dict):
            return entry[key]
    return {}


def _decoded(data: Any) -> str | None:
    if not data:
        return None
    import base64

    return base64.b64decode(str(data)).decode("ascii")

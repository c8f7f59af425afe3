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
    import http.client
    import ssl
    from urllib.parse import urlsplit

    entry = next((c.get("cluster") or {} for c in kubeconfig.get("clusters") or []
                  if isinstance(c, dict) and c.get("name") == profile), {})
    server = urlsplit(str(entry.get("server") or ""))
    if server.scheme != "https" or not server.hostname:
        return False
    try:
        context = ssl.create_default_context(cafile=entry.get("certificate-authority") or None,
                                             cadata=_decoded(entry.get("certificate-authority-data")))
    except (OSError, ValueError, ssl.SSLError):
        return False
    connection = http.client.HTTPSConnection(server.hostname, server.port or 443, context=context,
                                             timeout=PROBE_TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/livez")
        response = connection.getresponse()
        return response.status == 200 and response.read().strip() == b"ok"
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _decoded(data: Any) -> str | None:
    if not data:
        return None
    import base64

    return base64.b64decode(str(data)).decode("ascii")

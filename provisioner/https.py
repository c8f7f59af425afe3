"""TLS trust for the HTTPS calls the provisioning code makes (with httpx).

`SSL_CERT_FILE` and `REQUESTS_CA_BUNDLE` are often set machine-wide; a CA the lab knows (the
cluster's, from the kubeconfig, or the issuer's) must win over them, so it is handed to httpx as
an `ssl.SSLContext`, which httpx uses as it is. Without one, httpx's own rules apply.
"""

from __future__ import annotations

import ssl


def trust(ca_file: str | None, verify: bool = True) -> ssl.SSLContext | bool:
    """What to pass as httpx's `verify=`: the CA file's context, the default roots, or no check."""
    if not verify:
        return False
    return ssl.create_default_context(cafile=ca_file) if ca_file else True

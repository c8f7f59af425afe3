"""The lab's ownership mark on what it makes at Auth0, so teardown never touches anything else.

Applications carry it in `client_metadata`, connections in `metadata`, users in `app_metadata`
(Auth0 allows at most 10 keys there, with string values of at most 255 characters).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import LabConfig

MARK_KEY = "oidc_lab"


def mark(lab: LabConfig) -> dict[str, str]:
    return {MARK_KEY: lab.name}


def is_ours(metadata: Mapping[str, Any] | None, lab: LabConfig) -> bool:
    return bool(metadata) and metadata.get(MARK_KEY) == lab.name  # type: ignore[union-attr]

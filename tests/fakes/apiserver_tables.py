"""Server-side printing: the `Table` documents `kubectl get` asks for and prints as-is.

kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints the columns the
server chose, so the columns here are the real ones (`NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE`
for services, `NAME CREATED AT` for cluster roles).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Callable

Column = tuple[str, str, Callable[[dict[str, Any]], Any]]


def wants_table(accept: str) -> bool:
    return any("as=Table" in part and "g=meta.k8s.io" in part for part in accept.split(","))


def _age(obj: dict[str, Any]) -> str:
    """kubectl's short human duration (`5s`, `3m12s`, `4h`, `2d`)."""
    stamp = obj["metadata"].get("creationTimestamp")
    if not stamp:
        return "<unknown>"
    created = _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    seconds = max(0, int((_dt.datetime.now(_dt.timezone.utc) - created).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


def _ports(obj: dict[str, Any]) -> str:
    ports = (obj.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _role_ref(obj: dict[str, Any]) -> str:
    ref = obj.get("roleRef") or {}
    return f"{ref.get('kind')}/{ref.get('name')}"


def _name(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


_NAME: Column = ("Name", "name", _name)
_AGE: Column = ("Age", "", _age)
COLUMNS: dict[str, list[Column]] = {
    "services": [
        _NAME,
        ("Type", "", lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
        ("Cluster-IP", "", lambda o: (o.get("spec") or {}).get("clusterIP", "<none>")),
        ("External-IP", "", lambda o: ",".join((o.get("spec") or {}).get("externalIPs") or []) or "<none>"),
        ("Port(s)", "", _ports),
        _AGE,
    ],
    "namespaces": [_NAME, ("Status", "", lambda o: (o.get("status") or {}).get("phase", "Active")), _AGE],
    "configmaps": [_NAME, ("Data", "", lambda o: len(o.get("data") or {}) + len(o.get("binaryData") or {})), _AGE],
    "serviceaccounts": [_NAME, ("Secrets", "", lambda o: len(o.get("secrets") or [])), _AGE],
    "secrets": [_NAME, ("Type", "", lambda o: o.get("type", "Opaque")),
                ("Data", "", lambda o: len(o.get("data") or {})), _AGE],
    "clusterroles": [_NAME, ("Created At", "date", lambda o: o["metadata"].get("creationTimestamp"))],
    "roles": [_NAME, ("Created At", "date", lambda o: o["metadata"].get("creationTimestamp"))],
    "clusterrolebindings": [_NAME, ("Role", "", _role_ref), _AGE],
    "rolebindings": [_NAME, ("Role", "", _role_ref), _AGE],
}


def to_table(resource_name: str, objects: list[dict[str, Any]], resource_version: str) -> dict[str, Any]:
    columns = COLUMNS.get(resource_name, [_NAME, _AGE])
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": title, "type": "integer" if title in ("Data", "Secrets") else "string", "format": fmt,
             "description": title, "priority": 0}
            for title, fmt, _ in columns
        ],
        "rows": [
            {
                "cells": [cell(obj) for _, _, cell in columns],
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": obj["metadata"]},
            }
            for obj in objects
        ],
    }

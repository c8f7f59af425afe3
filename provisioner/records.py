"""What the cluster, RBAC, kubeconfig and identity steps keep in the state, typed.

The JSON on disk keeps the shape of the first versions (a state file written then still loads and
`lab down` still works from it): `to_dict` writes exactly those keys, `from_dict` tolerates
missing ones. The providers keep their own free-form section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .cluster.options import ExtraOption


@dataclass(frozen=True)
class IssuerRecord:
    """The issuer the provider step set up: what the cluster was told to trust."""

    where: ClassVar[tuple[str, ...]] = ("issuer",)
    url: str
    client_id: str

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "IssuerRecord":
        return cls(raw["url"], raw["client_id"])

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "client_id": self.client_id}


@dataclass(frozen=True)
class ClusterRecord:
    """The profile the lab configured, its options before the lab (to restore) and after."""

    where: ClassVar[tuple[str, ...]] = ("sections", "cluster")
    profile: str
    previous_options: tuple[ExtraOption, ...] = ()
    options: tuple[ExtraOption, ...] | None = None  # None until the options are in place
    ca_file: str | None = None  # the issuer's CA on the host, when the lab placed one
    #: "flags" (the --oidc-* flags) or "config" (an entry in the profile's AuthenticationConfiguration).
    mode: str = "flags"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ClusterRecord":
        options = raw.get("options")
        return cls(
            profile=raw["profile"],
            previous_options=tuple(ExtraOption.from_json(o) for o in raw.get("previous_options", [])),
            options=None if options is None else tuple(ExtraOption.from_json(o) for o in options),
            ca_file=raw.get("ca_file"),
            mode=raw.get("mode", "flags"),
        )

    def to_dict(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"profile": self.profile, "previous_options": [o.to_json() for o in self.previous_options]}
        if self.options is not None:
            raw["options"] = [o.to_json() for o in self.options]
        if self.ca_file is not None:
            raw["ca_file"] = self.ca_file
        if self.mode != "flags":
            raw["mode"] = self.mode
        return raw


@dataclass(frozen=True)
class ManifestsRecord:
    """The RBAC objects the lab applied, as `Kind/name` or `Kind/namespace/name`."""

    where: ClassVar[tuple[str, ...]] = ("sections", "manifests")
    objects: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ManifestsRecord":
        return cls(tuple(raw.get("objects", [])))

    def to_dict(self) -> dict[str, Any]:
        return {"objects": list(self.objects)}


@dataclass(frozen=True)
class KubeconfigRecord:
    """The kubeconfig file the lab wrote into, and the contexts (and same-named users) it added."""

    where: ClassVar[tuple[str, ...]] = ("sections", "kubeconfig")
    path: str | None = None
    contexts: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "KubeconfigRecord":
        return cls(raw.get("path"), tuple(raw.get("contexts", [])))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "contexts": list(self.contexts)}

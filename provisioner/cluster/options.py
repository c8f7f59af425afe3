"""The kube-apiserver options the lab owns, as minikube keeps them (pure: config in, options out).

`--extra-config` on a later `minikube start` replaces the profile's whole list (DESIGN.md section
4), so the lab always computes the complete list: the profile's own options kept in order, the
lab's managed ones replaced, and on `lab down` the managed ones put back as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..oidc.settings import OidcSettings

#: Options the lab owns: the whole OIDC authenticator (flags or the structured configuration file),
#: and authorization-mode (RBAC must be on).
MANAGED_PREFIX = "oidc-"
AUTHENTICATION_CONFIG = "authentication-config"
AUTHORIZATION_MODE = "authorization-mode"
#: A bare `RBAC` breaks `minikube start`; the node authorizer must stay.
RBAC_MODE = "Node,RBAC"


@dataclass(frozen=True, order=True)
class ExtraOption:
    """One `--extra-config=component.key=value`, as minikube stores it in config.json."""

    component: str
    key: str
    value: str

    @classmethod
    def from_json(cls, raw: dict[str, str]) -> "ExtraOption":
        return cls(raw["Component"], raw["Key"], raw["Value"])

    def to_json(self) -> dict[str, str]:
        return {"Component": self.component, "Key": self.key, "Value": self.value}

    @property
    def flag(self) -> str:
        return f"--extra-config={self.component}.{self.key}={self.value}"

    @property
    def managed(self) -> bool:
        return self.component == "apiserver" and (self.key.startswith(MANAGED_PREFIX)
                                                 or self.key in (AUTHORIZATION_MODE, AUTHENTICATION_CONFIG))

    def __str__(self) -> str:
        return f"{self.component}.{self.key}={self.value}"


def oidc_options(settings: OidcSettings, ca_node_path: str | None) -> list[ExtraOption]:
    """The apiserver options that make it trust `settings` (pure: config in, options out)."""
    wanted = {
        "oidc-issuer-url": settings.issuer_url,
        "oidc-client-id": settings.client_id,
        "oidc-username-claim": settings.username_claim,
        "oidc-username-prefix": settings.username_prefix,
        "oidc-groups-claim": settings.groups_claim,
        "oidc-groups-prefix": settings.groups_prefix if settings.groups_claim else None,
        "oidc-signing-algs": ",".join(settings.signing_algs) if settings.signing_algs != ("RS256",) else None,
        "oidc-ca-file": ca_node_path,
        "oidc-required-claim": ",".join(f"{k}={v}" for k, v in settings.required_claims) or None,
        AUTHORIZATION_MODE: RBAC_MODE,
    }
    return [ExtraOption("apiserver", key, value) for key, value in wanted.items() if value is not None]


def merge_options(current: list[ExtraOption], ours: list[ExtraOption]) -> list[ExtraOption]:
    """The profile's options with the lab's managed ones replaced by `ours`, others kept in order."""
    return [option for option in current if not option.managed] + ours


def restored_options(current: list[ExtraOption], previous: list[ExtraOption]) -> list[ExtraOption]:
    """Undo the lab: managed options go back to what they were, options added since are kept."""
    return [option for option in current if not option.managed] + [option for option in previous if option.managed]


def structured_options(node_file: str) -> list[ExtraOption]:
    """The apiserver options of the structured mode: the file, and RBAC (no --oidc-* flag)."""
    return [ExtraOption("apiserver", AUTHENTICATION_CONFIG, node_file), ExtraOption("apiserver", AUTHORIZATION_MODE, RBAC_MODE)]

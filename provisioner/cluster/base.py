"""The interface a cluster driver implements: make the kube-apiserver trust an issuer, and undo it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from ..config import LabConfig
from ..oidc.settings import OidcSettings
from ..paths import LabPaths
from ..progress import Reporter
from ..state import LabState


class Cluster(ABC):

    def __init__(self, lab: LabConfig, paths: LabPaths, ui: Reporter) -> None:
        self.lab = lab
        self.paths = paths
        self.ui = ui

    @abstractmethod
    def preflight(self) -> None:
        """Fail early with one sentence if the cluster tool is missing or the profile does not exist."""

    @abstractmethod
    def plan_oidc(self, settings: OidcSettings, state: LabState) -> list[str]:
        """What `ensure_oidc` would change; changes nothing."""

    @abstractmethod
    def ensure_oidc(self, settings: OidcSettings, state: LabState) -> bool:
        """Configure the apiserver; record what it replaced. Returns True if it had to restart."""

    def authentication_mode(self) -> str:
        """`flags` (--oidc-*) or `config` (a structured AuthenticationConfiguration entry)."""
        return "flags"

    def preflight_mode(self, state: LabState) -> None:
        """Checks only the structured mode needs (the profile's other authenticators, its version)."""

    @abstractmethod
    def restore(self, state: LabState) -> None:
        """Put back the apiserver settings recorded before the lab changed them."""

    @abstractmethod
    def profile_exists(self) -> bool:
        """Whether the cluster the lab configures still exists."""

    @abstractmethod
    def is_running(self) -> bool:
        """Whether its apiserver is up."""

    @abstractmethod
    def ensure_running(self) -> None:
        """Start it with the settings it has, if it is stopped."""

    def node_host_address(self) -> str | None:
        """The one address of this machine the cluster's node reaches it by, if known: a service
        for the node (the built-in issuer) listens there only. None: listen on every address."""
        return None

    def repair_context(self) -> bool:
        """Write the cluster's own kubeconfig entries back if its tool says they are missing."""
        return False

    @abstractmethod
    def admin_api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` acting as the cluster's admin."""

    @property
    @abstractmethod
    def kubeconfig_cluster(self) -> str:
        """The name of the cluster entry, in the user's kubeconfig, that lab contexts point at."""

    @abstractmethod
    def status(self, state: LabState) -> dict[str, Any]:
        """Cluster facts for `lab status`."""

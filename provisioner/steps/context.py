"""Everything a step works with during one `lab` command, derived once.

The lab's config, paths, reporter, state and secrets; the provider and the cluster driver; the
issuer and the OIDC settings the apiserver is given; and the resources several steps share,
opened on first use and closed with the context: the cluster's admin client (RBAC and verify)
and the RBAC applier. The kubeconfig file the lab writes to is derived from the state here only.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..cluster import Cluster, cluster_for
from ..config import LabConfig
from ..handles import context_name
from ..kubeconfig import Kubeconfig
from ..manifests import Manifests
from ..oidc.settings import OidcSettings
from ..paths import LabPaths
from ..progress import Reporter
from ..providers import Issuer, Provider, provider_class
from ..records import ClusterRecord, IssuerRecord, KubeconfigRecord
from ..secrets import LabSecrets
from ..state import LabState

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .verify import Verdict


class LabContext:
    def __init__(self, lab: LabConfig, ui: Reporter, paths: LabPaths | None = None,
                 state: LabState | None = None, keep_cluster: bool = False) -> None:
        self.lab = lab
        self.ui = ui
        self.paths = paths or LabPaths.for_lab(lab.name)
        self.state = state if state is not None else LabState.load(self.paths, lab.name)
        self.keep_cluster = keep_cluster  # `lab down --keep-cluster`: leave the apiserver's flags
        self._issuer: Issuer | None = None
        #: Set by `lab plan` when the provider step would change something: the issuer may then
        #: differ from the recorded one, so later steps can only say what they would do.
        self.issuer_pending = False
        self._api_client: Any = None
        self.verdicts: list[Verdict] = []  # the verify step's answers, for the CLI's closing lines
        self.head_starts: dict[str, Any] = {}  # what steps began early (Step.head_start), by step name
        self.background: list[Executor] = []  # their workers, shut down with the context

    def __enter__(self) -> "LabContext":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for pool in self.background:
            pool.shutdown(wait=False, cancel_futures=True)
        self.background.clear()
        if self._api_client is not None:
            self._api_client.close()
            self._api_client = None

    # the parts ---------------------------------------------------------------------------------
    @cached_property
    def secrets(self) -> LabSecrets:
        return LabSecrets.load(self.paths)

    @cached_property
    def provider(self) -> Provider:
        return provider_class(self.lab.provider)(self.lab, self.paths, self.ui)

    @cached_property
    def cluster(self) -> Cluster:
        return cluster_for(self.lab, self.paths, self.ui)

    @property
    def api_client(self) -> Any:
        """The cluster's admin client, opened once (after the cluster step, which may restart it)."""
        if self._api_client is None:
            self._api_client = self.cluster.admin_api_client()
        return self._api_client

    @cached_property
    def manifests(self) -> Manifests:
        return Manifests(self.lab, lambda: self.api_client, self.ui)

    # the issuer and what the apiserver is told -------------------------------------------------
    @property
    def issuer(self) -> Issuer | None:
        """The issuer the cluster trusts: set by the provider step, else as the state recorded it."""
        if self.issuer_pending:
            return None
        if self._issuer is None:
            recorded = self.state.get(IssuerRecord)
            if recorded is not None:
                self._issuer = Issuer(recorded.url, recorded.client_id, self._recorded_ca())
        return self._issuer

    @issuer.setter
    def issuer(self, issuer: Issuer) -> None:
        self._issuer, self.issuer_pending = issuer, False

    def _recorded_ca(self) -> bytes | None:
        cluster = self.state.get(ClusterRecord)
        path = Path(cluster.ca_file) if cluster and cluster.ca_file else None
        return path.read_bytes() if path and path.exists() else None

    @property
    def settings(self) -> OidcSettings | None:
        """What the apiserver's OIDC authenticator is (or will be) given, once the issuer is known."""
        return None if self.issuer is None else self.settings_for(self.issuer)

    def settings_for(self, issuer: Issuer) -> OidcSettings:
        oidc = self.lab.oidc
        return OidcSettings(
            issuer_url=issuer.url,
            client_id=issuer.client_id,
            username_claim=oidc.username_claim,
            username_prefix=oidc.username_prefix,
            groups_claim=oidc.groups_claim,
            groups_prefix=oidc.groups_prefix,
            signing_algs=tuple(oidc.signing_algs),
            required_claims=tuple(sorted(oidc.required_claims.items())),
            ca_pem=issuer.ca_pem,
            username_expression=oidc.username_expression,
            groups_expression=oidc.groups_expression,
            claim_validation_rules=tuple((r.claim, r.required_value, r.expression, r.message)
                                         for r in oidc.claim_validation_rules),
            user_validation_rules=tuple((r.expression, r.message) for r in oidc.user_validation_rules),
            audiences=tuple(oidc.audiences),
        )

    # the kubeconfig ------------------------------------------------------------------------------
    @property
    def kubeconfig_path(self) -> Path | None:
        """The file the lab's contexts are in (None: the default, `$KUBECONFIG` or ~/.kube/config)."""
        recorded = self.state.get(KubeconfigRecord)
        return Path(recorded.path) if recorded and recorded.path else None

    def open_kubeconfig(self) -> Kubeconfig:
        """The kubeconfig as it is now on disk (minikube rewrites it when it restarts)."""
        return Kubeconfig(self.kubeconfig_path)

    def context_name(self, handle: str) -> str:
        """The kubeconfig context (and user) of one lab user."""
        return context_name(self.lab.name, handle)

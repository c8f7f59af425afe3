"""`lab up`, `lab plan`, `lab down` and `lab status`: the steps of a lab, in order, with state between.

    1. provider    the IdP application, directory and users           Provider.ensure / teardown
    2. cluster     the apiserver's OIDC flags (and CA file)           Cluster.ensure_oidc / restore
    3. manifests   RBAC rendered from templates/                      Manifests.apply / teardown
    4. kubeconfig  a context per user running `lab token`             here
    5. verify      a SelfSubjectReview with each user's token         here

Each step is idempotent and saves state as it goes; `down` runs the teardowns in reverse, driven by
the state alone (the config used is kept in it), so it works after a partial `up` and without
lab.yaml. The orchestrator only sequences: what a step does lives in its own module.
"""

from __future__ import annotations

import shutil
import sys
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from .cluster import Cluster, OidcSettings, cluster_for
from .config import LabConfig, UserSpec, parse_config
from .errors import ClusterError, LabError, StateError
from .kubeconfig import Kubeconfig, exec_user
from .manifests import Manifests, rbac_for, render
from .oidc.rules import refusal_reasons
from .paths import LabPaths, labs_root
from .progress import Reporter
from .providers import Issuer, Provider, provider_class
from .secrets import LabSecrets
from .state import LabLock, LabState

VERIFY_PATIENCE_SECONDS = 45  # the apiserver's OIDC authenticator retries discovery every 10 s


class Orchestrator:
    def __init__(self, lab: LabConfig, ui: Reporter, paths: LabPaths | None = None) -> None:
        self.lab = lab
        self.ui = ui
        self.paths = paths or LabPaths.for_lab(lab.name)

    @cached_property
    def provider(self) -> Provider:
        return provider_class(self.lab.provider)(self.lab, self.paths, self.ui)

    @cached_property
    def cluster(self) -> Cluster:
        return cluster_for(self.lab, self.paths, self.ui)

    def _manifests(self) -> Manifests:
        return Manifests(self.lab, self.cluster.admin_api_client, self.ui)

    # derived settings --------------------------------------------------------------------------
    def oidc_settings(self, issuer: Issuer) -> OidcSettings:
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
        )

    def usernames(self, settings: OidcSettings) -> dict[str, str]:
        """Each user's Kubernetes username, as the apiserver will derive it from the token."""
        return {
            user.handle: settings.username_for(self.provider.claim_value(user, settings.username_claim))
            for user in self.lab.users
        }

    def rbac_objects(self, settings: OidcSettings) -> list[dict[str, Any]]:
        return render(self.lab, rbac_for(self.lab, self.usernames(settings), lambda g: settings.group_for(self.provider.group_claim_value(g))))

    def context_name(self, handle: str) -> str:
        return f"{self.lab.name}-{handle}"

    # state ---------------------------------------------------------------------------------------
    def _open_state(self) -> LabState:
        state = LabState.load(self.paths, self.lab.name)
        recorded = state.document.get("provider_kind")
        if recorded and recorded != self.lab.provider and not state.empty:
            raise StateError(
                f"lab {self.lab.name!r} was set up with provider {recorded!r}, but lab.yaml now says {self.lab.provider!r}",
                "run `lab down` first, then `lab up` with the new provider",
            )
        return state

    def _remember_config(self, state: LabState) -> None:
        state.document["provider_kind"] = self.lab.provider
        state.document["config"] = self.lab.model_dump(mode="json", exclude={"users": {"__all__": {"password"}}})
        state.save()

    # up ------------------------------------------------------------------------------------------
    def _check_kubeconfig_names(self, state: LabState) -> None:
        """A context or user named like a lab context that the lab did not make is someone else's."""
        record = state.section("kubeconfig")
        kubeconfig = Kubeconfig(Path(record["path"]) if record.get("path") else None)
        ours = set(record.get("contexts", []))
        for user in self.lab.users:
            name = self.context_name(user.handle)
            for kind in ("contexts", "users"):
                if name not in ours and kubeconfig.get(kind, name) is not None:
                    raise LabError(f"the kubeconfig {kubeconfig.path} already has a {kind[:-1]} named {name!r} "
                                   "that this lab did not create",
                                   "rename or remove that entry, or give the lab another name in lab.yaml")

    def preflight(self, state: LabState | None = None) -> None:
        with self.ui.step("Preflight checks") as step:
            if state is not None:
                self._check_kubeconfig_names(state)
            # Render once with a provisional issuer so a template error stops us before any change.
            self.rbac_objects(self.oidc_settings(Issuer("https://issuer.invalid", "client")))
            self.cluster.preflight()
            self.provider.preflight()
            step.summary = f"minikube profile {self.lab.cluster.profile!r}, provider {self.lab.provider}"

    def up(self) -> dict[str, Any]:
        fresh = not self.paths.root.exists()
        with LabLock(self.paths, self.lab.name):
            state = self._open_state()
            try:
                self.preflight(state)
            except LabError:
                if fresh:  # nothing was made: leave no empty lab folder behind either
                    shutil.rmtree(self.paths.root, ignore_errors=True)
                raise
            secrets = LabSecrets.load(self.paths)
            self._remember_config(state)

            with self.ui.step(f"Identity provider ({self.lab.provider})") as step:
                issuer = self.provider.ensure(state, secrets)
                state.document["issuer"] = {"url": issuer.url, "client_id": issuer.client_id}
                state.save()
                step.summary = f"issuer {issuer.url}, client {issuer.client_id}, {len(self.lab.users)} user(s)"
            settings = self.oidc_settings(issuer)

            with self.ui.step(f"Cluster (minikube profile {self.lab.cluster.profile!r})") as step:
                restarted = self.cluster.ensure_oidc(settings, state)
                step.summary = "restarted with the OIDC flags" if restarted else "OIDC flags already in place"

            with self.ui.step("RBAC") as step:
                manifests = self._manifests()
                try:
                    changed = manifests.apply(self.rbac_objects(settings), state)
                finally:
                    manifests.close()
                step.summary = f"{changed} change(s)" if changed else "up to date"

            with self.ui.step("kubeconfig") as step:
                path, changed = self._write_kubeconfig(state, secrets)
                step.summary = f"{len(self.lab.users)} context(s) in {path}" + ("" if changed else " (unchanged)")

            with self.ui.step("Verify") as step:
                results = self.verify(settings)
                accepted = sum(1 for r in results if r["accepted"])
                step.summary = f"{accepted} of {len(results)} user(s) accepted by the cluster"
            for result in results:
                if result["accepted"]:
                    groups = ", ".join(result["groups"])
                    self.ui.info(f"{result['context']}: the cluster sees {result['username']} (groups: {groups})")
                else:
                    self.ui.warn(f"{result['context']}: refused by the cluster: {result['reason']}")
            unexpected = [r for r in results if not r["accepted"] and not r["expected"]]
            if unexpected:
                first = unexpected[0]
                raise ClusterError(f"the cluster refused the token of {first['context']}: {first['reason']}",
                                   "run `lab doctor` for the details; `minikube logs` shows the apiserver's reason")
            return {"issuer": issuer.url, "client_id": issuer.client_id, "users": results}

    def _write_kubeconfig(self, state: LabState, secrets: LabSecrets) -> tuple[Path, bool]:
        record = state.section("kubeconfig")
        client = self.provider.token_client(state, secrets)
        previous = secrets.client
        secrets.set_client(client)
        if previous is not None and (previous.issuer, previous.client_id) != (client.issuer, client.client_id):
            shutil.rmtree(self.paths.tokens, ignore_errors=True)  # tokens of another issuer are useless
        for user in self.lab.users:
            secrets.set_login(user.handle, self.provider.login_name(user))

        kubeconfig = Kubeconfig(Path(record["path"]) if record.get("path") else None)
        command, prefix = plugin_command()
        # kubectl may run without this shell's OIDC_LAB_HOME or XDG_STATE_HOME: name the folder then.
        root = labs_root()
        env = {} if root == Path.home() / ".local" / "state" / "oidc-lab" else {"OIDC_LAB_HOME": str(root)}
        changed = False
        wanted = {self.context_name(user.handle): user.handle for user in self.lab.users}
        for name in record.get("contexts", []):
            if name not in wanted:
                changed |= kubeconfig.remove("contexts", name)
                changed |= kubeconfig.remove("users", name)
        for name, handle in wanted.items():
            args = prefix + ["token", "--lab", self.lab.name, "--user", handle]
            changed |= kubeconfig.put_user(name, exec_user(command, args, env))
            namespace = self.lab.namespace_for(self.lab.user(handle)) or "default"
            changed |= kubeconfig.put_context(name, cluster=self.cluster.kubeconfig_cluster, user=name, namespace=namespace)
        for handle in set(secrets.document.get("users", {})) - {u.handle for u in self.lab.users}:
            secrets.forget_user(handle)
            for leftover in self.paths.tokens.glob(f"{handle}.*"):
                leftover.unlink()
        record.update(path=str(kubeconfig.path), contexts=sorted(wanted))
        state.save()
        if changed:
            kubeconfig.save()
        return kubeconfig.path, changed

    # verify --------------------------------------------------------------------------------------
    def verify(self, settings: OidcSettings) -> list[dict[str, Any]]:
        """Ask the cluster who each user is, with the token kubectl would send."""
        server = self._cluster_endpoint()
        results = []
        for user in self.lab.users:
            context = self.context_name(user.handle)
            self.ui.update(f"asking the cluster who {context} is")
            token = self.token_for(user)
            reasons = refusal_reasons(token, settings)
            answer = self._self_subject_review(server, token, patient=not reasons)
            result = {"context": context, "user": user.handle, "accepted": answer is not None,
                      "expected": bool(reasons), "username": None, "groups": [], "reason": None}
            if answer is not None:
                result.update(username=answer.get("username"), groups=answer.get("groups", []))
            else:
                result["reason"] = "; ".join(reasons) if reasons else "401 Unauthorized (see `minikube logs` for the apiserver's reason)"
            results.append(result)
        return results

    def token_for(self, user: UserSpec) -> str:
        """The id_token kubectl would send for `user`; a refused login is explained by the provider."""
        from .credential import fetch_token
        from .credential.flow import LoginRefused

        try:
            return fetch_token(self.lab.name, user.handle, paths=self.paths)
        except LoginRefused as refused:
            explained = self.provider.explain_login_refusal(refused.error, refused.description,
                                                            self.provider.login_name(user))
            raise (explained or refused) from None

    def ask_cluster(self, token: str) -> dict[str, Any] | None:
        """Who the cluster says the bearer of `token` is (None if it refuses the token)."""
        return self._self_subject_review(self._cluster_endpoint(), token, patient=False)

    def _cluster_endpoint(self) -> tuple[str, Any]:
        """The apiserver URL and the TLS verification to use, as the profile's kubeconfig entry says
        (a file or inline `certificate-authority-data`: the kubernetes client resolves both)."""
        client = self.cluster.admin_api_client()
        try:
            configuration = client.configuration
            verify: Any = (configuration.ssl_ca_cert or True) if configuration.verify_ssl else False
            return configuration.host, verify
        finally:
            client.close()

    def _self_subject_review(self, endpoint: tuple[str, Any], token: str, patient: bool) -> dict[str, Any] | None:
        import requests

        server, verify = endpoint
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        url = server.rstrip("/") + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        deadline = time.monotonic() + (VERIFY_PATIENCE_SECONDS if patient else 0)
        while True:
            try:
                reply = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                                      verify=verify, timeout=10)
            except requests.RequestException as exc:
                raise ClusterError(f"cannot reach the apiserver at {server} ({type(exc).__name__})",
                                   f"check `minikube status -p {self.lab.cluster.profile}`") from None
            if reply.status_code in (200, 201):
                return reply.json().get("status", {}).get("userInfo", {})
            if reply.status_code != 401 or time.monotonic() >= deadline:
                if reply.status_code not in (401, 403):
                    raise ClusterError(f"the apiserver answered {reply.status_code} to a SelfSubjectReview",
                                       "see `minikube logs` for the apiserver's reason")
                return None
            # The OIDC authenticator starts only after discovery succeeds; give it its retry period.
            self.ui.update("waiting for the apiserver's OIDC authenticator to initialise")
            time.sleep(1)

    # plan ----------------------------------------------------------------------------------------
    def plan(self) -> list[tuple[str, str]]:
        state = self._open_state()
        self.preflight(state)
        secrets = LabSecrets.load(self.paths)
        changes = [("provider", line) for line in self.provider.plan(state, secrets)]
        recorded = state.document.get("issuer")
        if recorded and not changes:
            issuer = Issuer(recorded["url"], recorded["client_id"], self._recorded_ca(state))
            settings = self.oidc_settings(issuer)
            changes += [("cluster", line) for line in self.cluster.plan_oidc(settings, state)]
            if self.cluster.is_running():
                manifests = self._manifests()
                try:
                    changes += [("rbac", line) for line in manifests.plan(self.rbac_objects(settings))]
                finally:
                    manifests.close()
        else:
            changes.append(("cluster", f"restart minikube profile {self.lab.cluster.profile!r} with the OIDC flags "
                                       "for the issuer, if they differ"))
            changes.append(("rbac", "apply the lab's ClusterRole and ClusterRoleBindings"))
        kubeconfig = Kubeconfig(Path(state.section("kubeconfig")["path"]) if state.section("kubeconfig").get("path") else None)
        for user in self.lab.users:
            if kubeconfig.get("contexts", self.context_name(user.handle)) is None:
                changes.append(("kubeconfig", f"add context {self.context_name(user.handle)} to {kubeconfig.path}"))
        return changes

    def _recorded_ca(self, state: LabState) -> bytes | None:
        path = state.section("cluster").get("ca_file")
        return Path(path).read_bytes() if path and Path(path).exists() else None

    # down ----------------------------------------------------------------------------------------
    def down(self, keep_cluster: bool = False) -> bool:
        """Undo the lab. Returns False if there was nothing to do."""
        with LabLock(self.paths, self.lab.name):
            state = LabState.load(self.paths, self.lab.name)
            if not state.exists or (state.empty and not state.document.get("issuer")):
                state.remove()
                return False
            secrets = LabSecrets.load(self.paths)

            with self.ui.step("kubeconfig") as step:
                step.summary = f"removed {self._remove_kubeconfig(state)} context(s)"

            cluster_record = state.section("cluster")
            if state.section("manifests"):
                with self.ui.step("RBAC") as step:
                    step.summary = self._teardown_manifests(state, restore_first=not keep_cluster and bool(cluster_record))

            if not keep_cluster and state.section("cluster"):
                with self.ui.step(f"Cluster (minikube profile {self.lab.cluster.profile!r})") as step:
                    self.cluster.restore(state)
                    step.summary = "previous apiserver flags restored"
            elif keep_cluster:
                state.drop("cluster")
                state.save()

            with self.ui.step(f"Identity provider ({self.lab.provider})") as step:
                self.provider.teardown(state, secrets)
                step.summary = "removed what the lab created"

            state.remove()
            return True

    def _remove_kubeconfig(self, state: LabState) -> int:
        record = state.section("kubeconfig")
        if not record:
            return 0
        kubeconfig = Kubeconfig(Path(record["path"]))
        removed = 0
        for name in record.get("contexts", []):
            removed += kubeconfig.remove("contexts", name)
            kubeconfig.remove("users", name)
        if removed:
            kubeconfig.save()
        state.drop("kubeconfig")
        state.save()
        return removed

    def _teardown_manifests(self, state: LabState, restore_first: bool) -> str:
        if self.cluster.profile_exists() is False:
            state.drop("manifests")
            state.save()
            return "the cluster profile no longer exists"
        if not self.cluster.is_running():
            if restore_first:
                # Deleting RBAC needs a running apiserver; starting it with the restored flags saves a restart.
                self.cluster.restore(state)
            else:
                self.cluster.ensure_running()
        manifests = self._manifests()
        try:
            count = manifests.teardown(state)
        finally:
            manifests.close()
        return f"deleted {count} object(s)"

    # status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        state = LabState.load(self.paths, self.lab.name)
        if not state.exists:
            return {"lab": self.lab.name, "exists": False}
        kubeconfig = state.section("kubeconfig")
        report: dict[str, Any] = {
            "lab": self.lab.name,
            "exists": True,
            "provider": self.lab.provider,
            "issuer_url": (state.document.get("issuer") or {}).get("url"),
            "client_id": (state.document.get("issuer") or {}).get("client_id"),
            "kubeconfig": kubeconfig.get("path"),
            "users": [
                {"user": u.handle, "email": u.email, "role": u.role, "groups": list(u.groups),
                 "context": self.context_name(u.handle) if self.context_name(u.handle) in kubeconfig.get("contexts", []) else None}
                for u in self.lab.users
            ],
            "state_dir": str(self.paths.root),
        }
        try:
            report["identity_provider"] = self.provider.status(state)
        except LabError as exc:
            report["identity_provider"] = {"error": exc.message}
        try:
            report["cluster"] = self.cluster.status(state)
        except LabError as exc:
            report["cluster"] = {"error": exc.message}
        return report


def plugin_command() -> tuple[str, list[str]]:
    """How kubectl should start `lab token`: this installation's `lab`, by absolute path."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "lab" and argv0.exists():
        return str(argv0.resolve()), []
    beside = Path(sys.executable).parent / "lab"
    if beside.exists():
        return str(beside), []
    found = shutil.which("lab")
    if found:
        return str(Path(found).resolve()), []
    return sys.executable, ["-m", "provisioner"]


def lab_from_state(name: str, paths: LabPaths | None = None) -> LabConfig | None:
    """The config a lab was made with, as recorded in its state (for `down` and `status` without lab.yaml)."""
    paths = paths or LabPaths.for_lab(name)
    state = LabState.load(paths, name)
    document = state.document.get("config")
    return parse_config(document, str(paths.state)) if document else None

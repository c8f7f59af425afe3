"""minikube as the lab's cluster: the kube-apiserver's OIDC flags through `--extra-config`.

Facts this module is built on (DESIGN.md section 4):
- options persist in the profile's config.json (`KubernetesConfig.ExtraOptions`), and passing any
  `--extra-config` on a later start *replaces the whole list*, so every start passes every option
  the profile should keep;
- the apiserver reads flags and CA files only when it starts, so a change means stop + start,
  which costs minutes: skip it when the profile already has exactly the wanted options;
- a CA file under `$MINIKUBE_HOME/files/var/lib/minikube/certs/` is copied into the node on start.
Every minikube call goes through `runner.MinikubeRunner` (an argument list, never a shell string).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ClusterError
from ..fsutil import write_private
from ..records import ClusterRecord
from ..state import LabState
from .base import Cluster, OidcSettings
from .host_network import is_local_address, kic_gateway
from .modes import StructuredAuthentication, kubernetes_version, refuse_foreign_flags, resolve_mode
from .options import ExtraOption, merge_options, oidc_options, restored_options
from .profile_files import minikube_home
from .runner import MinikubeRunner

__all__ = ["ExtraOption", "Minikube", "merge_options", "minikube_home", "oidc_options", "restored_options"]

NODE_CERTS = "/var/lib/minikube/certs"


class Minikube(Cluster):
    def __init__(self, lab, paths, ui) -> None:
        super().__init__(lab, paths, ui)
        self.profile = lab.cluster.profile
        self._run = MinikubeRunner(self.profile)

    # facts -------------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return minikube_home()

    @property
    def kubeconfig_cluster(self) -> str:
        return self.profile

    def _profiles(self) -> dict[str, dict[str, Any]]:
        out = self._run("profile", "list", "-o", "json", ok_codes=(0, 14, 85, 89)).stdout
        try:
            listing = json.loads(out or "{}")
        except ValueError:
            listing = {}
        profiles = {}
        for validity in ("valid", "invalid"):
            for entry in listing.get(validity) or []:
                profiles[entry.get("Name")] = {"valid": validity == "valid", **entry}
        return profiles

    def _profile(self) -> dict[str, Any] | None:
        return self._profiles().get(self.profile)

    def _existing_profile(self) -> dict[str, Any]:
        profile = self._profile()
        if profile is None:
            raise ClusterError(f"minikube profile {self.profile!r} does not exist",
                               f"create it with `minikube start -p {self.profile}`, or set cluster.profile in lab.yaml")
        return profile

    def current_options(self) -> list[ExtraOption]:
        profile = self._existing_profile()
        raw = ((profile.get("Config") or {}).get("KubernetesConfig") or {}).get("ExtraOptions") or []
        return [ExtraOption.from_json(item) for item in raw]

    def profile_config(self) -> dict[str, Any]:
        """The profile's whole ClusterConfig, as `minikube profile list -o json` shows it."""
        return self._existing_profile().get("Config") or {}

    def profile_exists(self) -> bool:
        return self._profile() is not None

    def _status(self) -> dict[str, Any]:
        """`minikube status -o json` of the profile's first node (empty when minikube cannot say)."""
        out = self._run("status", "-p", self.profile, "-o", "json", ok_codes=tuple(range(0, 256))).stdout
        try:
            status = json.loads(out)
        except ValueError:
            return {}
        if isinstance(status, list):  # multi-node profiles answer a list
            status = status[0] if status else {}
        return status if isinstance(status, dict) else {}

    def is_running(self) -> bool:
        status = self._status()
        return status.get("APIServer") == "Running" and status.get("Host") == "Running"

    def repair_context(self) -> bool:
        """Write the profile's own kubeconfig entries back when minikube says they are missing.

        A start stopped after the apiserver came up but before minikube wrote the kubeconfig (or a
        kubeconfig edited since) leaves a running profile that `minikube status` calls
        "Misconfigured"; `minikube update-context` exists for exactly that. Returns True if it ran.
        """
        status = self._status()
        if status.get("Host") != "Running" or status.get("APIServer") != "Running":
            return False
        if status.get("Kubeconfig") == "Configured":
            return False
        self.ui.update(f"repairing the kubeconfig context of minikube profile {self.profile!r} (`minikube update-context`)")
        self._run("update-context", "-p", self.profile, timeout=60)
        return True

    def ensure_usable(self) -> None:
        """Leave the profile as a user expects it after `lab down`: running, its own context working."""
        if not self.is_running():
            self.ensure_running()
        elif self.repair_context():
            self.wait_until_ready()

    def node_host_address(self) -> str | None:
        """The gateway of the profile's docker/podman network (`host.minikube.internal` in the node),
        read from its config.json, when this machine has that address (not with rootless docker)."""
        try:
            config = json.loads((self.home / "profiles" / self.profile / "config.json").read_text())
        except (OSError, ValueError):
            return None
        gateway = kic_gateway(config) if isinstance(config, dict) else None
        return gateway if gateway and is_local_address(gateway) else None

    def ca_paths(self) -> tuple[Path, str]:
        name = f"oidc-lab-{self.lab.name}.crt"
        return self.home / "files" / NODE_CERTS.lstrip("/") / name, f"{NODE_CERTS}/{name}"

    # the step ----------------------------------------------------------------------------------
    def preflight(self) -> None:
        self._run("version", "--short", ok_codes=(0,), timeout=60)
        profile = self._existing_profile()
        if not profile["valid"]:
            raise ClusterError(f"minikube profile {self.profile!r} is invalid",
                               f"repair or recreate it (`minikube delete -p {self.profile}` then `minikube start -p {self.profile}`)")
        structured = [o for o in self.current_options() if o.component == "apiserver" and o.key == "authentication-config"]
        if structured and self.authentication_mode() == "flags":
            # The structured AuthenticationConfiguration and any --oidc-* flag cannot be combined:
            # the apiserver would refuse to start after a restart that takes minutes.
            raise ClusterError(f"minikube profile {self.profile!r} uses apiserver.authentication-config, "
                               "which kube-apiserver does not allow together with the --oidc-* flags the lab sets",
                               f"remove that option (`minikube start -p {self.profile}` with the other --extra-config "
                               "values), set cluster.authentication: config, or use another profile")

    @cached_property
    def structured(self) -> StructuredAuthentication:
        return StructuredAuthentication(self)

    @cached_property
    def _mode(self) -> str:
        return resolve_mode(self.lab.cluster.authentication, kubernetes_version(self._existing_profile()))

    def authentication_mode(self) -> str:
        """`config` (the structured AuthenticationConfiguration) or `flags` (--oidc-*), for this profile."""
        return self._mode

    def preflight_mode(self, state: LabState) -> None:
        if self.authentication_mode() == "config":
            self.structured.preflight(state)

    def _desired(self, settings: OidcSettings) -> tuple[list[ExtraOption], list[ExtraOption], bool]:
        current = self.current_options()
        host_ca, node_ca = self.ca_paths()
        wanted = merge_options(current, oidc_options(settings, node_ca if settings.ca_pem else None))
        ca_stale = bool(settings.ca_pem) and (not host_ca.exists() or host_ca.read_bytes() != settings.ca_pem)
        return current, wanted, ca_stale

    def plan_oidc(self, settings: OidcSettings, state: LabState) -> list[str]:
        if self.authentication_mode() == "config":
            return self.structured.plan(settings, state)
        current, wanted, ca_stale = self._desired(settings)
        refuse_foreign_flags(self.profile, current, state.get(ClusterRecord), settings)
        changes = []
        if ca_stale:
            changes.append(f"place the issuer's CA at {self.ca_paths()[0]} (copied into the node on start)")
        removed = [str(o) for o in current if o not in wanted]
        added = [str(o) for o in wanted if o not in current]
        if added or removed:
            changes.append(f"restart minikube profile {self.profile!r} with " + ", ".join(added)
                           + (f" (dropping {', '.join(removed)})" if removed else ""))
        elif ca_stale or not self.is_running():
            changes.append(f"restart minikube profile {self.profile!r} so the apiserver reads the new settings")
        return changes

    def ensure_oidc(self, settings: OidcSettings, state: LabState) -> bool:
        record = state.get(ClusterRecord)
        if record is not None and record.profile != self.profile:
            raise ClusterError(
                f"lab {self.lab.name!r} configured minikube profile {record.profile!r}, but lab.yaml now names {self.profile!r}",
                "run `lab down` to restore the first profile, then `lab up` again",
            )
        if self.authentication_mode() == "config":
            return self.structured.ensure(settings, state)
        if record is not None and record.mode == "config":
            record = self.structured.restore(state)  # the lab leaves the file for the flags: no record left
        current, wanted, ca_stale = self._desired(settings)
        refuse_foreign_flags(self.profile, current, record, settings)
        if record is None:
            # Flags identical to the lab's own were left by an earlier `lab down --keep-cluster`
            # (or set by hand to the same values): restoring means removing them, not keeping them.
            ours = set(wanted)
            record = ClusterRecord(self.profile, tuple(o for o in current if not (o.managed and o in ours)))
            state.put(record)
        if settings.ca_pem:
            host_ca, _ = self.ca_paths()
            if ca_stale:
                write_private(host_ca, settings.ca_pem, mode=0o644)
            record = replace(record, ca_file=str(host_ca))
            state.put(record)
        running = self.is_running()
        restart = not (wanted == current and running and not ca_stale)
        if restart:
            self._restart(wanted, running)
        else:
            self.repair_context()
            self.ui.update("the apiserver already has the wanted OIDC flags")
        state.put(replace(record, options=tuple(wanted)))
        return restart

    def restore(self, state: LabState) -> None:
        record = state.get(ClusterRecord)
        if record is None:
            return
        if record.mode == "config":
            return self.structured.restore(state)
        if self._profile() is None:
            self.ui.warn(f"minikube profile {self.profile!r} no longer exists; nothing to restore there")
        else:
            current = self.current_options()
            target = restored_options(current, list(record.previous_options))
            if target != current:
                self._restart(target, self.is_running())
            else:  # a `lab down` stopped inside its restart: the options are back, the context may not be
                self.ensure_usable()
        if record.ca_file and Path(record.ca_file).exists():
            Path(record.ca_file).unlink()
        state.forget(ClusterRecord)

    def ensure_running(self) -> None:
        """Start a stopped profile with the options it has (no `--extra-config`: the list is kept)."""
        if not self.is_running():
            self.ui.update(f"starting minikube profile {self.profile!r}")
            self._run("start", "-p", self.profile, timeout=self.lab.cluster.wait_seconds)
            self.wait_until_ready()

    def _restart(self, options: list[ExtraOption], running: bool) -> None:
        if running:
            self.ui.update(f"stopping minikube profile {self.profile!r}")
            self._run("stop", "-p", self.profile, timeout=self.lab.cluster.wait_seconds)
        self.ui.update(f"starting minikube profile {self.profile!r} with {len(options)} extra options (this takes a while)")
        if options:
            self._run("start", "-p", self.profile, *[o.flag for o in options], timeout=self.lab.cluster.wait_seconds)
        else:
            # minikube cannot be told "no extra options" by flag (an absent flag keeps the old list,
            # and an empty value is rejected), so clear the list in the stopped profile's config.
            self._clear_options()
            self._run("start", "-p", self.profile, timeout=self.lab.cluster.wait_seconds)
        self.wait_until_ready()

    def _clear_options(self) -> None:
        path = self.home / "profiles" / self.profile / "config.json"
        config = json.loads(path.read_text())
        config.setdefault("KubernetesConfig", {})["ExtraOptions"] = None
        write_private(path, json.dumps(config, indent="\t"), mode=path.stat().st_mode & 0o777)

    def wait_until_ready(self) -> None:
        """Poll the apiserver as admin until it answers, showing the wait."""
        from kubernetes.client import VersionApi
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        deadline = time.monotonic() + self.lab.cluster.wait_seconds
        last = "no answer yet"
        while time.monotonic() < deadline:
            try:
                client = self.admin_api_client()
                try:
                    VersionApi(client).get_code(_request_timeout=5)
                    return
                finally:
                    client.close()
            except ClusterError as exc:  # no kubeconfig context yet
                last = exc.message
            except ApiException as exc:
                last = f"{exc.status} {exc.reason}"
            except (HTTPError, OSError) as exc:  # connection refused while the apiserver boots
                last = type(exc).__name__
            self.ui.update(f"waiting for the apiserver of {self.profile!r} ({last})")
            time.sleep(1)
        raise ClusterError(f"the apiserver of minikube profile {self.profile!r} did not become ready "
                           f"within {self.lab.cluster.wait_seconds} seconds ({last})",
                           f"see `minikube logs -p {self.profile}`; a wrong --extra-config value keeps it down")

    def admin_api_client(self) -> Any:
        try:
            return self._admin_client()
        except ClusterError:
            if not self.repair_context():
                raise
        return self._admin_client()

    def _admin_client(self) -> Any:
        from .admin import admin_client

        return admin_client(self.profile)

    def status(self, state: LabState) -> dict[str, Any]:
        record = state.get(ClusterRecord)
        facts: dict[str, Any] = {"driver": "minikube", "profile": self.profile}
        try:
            options = self.current_options()
            wanted = (record.options if record else None) or ()
            facts["running"] = self.is_running()
            facts["oidc_flags_in_place"] = bool(wanted) and all(o in options for o in wanted if o.managed)
            facts["apiserver_options"] = [str(o) for o in options if o.managed]
            facts["authentication"] = self.authentication_mode()
            if (record and record.mode == "config") or facts["authentication"] == "config":
                facts.update(self.structured.status(state, options))
        except ClusterError as exc:
            facts["error"] = exc.message
        return facts

"""How a minikube profile's apiserver learns the lab's issuer: the --oidc-* flags, or an entry in
the profile's structured AuthenticationConfiguration (DESIGN.md section 8), and the second way's
work on the profile.

`cluster.authentication: auto` chooses the file from Kubernetes 1.30 on (beta and on by default;
GA in 1.34). In that mode the first lab on the profile restarts it once with
`--extra-config=apiserver.authentication-config=<file>` (the other options kept, the flags of a lab
that used them dropped); every later change rewrites the file on the host, copies it into the
running node with `minikube cp` and waits until the apiserver reports the new file's hash
(metric `apiserver_authentication_config_controller_last_config_info`): no restart. The last lab
out restarts the profile with exactly the options it had before the first lab came.
"""

from __future__ import annotations

import difflib
import re
import time
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ClusterError
from ..fsutil import write_private
from ..oidc.settings import OidcSettings
from ..records import ClusterRecord
from ..state import LabState
from .authconfig import AuthenticationFile, Registry, check_settings, config_hash, jwt_authenticator
from .options import AUTHENTICATION_CONFIG, ExtraOption, merge_options, restored_options, structured_options

if TYPE_CHECKING:
    from .minikube import Minikube

#: The first Kubernetes whose apiserver reads --authentication-config without a feature gate.
STRUCTURED_SINCE = (1, 30)
#: The apiserver reloads on a file event within seconds, or at its one-minute poll at worst.
RELOAD_WAIT_SECONDS = 90
_LAST_CONFIG = re.compile(r'^apiserver_authentication_config_controller_last_config_info\{[^}]*hash="([^"]+)"', re.M)


def kubernetes_version(profile: dict[str, Any]) -> tuple[int, int] | None:
    text = ((profile.get("Config") or {}).get("KubernetesConfig") or {}).get("KubernetesVersion") or ""
    match = re.match(r"v?(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def resolve_mode(wanted: str, version: tuple[int, int] | None) -> str:
    """`config` or `flags` for the profile's Kubernetes version (`auto`: config from 1.30 on)."""
    if wanted != "auto":
        return wanted
    return "config" if version is None or version >= STRUCTURED_SINCE else "flags"


def refuse_foreign_flags(profile: str, current: list[ExtraOption], record: ClusterRecord | None,
                         settings: OidcSettings) -> None:
    """In the flags mode a profile trusts one issuer: a lab that did not set the flags it finds
    (another lab's client id) must not silently take the profile over from that lab."""
    if record is not None and record.mode == "flags":
        return
    theirs = next((o.value for o in current if o.component == "apiserver" and o.key == "oidc-client-id"), None)
    if theirs is not None and theirs != settings.client_id:
        raise ClusterError(f"minikube profile {profile!r} already trusts another issuer through the --oidc-* flags "
                           f"(client id {theirs!r}); the flags hold one issuer",
                           "set cluster.authentication: config (Kubernetes 1.30+) so labs share the profile, "
                           "run `lab down` in the other lab, or use another profile")


class StructuredAuthentication:
    """The profile's AuthenticationConfiguration, driven through one `Minikube` driver (this is the
    driver's other half: it uses its runner and its restart)."""

    def __init__(self, minikube: "Minikube") -> None:
        self.mk = minikube
        self.lab = minikube.lab
        self.file = AuthenticationFile(minikube.home, minikube.profile)

    # checks ------------------------------------------------------------------------------------
    def preflight(self, state: LabState) -> None:
        profile = self.mk.profile
        options = self.mk.current_options()
        version = kubernetes_version(self.mk._existing_profile())
        if version is not None and version < STRUCTURED_SINCE:
            raise ClusterError(f"minikube profile {profile!r} runs Kubernetes v{version[0]}.{version[1]}, whose apiserver "
                               "has no structured authentication configuration (1.30 or newer)",
                               "set cluster.authentication: flags (or auto) in lab.yaml, or use a newer profile")
        record = state.get(ClusterRecord)
        ours = record is not None and record.mode == "flags"
        if not ours and any(o.managed and o.key.startswith("oidc-") for o in options):
            raise ClusterError(f"minikube profile {profile!r} already trusts an issuer through the --oidc-* flags, which "
                               "kube-apiserver cannot combine with the authentication configuration",
                               "run `lab down` in the lab that set them (or remove them), or set "
                               "cluster.authentication: flags")
        foreign = [o for o in options if o.key == AUTHENTICATION_CONFIG and o.value != self.file.node_path]
        if foreign:
            raise ClusterError(f"minikube profile {profile!r} already reads another authentication configuration "
                               f"({foreign[0].value})", "remove that option, or use another profile")

    # plan / ensure / restore -------------------------------------------------------------------
    def _wanted(self, current: list[ExtraOption]) -> list[ExtraOption]:
        return merge_options(current, structured_options(self.file.node_path))

    def plan(self, settings: OidcSettings, state: LabState) -> list[str]:
        check_settings(settings)
        registry = self.file.read()
        registry.labs[self.lab.name] = jwt_authenticator(settings)
        registry.check()
        changes = []
        before = (self.file.host_text() or b"").decode().splitlines()
        after = registry.text().decode().splitlines()
        if before != after:
            diff = difflib.unified_diff(before, after, str(self.file.host_path), "(after lab up)", lineterm="", n=2)
            changes.append(f"write the authentication configuration ({len(registry.labs)} issuer(s)):\n"
                           + "\n".join(diff))
        current = self.mk.current_options()
        wanted = self._wanted(current)
        if wanted != current or not self.mk.is_running():
            added = [str(o) for o in wanted if o not in current]
            changes.append(f"restart minikube profile {self.mk.profile!r} once with " + ", ".join(added or ["its options"])
                           + " (later changes reload without a restart)")
        elif before != after:
            changes.append("copy it into the running node; the apiserver reloads it (no restart)")
        return changes

    def ensure(self, settings: OidcSettings, state: LabState) -> bool:
        check_settings(settings)
        record = state.get(ClusterRecord)
        with self.file.locked(self.mk.ui):
            registry = self.file.read()
            before = self.file.host_text()
            current = self.mk.current_options()
            if registry.previous_options is None:
                # The profile as it was before any lab: a lab of this one's that used the flags is undone too.
                base = restored_options(current, list(record.previous_options)) if record and record.mode == "flags" else current
                registry.previous_options = tuple(base)
            registry.labs[self.lab.name] = jwt_authenticator(settings)
            text = self.file.save(registry)
            assert text is not None
            if record is not None and record.mode == "flags" and record.ca_file:
                from pathlib import Path

                Path(record.ca_file).unlink(missing_ok=True)
            state.put(ClusterRecord(self.mk.profile, (), None, self._keep_ca(settings), mode="config"))
            wanted = self._wanted(current)
            running = self.mk.is_running()
            restart = wanted != current or not running
            if restart:
                self.mk._restart(wanted, running)  # minikube start copies $MINIKUBE_HOME/files into the node
            elif before != text:
                self._apply_in_place(text)
            else:
                self.mk.ui.update("the apiserver already has the lab's authentication configuration")
        state.put(ClusterRecord(self.mk.profile, (), tuple(wanted), self._keep_ca(settings), mode="config"))
        return restart

    def restore(self, state: LabState) -> None:
        """Remove the lab's entry; the last lab out puts the profile's options back as they were."""
        if self.mk.profile_exists():
            with self.file.locked(self.mk.ui):
                registry = self.file.read()
                registry.labs.pop(self.lab.name, None)
                previous = registry.previous_options
                text = self.file.save(registry)
                if text is not None:
                    if self.mk.is_running():
                        self._apply_in_place(text)
                else:
                    current = self.mk.current_options()
                    target = restored_options(current, list(previous or ()))
                    if target != current:
                        self.mk._restart(target, self.mk.is_running())
                    else:  # a `lab down` stopped inside its restart: options back, the context may not be
                        self.mk.ensure_usable()
        else:
            self.mk.ui.warn(f"minikube profile {self.mk.profile!r} no longer exists; nothing to restore there")
        record = state.get(ClusterRecord)
        if record is not None and record.ca_file:
            from pathlib import Path

            Path(record.ca_file).unlink(missing_ok=True)
        state.forget(ClusterRecord)

    def _keep_ca(self, settings: OidcSettings) -> str | None:
        """The issuer's CA in the lab's own folder, for commands that run without the provider step."""
        if not settings.ca_pem:
            return None
        path = self.mk.paths.root / "issuer-ca.crt"
        write_private(path, settings.ca_pem)
        return str(path)

    # the running node --------------------------------------------------------------------------
    def _apply_in_place(self, text: bytes) -> None:
        self.mk.ui.update(f"copying the authentication configuration into the node of {self.mk.profile!r}")
        self.mk._run("cp", str(self.file.host_path), f"{self.mk.profile}:{self.file.node_path}", "-p", self.mk.profile,
                    timeout=120)
        self.wait_for_reload(config_hash(text))

    def loaded_hash(self) -> str | None:
        """The hash of the configuration the apiserver runs (None: it does not say)."""
        client = self.mk.admin_api_client()
        try:
            response = client.rest_client.GET(client.configuration.host.rstrip("/") + "/metrics", _request_timeout=5)
            body = response.data.decode(errors="replace") if isinstance(response.data, bytes) else str(response.data)
        finally:
            client.close()
        return hash_in_metrics(body)

    def wait_for_reload(self, wanted: str, seconds: float = RELOAD_WAIT_SECONDS) -> None:
        """Wait (bounded, with progress) until the apiserver runs the file just written."""
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        start = time.monotonic()
        seen = None
        while time.monotonic() - start < seconds:
            try:
                seen = self.loaded_hash()
            except (ApiException, HTTPError, OSError) as exc:
                seen = f"metrics unreadable ({type(exc).__name__})"
            if seen == wanted:
                return
            self.mk.ui.update(f"waiting for the apiserver of {self.mk.profile!r} to reload the authentication "
                              f"configuration ({time.monotonic() - start:.0f} s)")
            time.sleep(0.5)
        raise ClusterError(f"the apiserver of minikube profile {self.mk.profile!r} did not load the new authentication "
                           f"configuration within {seconds:.0f} s; it keeps running the last valid one",
                           f"see `minikube logs -p {self.mk.profile}` for \"failed to validate authentication config\"")

    def status(self, state: LabState, options: list[ExtraOption]) -> dict[str, Any]:
        return structured_status(self.file, self.lab.name, options, self.loaded_hash if self.mk.is_running() else None)


def structured_status(file: AuthenticationFile, lab: str, options: list[ExtraOption],
                      loaded_hash: Callable[[], str | None] | None) -> dict[str, Any]:
    """The lab's part of the profile's AuthenticationConfiguration, for `lab status`; `loaded_hash`
    asks the running apiserver (None: it is not running). Also `provisioner/status.py`'s answer."""
    registry: Registry = file.read()
    text = file.host_text()
    facts: dict[str, Any] = {
        "authentication": "config",
        "authentication_file": file.node_path,
        "entries": [{"lab": name, "issuer": entry["issuer"]["url"]} for name, entry in sorted(registry.labs.items())],
        "entry_in_place": lab in registry.labs,
        "oidc_flags_in_place": lab in registry.labs and any(o.key == AUTHENTICATION_CONFIG for o in options),
    }
    if text is not None and loaded_hash is not None:
        try:
            facts["reloaded"] = loaded_hash() == config_hash(text)
        except Exception as exc:  # status reports, it never fails on a fact it cannot read
            facts["reloaded"] = f"unknown ({type(exc).__name__})"
    return facts


def hash_in_metrics(body: str) -> str | None:
    """The hash of the authentication configuration the apiserver runs, from its /metrics text."""
    match = _LAST_CONFIG.search(body or "")
    return match.group(1) if match else None


__all__ = ["STRUCTURED_SINCE", "StructuredAuthentication", "hash_in_metrics", "kubernetes_version", "refuse_foreign_flags",
           "resolve_mode", "structured_status"]

"""minikube as the lab's cluster: the kube-apiserver's OIDC flags through `--extra-config`.

Facts this module is built on (DESIGN.md section 4):
- options persist in the profile's config.json (`KubernetesConfig.ExtraOptions`), and passing any
  `--extra-config` on a later start *replaces the whole list*, so every start passes every option
  the profile should keep;
- the apiserver reads flags and CA files only when it starts, so a change means stop + start,
  which costs minutes: skip it when the profile already has exactly the wanted options;
- a CA file under `$MINIKUBE_HOME/files/var/lib/minikube/certs/` is copied into the node on start.
Every minikube call goes through `sh` with an argument list, never a shell string.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClusterError
from ..fsutil import write_private
from ..state import LabState
from .base import Cluster, OidcSettings

#: Options the lab owns: the whole OIDC authenticator, and authorization-mode (RBAC must be on).
MANAGED_PREFIX = "oidc-"
AUTHORIZATION_MODE = "authorization-mode"
#: A bare `RBAC` breaks `minikube start`; the node authorizer must stay.
RBAC_MODE = "Node,RBAC"
NODE_CERTS = "/var/lib/minikube/certs"
INSTALL_HINT = "install minikube (https://minikube.sigs.k8s.io/docs/start/) and make sure `minikube` is on PATH"


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
        return self.component == "apiserver" and (self.key.startswith(MANAGED_PREFIX) or self.key == AUTHORIZATION_MODE)

    def __str__(self) -> str:
        return f"{self.component}.{self.key}={self.value}"


def minikube_home() -> Path:
    """The `.minikube` folder: `$MINIKUBE_HOME/.minikube` unless MINIKUBE_HOME already ends in it."""
    explicit = os.environ.get("MINIKUBE_HOME")
    if not explicit:
        return Path.home() / ".minikube"
    path = Path(explicit).expanduser()
    return path if path.name == ".minikube" else path / ".minikube"


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


class Minikube(Cluster):
    def __init__(self, lab, paths, ui) -> None:
        super().__init__(lab, paths, ui)
        self.profile = lab.cluster.profile
        self._command = None

    # running minikube ----------------------------------------------------------------------------
    def _minikube(self):
        if self._command is None:
            import sh

            try:
                self._command = sh.Command("minikube")
            except sh.CommandNotFound:
                raise ClusterError("minikube is not installed: no `minikube` on PATH", INSTALL_HINT) from None
        return self._command

    def _run(self, *args: str, ok_codes: tuple[int, ...] = (0,), timeout: float | None = None) -> tuple[int, str]:
        import sh

        try:
            result = self._minikube()(*args, _ok_code=list(ok_codes), _return_cmd=True, _timeout=timeout,
                                      _err_to_out=False, _tty_out=False)
        except sh.ErrorReturnCode as exc:
            raise ClusterError(
                f"`minikube {' '.join(args[:3])}` failed (exit {exc.exit_code}): {_last_line(exc.stderr or exc.stdout)}",
                f"see `minikube logs -p {self.profile}`; fix the cause and run the command again",
            ) from None
        except sh.TimeoutException:
            raise ClusterError(f"`minikube {args[0]}` did not finish within {timeout:.0f} seconds",
                               f"check the cluster with `minikube status -p {self.profile}`") from None
        return result.exit_code, str(result)

    # facts -------------------------------------------------------------------------------------
    @property
    def home(self) -> Path:
        return minikube_home()

    @property
    def kubeconfig_cluster(self) -> str:
        return self.profile

    def _profiles(self) -> dict[str, dict[str, Any]]:
        _, out = self._run("profile", "list", "-o", "json", ok_codes=(0, 14, 85, 89))
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

    def profile_exists(self) -> bool:
        return self._profile() is not None

    def is_running(self) -> bool:
        code, out = self._run("status", "-p", self.profile, "-o", "json", ok_codes=tuple(range(0, 256)))
        try:
            status = json.loads(out)
        except ValueError:
            return False
        if isinstance(status, list):  # multi-node profiles answer a list
            status = status[0] if status else {}
        return status.get("APIServer") == "Running" and status.get("Host") == "Running"

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
        if structured:
            # The structured AuthenticationConfiguration and any --oidc-* flag cannot be combined:
            # the apiserver would refuse to start after a restart that takes minutes.
            raise ClusterError(f"minikube profile {self.profile!r} uses apiserver.authentication-config, "
                               "which kube-apiserver does not allow together with the --oidc-* flags the lab sets",
                               f"remove that option (`minikube start -p {self.profile}` with the other --extra-config "
                               "values) or use another profile")

    def _desired(self, settings: OidcSettings) -> tuple[list[ExtraOption], list[ExtraOption], bool]:
        current = self.current_options()
        host_ca, node_ca = self.ca_paths()
        wanted = merge_options(current, oidc_options(settings, node_ca if settings.ca_pem else None))
        ca_stale = bool(settings.ca_pem) and (not host_ca.exists() or host_ca.read_bytes() != settings.ca_pem)
        return current, wanted, ca_stale

    def plan_oidc(self, settings: OidcSettings, state: LabState) -> list[str]:
        current, wanted, ca_stale = self._desired(settings)
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
        record = state.section(self.section)
        if record.get("profile", self.profile) != self.profile:
            raise ClusterError(
                f"lab {self.lab.name!r} configured minikube profile {record['profile']!r}, but lab.yaml now names {self.profile!r}",
                "run `lab down` to restore the first profile, then `lab up` again",
            )
        current, wanted, ca_stale = self._desired(settings)
        if "previous_options" not in record:
            # Flags identical to the lab's own were left by an earlier `lab down --keep-cluster`
            # (or set by hand to the same values): restoring means removing them, not keeping them.
            ours = set(wanted)
            before = [o for o in current if not (o.managed and o in ours)]
            record.update(profile=self.profile, previous_options=[o.to_json() for o in before])
            state.save()
        if settings.ca_pem:
            host_ca, node_ca = self.ca_paths()
            if ca_stale:
                write_private(host_ca, settings.ca_pem, mode=0o644)
            record["ca_file"] = str(host_ca)
            state.save()
        running = self.is_running()
        if wanted == current and running and not ca_stale:
            self.ui.update("the apiserver already has the wanted OIDC flags")
            record["options"] = [o.to_json() for o in wanted]
            state.save()
            return False
        self._restart(wanted, running)
        record["options"] = [o.to_json() for o in wanted]
        state.save()
        return True

    def restore(self, state: LabState) -> None:
        record = state.section(self.section)
        if not record:
            return
        host_ca = Path(record["ca_file"]) if record.get("ca_file") else None
        profile = self._profile()
        if profile is None:
            self.ui.warn(f"minikube profile {self.profile!r} no longer exists; nothing to restore there")
        else:
            previous = [ExtraOption.from_json(o) for o in record.get("previous_options", [])]
            current = self.current_options()
            target = restored_options(current, previous)
            if target != current:
                self._restart(target, self.is_running())
        if host_ca is not None and host_ca.exists():
            host_ca.unlink()
        state.drop(self.section)
        state.save()

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
        from kubernetes import config as kube_config

        from ..kubeconfig import kubeconfig_path

        try:
            return kube_config.new_client_from_config(config_file=str(kubeconfig_path()), context=self.profile)
        except kube_config.ConfigException as exc:
            raise ClusterError(f"the kubeconfig has no usable context {self.profile!r} ({exc})",
                               f"start the cluster with `minikube start -p {self.profile}`, which writes it") from None

    def status(self, state: LabState) -> dict[str, Any]:
        record = state.section(self.section)
        facts: dict[str, Any] = {"driver": "minikube", "profile": self.profile}
        try:
            options = self.current_options()
            wanted = [ExtraOption.from_json(o) for o in record.get("options", [])]
            facts["running"] = self.is_running()
            facts["oidc_flags_in_place"] = bool(wanted) and all(o in options for o in wanted if o.managed)
            facts["apiserver_options"] = [str(o) for o in options if o.managed]
        except ClusterError as exc:
            facts["error"] = exc.message
        return facts


def _last_line(text: bytes | str | None) -> str:
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"

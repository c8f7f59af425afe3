"""Where the fake minikube keeps its state: the same files, in the same places, as minikube.

The product reads `profiles/<p>/config.json` and the CA and client certificate paths directly, so
their location and shape must match the real tool: `$MINIKUBE_HOME` names the folder that contains
`.minikube` unless it already ends in `.minikube`, and `KubernetesConfig.ExtraOptions` is a list of
`{Component, Key, Value}` (`null` on a profile that never had any, as Go writes a nil slice).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from provisioner.fsutil import write_json

MINIKUBE_VERSION = "v1.37.0"
MINIKUBE_COMMIT = "65318f4cfff9c12cc87ec9eb8f4cdd57b25047f3"
DEFAULT_KUBERNETES_VERSION = "v1.35.0"
DEFAULT_PROFILE = "minikube"
#: What `--extra-config` accepts before the first dot (minikube refuses other components).
COMPONENTS = ("kubelet", "kubeadm", "apiserver", "controller-manager", "scheduler", "etcd", "kube-proxy")


def minikube_home() -> Path:
    """The `.minikube` folder, resolved exactly as minikube's `localpath.MiniPath()` does."""
    explicit = os.environ.get("MINIKUBE_HOME")
    if not explicit:
        return Path.home() / ".minikube"
    path = Path(explicit).expanduser()
    return path if path.name == ".minikube" else path / ".minikube"


def kubeconfig_path() -> Path:
    """The file minikube writes: the first entry of `$KUBECONFIG`, else `~/.kube/config`."""
    for entry in os.environ.get("KUBECONFIG", "").split(os.pathsep):
        if entry:
            return Path(entry).expanduser()
    return Path.home() / ".kube" / "config"


@dataclass(frozen=True)
class ExtraOption:
    component: str
    key: str
    value: str

    @classmethod
    def parse(cls, flag_value: str) -> "ExtraOption":
        """`component.key=value`; the value may itself contain `=` (e.g. a required claim)."""
        name, sep, value = flag_value.partition("=")
        component, dot, key = name.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"invalid value {flag_value!r}: must be of the form component.key=value")
        if component not in COMPONENTS:
            raise ValueError(f"invalid extra option component {component!r}; valid components are: {', '.join(COMPONENTS)}")
        return cls(component, key, value)

    def to_json(self) -> dict[str, str]:
        return {"Component": self.component, "Key": self.key, "Value": self.value}


def merge_repeated(options: list[ExtraOption]) -> list[ExtraOption]:
    """A repeated component.key keeps its first position and its last value, as minikube's flag does."""
    merged: dict[tuple[str, str], ExtraOption] = {}
    for option in options:
        merged[(option.component, option.key)] = option
    return list(merged.values())


class Profile:
    """One profile's folder and config.json."""

    def __init__(self, name: str, home: Path | None = None) -> None:
        self.name = name
        self.home = home or minikube_home()
        self.dir = self.home / "profiles" / name

    # files ---------------------------------------------------------------------------------------
    @property
    def config_file(self) -> Path:
        return self.dir / "config.json"

    @property
    def client_cert(self) -> Path:
        return self.dir / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.dir / "client.key"

    @property
    def apiserver_cert(self) -> Path:
        return self.dir / "apiserver.crt"

    @property
    def apiserver_key(self) -> Path:
        return self.dir / "apiserver.key"

    @property
    def ca_cert(self) -> Path:
        return self.home / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.home / "ca.key"

    @property
    def node_root(self) -> Path:
        """The node's file system as far as the apiserver sees it: `$MK/files/**` copied at start."""
        return self.dir / "node"

    @property
    def etcd_file(self) -> Path:
        """The apiserver double's objects; kept across stop/start like etcd's data dir."""
        return self.dir / "etcd.json"

    @property
    def pid_file(self) -> Path:
        return self.dir / "apiserver.pid"

    @property
    def port_file(self) -> Path:
        return self.dir / "apiserver.port"

    @property
    def log_file(self) -> Path:
        return self.dir / "apiserver.log"

    @property
    def host_state_file(self) -> Path:
        """Whether the "machine" runs; minikube asks the driver, the fake keeps one word here."""
        return self.dir / "host-state"

    # config.json ---------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.config_file.is_file()

    def load(self) -> dict[str, Any]:
        return json.loads(self.config_file.read_text())

    def save(self, config: dict[str, Any]) -> None:
        write_json(self.config_file, config)

    def extra_options(self) -> list[ExtraOption]:
        raw = self.load()["KubernetesConfig"].get("ExtraOptions") or []
        return [ExtraOption(o["Component"], o["Key"], o["Value"]) for o in raw]

    def apiserver_flags(self) -> dict[str, str]:
        return {o.key: o.value for o in self.extra_options() if o.component == "apiserver"}


def new_cluster_config(name: str, driver: str, kubernetes_version: str, port: int = 8443) -> dict[str, Any]:
    """A ClusterConfig as minikube v1.37 writes it (the fields the product may read, and some it may not)."""
    return {
        "Name": name,
        "KeepContext": False,
        "EmbedCerts": False,
        "MinikubeISO": "",
        "KicBaseImage": "gcr.io/k8s-minikube/kicbase:v0.0.48",
        "Memory": 3072,
        "CPUs": 2,
        "DiskSize": 20000,
        "Driver": driver,
        "HyperkitVpnKitSock": "",
        "HyperkitVSockPorts": [],
        "DockerEnv": None,
        "ContainerVolumeMounts": None,
        "InsecureRegistry": None,
        "RegistryMirror": [],
        "HostOnlyCIDR": "192.168.59.1/24",
        "HypervVirtualSwitch": "",
        "KVMNetwork": "default",
        "DockerOpt": None,
        "DisableDriverMounts": False,
        "NFSShare": [],
        "NFSSharesRoot": "/nfsshares",
        "UUID": "",
        "NoVTXCheck": False,
        "DNSProxy": False,
        "HostDNSResolver": True,
        "HostOnlyNicType": "virtio",
        "NatNicType": "virtio",
        "SSHIPAddress": "",
        "SSHUser": "root",
        "SSHKey": "",
        "SSHPort": 22,
        "KubernetesConfig": {
            "KubernetesVersion": kubernetes_version,
            "ClusterName": name,
            "Namespace": "default",
            "APIServerHAVIP": "",
            "APIServerName": "minikubeCA",
            "APIServerNames": None,
            "APIServerIPs": None,
            "DNSDomain": "cluster.local",
            "ContainerRuntime": "docker",
            "CRISocket": "",
            "NetworkPlugin": "cni",
            "FeatureGates": "",
            "ServiceCIDR": "10.96.0.0/12",
            "ImageRepository": "",
            "LoadBalancerStartIP": "",
            "LoadBalancerEndIP": "",
            "CustomIngressCert": "",
            "RegistryAliases": "",
            "ExtraOptions": None,
            "ShouldLoadCachedImages": True,
            "EnableDefaultCNI": False,
            "CNI": "",
        },
        "Nodes": [
            {
                "Name": "",
                "IP": "192.168.49.2",
                "Port": port,
                "KubernetesVersion": kubernetes_version,
                "ContainerRuntime": "docker",
                "ControlPlane": True,
                "Worker": True,
            }
        ],
        "Addons": {"default-storageclass": True, "storage-provisioner": True},
        "CustomAddonImages": None,
        "CustomAddonRegistries": None,
        "VerifyComponents": {"apiserver": True, "system_pods": True},
        "StartHostTimeout": 360000000000,
        "ScheduledStop": None,
        "ExposedPorts": [],
        "ListenAddress": "",
        "Network": "",
        "Subnet": "",
        "MultiNodeRequested": False,
        "ExtraDisks": 0,
        "CertExpiration": 94608000000000000,
        "MountString": "",
        "Mount9PVersion": "9p2000.L",
        "MountGID": "docker",
        "MountIP": "",
        "MountMSize": 262144,
        "MountOptions": [],
        "MountPort": 0,
        "MountType": "9p",
        "MountUID": "docker",
        "BinaryMirror": "",
        "DisableOptimizations": False,
        "DisableMetrics": False,
        "DisableCoreDNSLog": False,
        "CustomQemuFirmwarePath": "",
        "SocketVMnetClientPath": "",
        "SocketVMnetPath": "",
        "StaticIP": "",
        "SSHAuthSock": "",
        "SSHAgentPID": 0,
        "GPUs": "",
        "AutoPauseInterval": 60000000000,
    }

"""Can the minikube profile serve the room as it is? If not, the exact `minikube` command that would.

What minikube does with the flags (cmd/minikube/cmd/start_flags.go): `--apiserver-ips` and
`--apiserver-names` are applied to an existing profile on its next start
(`updateExistingConfigFromFlags`), which issues a new apiserver certificate naming them;
`--listen-address` (where the docker and podman drivers publish the apiserver's port) is read only
when the profile is created (`generateNewConfigFromFlags`), so changing it means recreating the
profile. `lab up` never recreates the instructor's profile: it names the command and stops.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..errors import ClusterError

PUBLISHING_DRIVERS = ("docker", "podman")  # the node's ports are published on the host
HOST_DRIVERS = ("none", "ssh")  # the apiserver runs on a real machine's own network


def is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
        return True
    except ValueError:
        return False


def san_flag(address: str) -> str:
    return f"--apiserver-ips={address}" if is_ip(address) else f"--apiserver-names={address}"


def room_problem(config: dict[str, Any], profile: str, address: str) -> ClusterError | None:
    """Why the profile (its ClusterConfig) cannot serve `address`, with the command that fixes it."""
    driver = config.get("Driver") or ""
    kubernetes = config.get("KubernetesConfig") or {}
    version = kubernetes.get("KubernetesVersion")
    recreate = (f"minikube delete -p {profile} && minikube start -p {profile} --driver=docker "
                f"--listen-address=0.0.0.0 {san_flag(address)}" + (f" --kubernetes-version={version}" if version else ""))
    if driver in PUBLISHING_DRIVERS:
        listen = config.get("ListenAddress") or ""
        if listen not in ("0.0.0.0", address):
            recreate = recreate.replace("--driver=docker", f"--driver={driver}")
            where = f"on {listen}" if listen else "on 127.0.0.1 only"
            return ClusterError(
                f"minikube profile {profile!r} publishes the apiserver {where}, so the room cannot reach it at "
                f"{address}; minikube sets --listen-address only when it creates a profile",
                f"recreate the profile yourself (this deletes its workloads): `{recreate}`, then run `lab up` again")
    elif driver not in HOST_DRIVERS:
        return ClusterError(
            f"minikube profile {profile!r} runs in a {driver or 'VM'} VM on a network only this machine reaches",
            f"serve the room from a docker or podman profile: `{recreate}` (or another profile name and "
            "cluster.profile in lab.yaml), then run `lab up` again")
    named = (kubernetes.get("APIServerIPs") or []) + (kubernetes.get("APIServerNames") or [])
    if address not in named:
        kind = "APIServerIPs" if is_ip(address) else "APIServerNames"
        current = kubernetes.get(kind) or []
        flag = "--apiserver-ips" if is_ip(address) else "--apiserver-names"
        command = f"minikube start -p {profile} {flag}={','.join([*current, address])}"
        return ClusterError(
            f"the apiserver certificate of minikube profile {profile!r} does not name {address}, so attendees' "
            "kubectl would refuse it",
            f"run `{command}` (minikube adds the name to the existing profile and issues a new certificate), "
            "then `lab up` again")
    return None

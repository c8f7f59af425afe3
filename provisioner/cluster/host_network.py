"""Which address of this machine a minikube node reaches it by, read from the profile's config.json.

minikube names the host `host.minikube.internal` inside the node. For the docker and podman
drivers on Linux that is the gateway of the profile's network (pkg/minikube/cluster/ip.go HostIP:
oci.RoutableHostIPFromInside), a bridge address of this machine; on macOS and Windows it is Docker
Desktop's `host.docker.internal` instead, and the VM drivers each have their own rule. minikube
makes a kic network a /24 with the gateway at its first address and the node at the next
(pkg/network/network.go), and config.json records the node's address (`Nodes[].IP`). A service
the node must reach can then listen on the gateway alone instead of every interface.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

KIC_DRIVERS = ("docker", "podman")


def kic_gateway(config: dict[str, Any], platform: str = sys.platform) -> str | None:
    """The gateway of a docker/podman profile's network on Linux, from its config; else None."""
    if config.get("Driver") not in KIC_DRIVERS or not platform.startswith("linux"):
        return None
    nodes = [n for n in config.get("Nodes") or [] if isinstance(n, dict)]
    control_plane = next((n for n in nodes if n.get("ControlPlane")), nodes[0] if nodes else {})
    try:
        node = ipaddress.IPv4Address(str(control_plane.get("IP") or ""))
    except ValueError:
        return None
    network = ipaddress.IPv4Network(f"{node}/24", strict=False)
    return str(network.network_address + 1)


def is_local_address(address: str) -> bool:
    """Whether this machine has `address`, i.e. a server can bind it (the bridge exists)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((address, 0))
        return True
    except OSError:
        return False

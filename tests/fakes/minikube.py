"""A fake `minikube` executable for the commands oidc-lab runs.

It behaves like minikube v1.37 where the product can notice: state in `$MINIKUBE_HOME`, config.json
with `ExtraOptions` replaced whenever any `--extra-config` is passed, profile kubeconfig entries
written on start and removed on stop, status exit-code bits, exit 85 for a missing profile and 14
for an unknown command. Instead of a VM it starts `apiserver.py` as a detached process, after
"copying" `$MINIKUBE_HOME/files/**` into the node (a snapshot the apiserver reads at start, so a
changed CA file needs a restart, as in real life). Every invocation's argv is appended as one JSON
line to `$FAKE_MINIKUBE_CALLS` when that is set; `$FAKE_MINIKUBE_FAIL` (`start=80,stop=1`) and
`$FAKE_MINIKUBE_DELAY` (`start=2.5`) inject failures and slowness per command;
`$FAKE_MINIKUBE_KILL_AT` (`start:apiserver-up`) SIGKILLs the caller's process group at that point
of a command, as a user's Ctrl-\\ or a reboot would (tests of kill-and-converge).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from provisioner.fsutil import write_private

from .kubeconfig_entries import has_profile_entries, remove_profile_entries, write_profile_entries
from .minikube_home import (
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_PROFILE,
    MINIKUBE_COMMIT,
    MINIKUBE_VERSION,
    ExtraOption,
    Profile,
    kubeconfig_path,
    merge_repeated,
    minikube_home,
    new_cluster_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
CALLS_ENV = "FAKE_MINIKUBE_CALLS"
FAIL_ENV = "FAKE_MINIKUBE_FAIL"
DELAY_ENV = "FAKE_MINIKUBE_DELAY"
KILL_ENV = "FAKE_MINIKUBE_KILL_AT"
HOST_IP_ENV = "FAKE_HOST_MINIKUBE_INTERNAL"  # read by the apiserver double (apiserver_oidc.node_hosts)

# exit codes (minikube's reason package)
EX_FAILURE = 1
EX_PROGRAM_USAGE = 14
EX_GUEST_ERROR = 80
EX_GUEST_NOT_RUNNING = 83
EX_GUEST_NOT_FOUND = 85
# `minikube status` bits
HOST_NOT_RUNNING, CLUSTER_NOT_RUNNING, K8S_NOT_RUNNING = 1, 2, 4

#: Flags that take a value even when written as `--flag value` (the rest are booleans).
VALUE_FLAGS = {
    "--driver", "--vm-driver", "--kubernetes-version", "--memory", "--cpus", "--container-runtime",
    "--nodes", "-n", "--extra-config", "--profile", "-p", "--output", "-o", "--addons", "--wait",
    "--apiserver-ips", "--apiserver-names", "--apiserver-name", "--apiserver-port", "--cni",
    "--feature-gates", "--format", "-f", "--length", "--network", "--disk-size", "--wait-timeout",
    "--image-repository", "--base-image", "--listen-address", "--ports", "--mount-string", "--static-ip",
    "--subnet",
}
START_TIMEOUT_SECONDS = 15.0


class Exit(Exception):
    """Stop the command with minikube's exit code after printing `message` (to stderr)."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# command line ------------------------------------------------------------------------------------
class Args:
    """minikube's global and per-command flags, in the forms cobra accepts."""

    def __init__(self, argv: list[str]) -> None:
        self.positional: list[str] = []
        self.flags: dict[str, list[str]] = {}
        i = 0
        while i < len(argv):
            token = argv[i]
            if token == "--":
                self.positional.extend(argv[i + 1:])
                break
            if token.startswith("-") and token != "-":
                name, eq, value = token.partition("=")
                if not eq and len(name) > 2 and not name.startswith("--") and name[:2] in ("-p", "-o", "-n", "-f"):
                    name, value, eq = name[:2], name[2:], "="  # -pfoo, -ojson
                if not eq:
                    if name in VALUE_FLAGS and i + 1 < len(argv):
                        value = argv[i + 1]
                        i += 1
                    else:
                        value = "true"
                self.flags.setdefault(name, []).append(value)
            else:
                self.positional.append(token)
            i += 1

    def last(self, *names: str, default: str | None = None) -> str | None:
        values = [v for name in names for v in self.flags.get(name, [])]
        return values[-1] if values else default

    def all(self, name: str) -> list[str]:
        return self.flags.get(name, [])

    def boolean(self, name: str) -> bool:
        return self.last(name, default="false") not in ("false", "0")

    @property
    def profile(self) -> str:
        return self.last("-p", "--profile", default=None) or _active_profile()

    @property
    def output(self) -> str:
        return self.last("-o", "--output", default="text") or "text"


def _active_profile() -> str:
    """The profile named by `minikube profile <name>` (config/config.json), else `minikube`."""
    try:
        config = json.loads((minikube_home() / "config" / "config.json").read_text())
        return config.get("profile") or DEFAULT_PROFILE
    except (FileNotFoundError, ValueError):
        return DEFAULT_PROFILE


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _require_profile(name: str) -> Profile:
    profile = Profile(name)
    if not profile.exists():
        out(f'🤷  Profile "{name}" not found. Run "minikube profile list" to view all profiles.')
        out(f'👉  To start a cluster, run: "minikube start -p {name}"')
        raise Exit(EX_GUEST_NOT_FOUND)
    return profile


# the apiserver double as a process ---------------------------------------------------------------
def _process_state(pid: int) -> str | None:
    """The kernel's one-letter state of `pid`, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _is_our_apiserver(pid: int, profile: Profile) -> bool:
    """Guard against pid reuse: only signal the double started for this very profile."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"tests.fakes.apiserver" in cmdline and str(profile.dir).encode() in cmdline


def apiserver_pid(profile: Profile) -> int | None:
    try:
        pid = int(profile.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    state = _process_state(pid)
    if state is None or state in ("Z", "X") or not _is_our_apiserver(pid, profile):
        return None
    return pid


def stop_apiserver(profile: Profile, timeout: float = 5.0) -> None:
    """Terminate the profile's apiserver double and wait until it is gone."""
    pid = apiserver_pid(profile)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _process_state(pid) not in (None, "Z", "X"):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.02)
    profile.pid_file.unlink(missing_ok=True)


def _free_port(preferred: int | None, address: str = "127.0.0.1") -> int:
    """Keep the previous port when it is still free, so a kubeconfig copied earlier keeps working."""
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
            try:
                probe.bind((address, candidate))
            except OSError:
                continue
            return probe.getsockname()[1]
    raise Exit(EX_GUEST_ERROR, "❌  Exiting due to GUEST_START: no free port for the apiserver")


def _log_tail(profile: Profile, lines: int = 5) -> str:
    try:
        return "\n".join(profile.log_file.read_text().splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def launch_apiserver(profile: Profile) -> int:
    """Start the double detached from this process (minikube exits; the "node" keeps running)."""
    previous = None
    try:
        previous = int(profile.port_file.read_text())
    except (FileNotFoundError, ValueError):
        pass
    address = published_address(profile)
    port = _free_port(previous, address)
    profile.port_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env[HOST_IP_ENV] = _host_ip(profile)
    with open(profile.log_file, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.apiserver", "--profile-dir", str(profile.dir),
             "--minikube-home", str(profile.home), "--port", str(port), "--address", address],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
            start_new_session=True, close_fds=True,
        )
    write_private(profile.pid_file, f"{process.pid}\n", mode=0o644)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if profile.port_file.exists() and _answers(profile, int(profile.port_file.read_text()), address):
            return int(profile.port_file.read_text())
        time.sleep(0.02)
    if process.poll() is None:
        process.kill()
        process.wait()
    profile.pid_file.unlink(missing_ok=True)
    raise Exit(EX_GUEST_ERROR, "❌  Exiting due to GUEST_START: failed to start node: wait 6m0s for node: "
               "wait for healthy API server: apiserver healthz never reported healthy: context deadline exceeded\n"
               + _log_tail(profile))


def _host_ip(profile: Profile) -> str:
    """What `host.minikube.internal` resolves to in the node: the gateway of the profile's network.

    Here the "node" is a process on this machine, so a docker-like 192.168.49.0/24 network's
    gateway does not exist: the node reaches the host on loopback. A profile started with a
    loopback `--subnet` (127.0.49.0/24) has a gateway tests can bind, and the node uses it.
    """
    try:
        node = ipaddress.IPv4Address(profile.load()["Nodes"][0]["IP"])
    except (FileNotFoundError, KeyError, IndexError, ValueError):
        return "127.0.0.1"
    gateway = ipaddress.IPv4Network(f"{node}/24", strict=False).network_address + 1
    return str(gateway) if gateway.is_loopback else "127.0.0.1"


def published_address(profile: Profile) -> str:
    """Where the apiserver's port is published on the host: the profile's `ListenAddress` (docker's
    `--publish=<ListenAddress>::8443`, minikube's pkg/drivers/kic/oci), else loopback only."""
    return profile.load().get("ListenAddress") or "127.0.0.1"


def kubeconfig_host(profile: Profile) -> str:
    """The host minikube writes into the kubeconfig: 127.0.0.1 (oci.DaemonHost) unless the port is
    published on one specific other address only."""
    address = published_address(profile)
    return "127.0.0.1" if address in ("0.0.0.0", "127.0.0.1") else address


def _answers(profile: Profile, port: int, address: str = "127.0.0.1") -> bool:
    """minikube waits for a healthy apiserver: `/readyz` as the admin, verified against the minikube CA."""
    import http.client
    import ssl

    context = ssl.create_default_context(cafile=str(profile.ca_cert))
    context.load_cert_chain(profile.client_cert, profile.client_key)
    host = "127.0.0.1" if address == "0.0.0.0" else address
    connection = http.client.HTTPSConnection(host, port, timeout=2, context=context)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _ensure_certificates(profile: Profile) -> None:
    """minikube's CA is made once per MINIKUBE_HOME; the admin and serving certs once per profile."""
    from provisioner.providers.local import pki  # imported here: `minikube version` and `status` should start fast

    from .client_cert import issue_client_cert

    if not profile.ca_cert.exists():
        ca = pki.create_ca("minikubeCA")
        write_private(profile.ca_key, ca.key_pem)
        write_private(profile.ca_cert, ca.cert_pem, mode=0o644)
    ca = pki.KeyPair(profile.ca_cert.read_bytes(), profile.ca_key.read_bytes())
    if not profile.client_cert.exists():
        client = issue_client_cert(ca, "minikube-user", ["system:masters"])
        write_private(profile.client_key, client.key_pem)
        write_private(profile.client_cert, client.cert_pem, mode=0o644)
    # minikube names the serving certificate after a hash of its SANs (`apiserver.crt.<hash>`), so
    # `--apiserver-ips`/`--apiserver-names` given on a later start get a new certificate on that start.
    kubernetes = profile.load()["KubernetesConfig"]
    sans = ["127.0.0.1", "localhost", "192.168.49.2", "10.96.0.1", "control-plane.minikube.internal", "kubernetes",
            "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"]
    sans += [s for s in (kubernetes.get("APIServerIPs") or []) + (kubernetes.get("APIServerNames") or []) if s not in sans]
    sans_file = profile.dir / "apiserver.sans"
    if not profile.apiserver_cert.exists() or (sans_file.exists() and sans_file.read_text().split() != sans):
        serving = pki.issue_server_cert(ca, sans)
        write_private(profile.apiserver_key, serving.key_pem)
        write_private(profile.apiserver_cert, serving.cert_pem, mode=0o644)
        write_private(sans_file, "\n".join(sans) + "\n", mode=0o644)
    elif not sans_file.exists():
        write_private(sans_file, "\n".join(sans) + "\n", mode=0o644)


def _copy_files_into_node(profile: Profile) -> None:
    shutil.rmtree(profile.node_root, ignore_errors=True)
    source = profile.home / "files"
    if source.is_dir():
        shutil.copytree(source, profile.node_root)
    else:
        profile.node_root.mkdir(parents=True)


def _host_state(profile: Profile) -> str:
    try:
        return profile.host_state_file.read_text().strip() or "Stopped"
    except FileNotFoundError:
        return "Stopped"


def _set_host_state(profile: Profile, state: str) -> None:
    write_private(profile.host_state_file, state + "\n", mode=0o644)


# commands ----------------------------------------------------------------------------------------
def cmd_start(args: Args) -> int:
    name = args.profile
    profile = Profile(name)
    try:
        requested = merge_repeated([ExtraOption.parse(v) for v in args.all("--extra-config")])
    except ValueError as exc:
        raise Exit(EX_PROGRAM_USAGE, f"❌  Exiting due to MK_USAGE: {exc}") from None
    out(f"😄  [{name}] minikube {MINIKUBE_VERSION} on Linux")
    if profile.exists():
        config = profile.load()
        out(f"✨  Using the {config['Driver']} driver based on existing profile")
    else:
        driver = args.last("--driver", "--vm-driver", default="docker") or "docker"
        version = args.last("--kubernetes-version", default=DEFAULT_KUBERNETES_VERSION) or DEFAULT_KUBERNETES_VERSION
        if version in ("stable", "latest"):
            version = DEFAULT_KUBERNETES_VERSION
        if not version.startswith("v"):
            version = "v" + version
        config = new_cluster_config(name, driver, version)
        subnet = args.last("--subnet")
        if subnet:  # the kic network's gateway is its first address, the node the next (pkg/network)
            network = ipaddress.IPv4Network(subnet, strict=False)
            config["Subnet"] = subnet
            config["Nodes"][0]["IP"] = str(network.network_address + 2)
        out(f"✨  Using the {driver} driver based on user configuration")
    if requested:
        config["KubernetesConfig"]["ExtraOptions"] = [o.to_json() for o in requested]
    _apply_address_flags(args, config, new=not profile.exists())
    profile.dir.mkdir(parents=True, exist_ok=True)
    profile.save(config)  # minikube saves the profile before the node comes up, so a failed start keeps it
    _kill_point("start:saved")

    out(f'👍  Starting "{name}" primary control-plane node in "{name}" cluster')
    stop_apiserver(profile)
    _set_host_state(profile, "Running")
    out(f"🐳  Preparing Kubernetes {config['KubernetesConfig']['KubernetesVersion']} on Docker 28.4.0 ...")
    for option in profile.extra_options():
        out(f"    ▪ {option.component}.{option.key}={option.value}")
    _ensure_certificates(profile)
    _copy_files_into_node(profile)
    modes = profile.apiserver_flags().get("authorization-mode")
    if modes is not None and "Node" not in [m.strip() for m in modes.split(",")]:
        with open(profile.log_file, "a") as log:
            log.write(f'W0000 00:00:00.000000       1 node_authorizer.go:0] kubelet "{name}" is forbidden: '
                      f"authorization-mode={modes} lacks the Node authorizer; the node never registers\n")
        raise Exit(EX_GUEST_ERROR, "❌  Exiting due to GUEST_START: failed to start node: wait 6m0s for node: "
                   "wait for healthy API server: apiserver healthz never reported healthy: context deadline exceeded")
    port = launch_apiserver(profile)
    _kill_point("start:apiserver-up")  # before the kubeconfig is written: `status` says Misconfigured
    write_profile_entries(kubeconfig_path(), profile, f"https://{kubeconfig_host(profile)}:{port}")
    out(f'🏄  Done! kubectl is now configured to use "{name}" cluster and "default" namespace by default')
    return 0


def _slice(args: Args, name: str) -> list[str]:
    """A cobra StringSlice/IPSlice flag: repeatable, each value comma-separated."""
    return [part.strip() for value in args.all(name) for part in value.split(",") if part.strip()]


def _apply_address_flags(args: Args, config: dict, new: bool) -> None:
    """`--apiserver-ips`/`--apiserver-names` are applied to an existing profile as well
    (updateExistingConfigFromFlags: updateStringSliceFromFlag for the names, and `if
    cmd.Flags().Changed("apiserver-ips")` for the IPs); `--listen-address` is read only when the
    profile is created (generateNewConfigFromFlags), so a later start ignores it silently."""
    import ipaddress

    ips = _slice(args, "--apiserver-ips")
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise Exit(EX_PROGRAM_USAGE, f'invalid argument "{ip}" for "--apiserver-ips" flag: invalid string being '
                                         "converted to IP address") from None
    if args.all("--apiserver-ips"):
        config["KubernetesConfig"]["APIServerIPs"] = ips
    if args.all("--apiserver-names"):
        config["KubernetesConfig"]["APIServerNames"] = _slice(args, "--apiserver-names")
    if new and args.all("--listen-address"):
        config["ListenAddress"] = args.last("--listen-address") or ""


def cmd_stop(args: Args) -> int:
    if args.boolean("--all"):
        for profile in _profiles():
            _stop(profile)
        return 0
    _stop(_require_profile(args.profile))
    return 0


def _stop(profile: Profile) -> None:
    out(f'✋  Stopping node "{profile.name}"  ...')
    stop_apiserver(profile)
    _set_host_state(profile, "Stopped")
    remove_profile_entries(kubeconfig_path(), profile.name)
    _kill_point("stop:stopped")
    out("🛑  1 node stopped.")


def _status(profile: Profile) -> dict[str, object]:
    host = _host_state(profile)
    if host != "Running":
        return {"Name": profile.name, "Host": "Stopped", "Kubelet": "Stopped", "APIServer": "Stopped",
                "Kubeconfig": "Stopped", "Worker": False}
    apiserver = "Running" if apiserver_pid(profile) else "Stopped"
    kubeconfig = "Configured" if has_profile_entries(kubeconfig_path(), profile.name) else "Misconfigured"
    return {"Name": profile.name, "Host": "Running", "Kubelet": "Running", "APIServer": apiserver,
            "Kubeconfig": kubeconfig, "Worker": False}


def _status_code(status: dict[str, object]) -> int:
    code = 0
    if status["Host"] != "Running":
        code |= HOST_NOT_RUNNING
    if status["Kubelet"] != "Running" or status["APIServer"] != "Running":
        code |= CLUSTER_NOT_RUNNING
    if status["Kubeconfig"] != "Configured":
        code |= K8S_NOT_RUNNING
    return code


def cmd_status(args: Args) -> int:
    profile = _require_profile(args.profile)
    status = _status(profile)
    if args.output == "json":
        out(json.dumps(status, separators=(",", ":")))
    else:
        out(profile.name)
        out("type: Control Plane")
        out(f"host: {status['Host']}")
        out(f"kubelet: {status['Kubelet']}")
        out(f"apiserver: {status['APIServer']}")
        out(f"kubeconfig: {status['Kubeconfig']}")
        out()
    return _status_code(status)


def _profiles() -> list[Profile]:
    root = minikube_home() / "profiles"
    if not root.is_dir():
        return []
    return [Profile(p.name) for p in sorted(root.iterdir()) if p.is_dir()]


def cmd_profile(args: Args) -> int:
    rest = args.positional[1:]
    if not rest:
        out(_active_profile())
        return 0
    if rest[0] != "list":  # `minikube profile <name>` selects the active profile
        config_file = minikube_home() / "config" / "config.json"
        try:
            config = json.loads(config_file.read_text())
        except (FileNotFoundError, ValueError):
            config = {}
        config["profile"] = rest[0]
        write_private(config_file, json.dumps(config, indent=4) + "\n", mode=0o644)
        out(f'✅  minikube profile was successfully set to {rest[0]}')
        return 0
    valid, invalid = [], []
    current = _active_profile()
    for profile in _profiles():
        try:
            config = profile.load()
            config["KubernetesConfig"]["KubernetesVersion"]
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            invalid.append({"Name": profile.name, "Status": "", "Config": None, "Active": False,
                            "ActiveKubeContext": False})
            continue
        status = _status(profile)
        if status["Host"] != "Running":
            word = "Stopped"
        elif status["APIServer"] == "Running":
            word = "OK"
        else:
            word = "Error"
        valid.append({"Name": profile.name, "Status": word, "Config": config, "Active": profile.name == current,
                      "ActiveKubeContext": has_profile_entries(kubeconfig_path(), profile.name)})
    if args.output == "json":
        out(json.dumps({"invalid": invalid, "valid": valid}, separators=(",", ":")))
        return 0
    if not valid and not invalid:
        out('🤹  Exiting due to MK_USAGE_NO_PROFILE: No minikube profile was found.')
        return EX_PROGRAM_USAGE
    out("| Profile | Driver | Kubernetes | Status |")
    for entry in valid:
        config = entry["Config"]
        out(f"| {entry['Name']} | {config['Driver']} | {config['KubernetesConfig']['KubernetesVersion']} | {entry['Status']} |")
    return 0


def cmd_delete(args: Args) -> int:
    targets = _profiles() if args.boolean("--all") else [Profile(args.profile)]
    for profile in targets:
        stop_apiserver(profile)
        remove_profile_entries(kubeconfig_path(), profile.name)
        shutil.rmtree(profile.dir, ignore_errors=True)
        out(f'💀  Removed all traces of the "{profile.name}" cluster.')
    if args.boolean("--purge"):
        shutil.rmtree(minikube_home(), ignore_errors=True)
    return 0


def cmd_logs(args: Args) -> int:
    profile = _require_profile(args.profile)
    if _host_state(profile) != "Running":
        out(f'🤷  The control-plane node {profile.name} host is not running: state=Stopped')
        out(f'👉  To start a cluster, run: "minikube start -p {profile.name}"')
        return EX_GUEST_NOT_RUNNING
    out("==> kube-apiserver <==")
    try:
        sys.stdout.write(profile.log_file.read_text())
    except FileNotFoundError:
        pass
    sys.stdout.flush()
    return 0


def cmd_version(args: Args) -> int:
    if args.boolean("--short"):
        out(MINIKUBE_VERSION)
    elif args.output == "json":
        out(json.dumps({"commit": MINIKUBE_COMMIT, "minikubeVersion": MINIKUBE_VERSION}))
    elif args.output == "yaml":
        out(f"commit: {MINIKUBE_COMMIT}\nminikubeVersion: {MINIKUBE_VERSION}")
    else:
        out(f"minikube version: {MINIKUBE_VERSION}")
        out(f"commit: {MINIKUBE_COMMIT}")
    return 0


def cmd_ip(args: Args) -> int:
    profile = _require_profile(args.profile)
    out(profile.load()["Nodes"][0]["IP"])
    return 0


def cmd_update_context(args: Args) -> int:
    profile = _require_profile(args.profile)
    try:
        port = int(profile.port_file.read_text())
    except (FileNotFoundError, ValueError):
        raise Exit(EX_GUEST_NOT_RUNNING, f"❌  Exiting due to GUEST_STATUS: host {profile.name} is not running") from None
    write_profile_entries(kubeconfig_path(), profile, f"https://127.0.0.1:{port}")
    out(f'🎉  "{profile.name}" context has been updated to point to 127.0.0.1:{port}')
    return 0


def cmd_cp(args: Args) -> int:
    """`minikube cp [<node>:]<source> [<node>:]<target>` (cmd/minikube/cmd/cp.go): a host file into
    a running node, where the apiserver's hostPath mounts see it at once (no restart), or a node
    file out to the host. Node paths must be absolute."""
    profile = _require_profile(args.profile)
    if len(args.positional) != 3:
        raise Exit(EX_PROGRAM_USAGE, "❌  Exiting due to MK_USAGE: Usage: minikube cp <source node name>:<source path> "
                   "<target node name>:<target path>")
    source, target = args.positional[1], args.positional[2]
    if _host_state(profile) != "Running":
        raise Exit(EX_GUEST_NOT_RUNNING, f'❌  Exiting due to GUEST_STATUS: state: host "{profile.name}" is not running')
    if ":" in source and not Path(source).exists():  # node -> host
        node_file = profile.node_root / _node_path(profile, source).lstrip("/")
        if not node_file.is_file():
            raise Exit(EX_GUEST_ERROR, f"❌  Exiting due to GUEST_CP: cp: {source}: No such file or directory")
        Path(target).write_bytes(node_file.read_bytes())
        return 0
    if not Path(source).is_file():
        raise Exit(EX_PROGRAM_USAGE, f"❌  Exiting due to MK_USAGE: stat {source}: no such file or directory")
    destination = profile.node_root / _node_path(profile, target).lstrip("/")
    destination.parent.mkdir(parents=True, exist_ok=True)
    write_private(destination, Path(source).read_bytes(), mode=0o644)
    return 0


def _node_path(profile: Profile, where: str) -> str:
    node, sep, node_path = where.rpartition(":")
    if sep and node != profile.name:
        raise Exit(EX_GUEST_NOT_FOUND, f"❌  Exiting due to GUEST_NODE_RETRIEVE: retrieving node: Could not find node {node}")
    if not node_path.startswith("/"):
        raise Exit(EX_PROGRAM_USAGE, "❌  Exiting due to MK_USAGE: <target path> must be an absolute Path. "
                   'Relative Path is not allowed (example: "minikube:/home/docker/copied.txt")')
    return node_path


COMMANDS: dict[str, Callable[[Args], int]] = {
    "cp": cmd_cp,
    "start": cmd_start,
    "stop": cmd_stop,
    "status": cmd_status,
    "profile": cmd_profile,
    "delete": cmd_delete,
    "logs": cmd_logs,
    "version": cmd_version,
    "ip": cmd_ip,
    "update-context": cmd_update_context,
}


def _record(argv: list[str]) -> None:
    path = os.environ.get(CALLS_ENV)
    if path:
        with open(path, "a") as calls:
            calls.write(json.dumps(argv) + "\n")


def _injected(variable: str, command: str) -> str | None:
    """`FAKE_MINIKUBE_FAIL=start=80,stop=1` / `FAKE_MINIKUBE_DELAY=start=2.5`: faults for error-path tests."""
    for entry in os.environ.get(variable, "").split(","):
        name, sep, value = entry.strip().partition("=")
        if sep and name == command:
            return value
    return None


def _kill_point(point: str) -> None:
    """SIGKILL this process group (the `lab` that ran minikube, and minikube) at `point`, if asked."""
    if os.environ.get(KILL_ENV) == point:
        os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    _record(argv)
    args = Args(argv)
    if not args.positional:
        out("minikube provisions and manages local Kubernetes clusters optimized for development workflows.")
        return 0
    name = args.positional[0]
    command = COMMANDS.get(name)
    if command is None:
        err(f'Error: unknown command "{name}" for "minikube"')
        err("Run 'minikube --help' for usage.")
        return EX_PROGRAM_USAGE
    delay = _injected(DELAY_ENV, name)
    if delay:
        time.sleep(float(delay))
    failure = _injected(FAIL_ENV, name)
    if failure:
        err(f"❌  Exiting due to GUEST_{name.upper().replace('-', '_')}: injected failure (${FAIL_ENV})")
        return int(failure)
    try:
        return command(args)
    except Exit as exc:
        if exc.message:
            err(exc.message)
        return exc.code


def install(bin_dir: Path, calls_file: Path | None = None) -> Path:
    """Write an executable `minikube` into `bin_dir` that runs this module with this interpreter."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "minikube"
    lines = [
        f"#!{sys.executable}",
        "import os, sys",
        f"sys.path.insert(0, {str(REPO_ROOT)!r})",
    ]
    if calls_file is not None:
        lines.append(f"os.environ.setdefault({CALLS_ENV!r}, {str(calls_file)!r})")
    lines += [
        "from tests.fakes.minikube import main",
        "sys.exit(main(sys.argv[1:]))",
        "",
    ]
    script.write_text("\n".join(lines))
    script.chmod(0o755)
    return script


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

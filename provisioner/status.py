"""`lab status` for a lab on the built-in issuer, from the lab's records alone.

The steps answer `status` too (`Orchestrator.status`), but asking them means building the lab's
config models and running `minikube` twice: about a second, for a report whose facts are all in
files. This reads them directly: the state (with the config `lab up` recorded, as JSON), the
profile's config.json and kubeconfig entry, the issuer's pid file, plus two liveness questions
(is the issuer process ours and running; does the apiserver answer `/livez`). It returns the very
report the steps give (a test holds the two equal), or None where it cannot be sure without them:
another provider or cluster driver, no recorded config, a lab.yaml it would have to validate, an
apiserver that does not answer (then `minikube status` decides between stopped and misconfigured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .cluster.host_network import is_local_address, kic_gateway
from .cluster.profile_files import apiserver_answers, apiserver_get, extra_options, minikube_home, profile_config
from .errors import LabError
from .handles import context_name, is_lab_name, user_handle
from .paths import LabPaths
from .records import ClusterRecord, IssuerRecord, KubeconfigRecord
from .state import LabState

DEFAULT_NAME = "oidc-lab"  # LabConfig's default name (no lab.yaml)


def lab_name(file: Path | None, lab_option: str | None) -> str | None:
    """The lab `lab status` is about, when that needs no validation of lab.yaml: `--lab`, or the
    `name` in lab.yaml (default ./lab.yaml), or the default lab. None: leave it to the full reading."""
    if lab_option is not None:
        return lab_option if file is None and is_lab_name(lab_option) else None
    path = file or Path("lab.yaml")
    try:
        text = path.read_text()
    except FileNotFoundError:
        return DEFAULT_NAME if file is None else None
    except OSError:
        return None
    import yaml

    try:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return None
    if document is None:
        return DEFAULT_NAME
    name = document.get("name", DEFAULT_NAME) if isinstance(document, dict) else None
    return name if isinstance(name, str) and is_lab_name(name) else None


def quick_report(name: str) -> dict[str, Any] | None:
    """The `lab status -o json` report of lab `name`, or None when the steps must be asked."""
    paths = LabPaths.for_lab(name)
    state = LabState.load(paths, name)  # a damaged state is refused here as everywhere
    config = state.document.get("config")
    if not state.exists or not isinstance(config, dict):
        return None
    if config.get("provider") != "local" or (config.get("cluster") or {}).get("driver") != "minikube":
        return None
    cluster = _cluster(name, config["cluster"], state)
    if cluster is None:
        return None
    report: dict[str, Any] = {"lab": name, "exists": True, "state_dir": str(paths.root)}
    report.update(_identity(config, paths, state))
    report["cluster"] = cluster
    report.update(_kubeconfig(name, config, state))
    report.update(_room(config, state))
    return report


def _identity(config: dict[str, Any], paths: LabPaths, state: LabState) -> dict[str, Any]:
    """As IdentityStep.status with LocalProvider.status."""
    from .providers.local.issuer.files import host_address
    from .providers.local.issuer.process import IssuerProcess
    from .providers.local.record import LocalRecord

    local = config.get("local") or {}
    recorded = LocalRecord.from_dict(state.document["sections"].get("provider") or {})
    try:
        listen = local.get("listen") or _node_host_address(str(config["cluster"]["profile"])) or "0.0.0.0"
        pid = IssuerProcess(paths.issuer).find(host_address(listen), local["port"])
        facts: dict[str, Any] = {
            "issuer_url": recorded.issuer_url or f"https://{local['hostname']}:{local['port']}",
            "client_id": recorded.client_id or f"oidc-lab-{config['name']}",
            "port": recorded.port or local["port"],
            "running": pid is not None,
            "pid": pid,
            "users": list(recorded.users),
        }
    except LabError as exc:
        facts = {"error": exc.message}
    issuer = state.get(IssuerRecord)
    return {"provider": "local", "issuer_url": issuer.url if issuer else None,
            "client_id": issuer.client_id if issuer else None, "identity_provider": facts}


def _node_host_address(profile: str) -> str | None:
    """As Minikube.node_host_address: the profile network's gateway, when this machine has it."""
    gateway = kic_gateway(profile_config(profile) or {})
    return gateway if gateway and is_local_address(gateway) else None


def _cluster(name: str, lab_cluster: dict[str, Any], state: LabState) -> dict[str, Any] | None:
    """As ClusterStep.status with Minikube.status; None when only `minikube status` can say."""
    from .cluster.authconfig import AuthenticationFile
    from .cluster.modes import hash_in_metrics, kubernetes_version, resolve_mode, structured_status
    from .kubeconfig import Kubeconfig, kubeconfig_path

    profile = str(lab_cluster.get("profile"))
    facts: dict[str, Any] = {"driver": "minikube", "profile": profile}
    config = profile_config(profile)
    if config is None:
        facts["error"] = f"minikube profile {profile!r} does not exist"
        return facts
    options = extra_options(config)
    try:
        kubeconfig = Kubeconfig(kubeconfig_path()).document
    except LabError:
        return None
    if not apiserver_answers(profile, kubeconfig):
        return None
    record = state.get(ClusterRecord)
    wanted = (record.options if record else None) or ()
    facts["running"] = True
    facts["oidc_flags_in_place"] = bool(wanted) and all(o in options for o in wanted if o.managed)
    facts["apiserver_options"] = [str(o) for o in options if o.managed]
    facts["authentication"] = resolve_mode(str(lab_cluster.get("authentication", "auto")),
                                           kubernetes_version({"Config": config}))
    if (record and record.mode == "config") or facts["authentication"] == "config":
        def loaded_hash() -> str | None:
            metrics = apiserver_get(profile, kubeconfig, "/metrics", admin=True)
            if metrics is None:
                raise ConnectionError("the apiserver's /metrics did not answer")
            return hash_in_metrics(metrics)

        facts.update(structured_status(AuthenticationFile(minikube_home(), profile), name, options, loaded_hash))
    return facts


def _kubeconfig(name: str, config: dict[str, Any], state: LabState) -> dict[str, Any]:
    """As KubeconfigStep.status."""
    recorded = state.get(KubeconfigRecord)
    contexts = set(recorded.contexts if recorded else ())
    users = []
    for user in config.get("users") or []:
        handle = user_handle(user.get("email"), user.get("username"))
        context = context_name(name, handle)
        users.append({"user": handle, "email": user.get("email"), "role": user.get("role"),
                      "groups": list(user.get("groups") or []), "context": context if context in contexts else None})
    return {"kubeconfig": recorded.path if recorded else None, "users": users}


def _room(config: dict[str, Any], state: LabState) -> dict[str, Any]:
    """As RoomStep.status (the handouts record is read as the JSON it is: its module builds sheets)."""
    recorded = state.document["sections"].get("handouts") or {}
    room = config.get("room")
    return {"room": {"address": room.get("address") if isinstance(room, dict) else None,
                     "handouts": recorded.get("folder"), "handout_files": len(recorded.get("files") or [])}}

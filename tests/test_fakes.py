"""The doubles behave like minikube and kube-apiserver where oidc-lab can notice.

Everything here runs the fake `minikube` executable from PATH and the real kubectl binary, as a
user (or the product) would.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import yaml

from tests.fakes.minikube import apiserver_pid
from tests.fakes.oidc_issuer import TestIssuer
from tests.fakes.sandbox import LabEnv

CA_NODE_PATH = "/var/lib/minikube/certs/test-issuer.crt"


def start_trusting(env: LabEnv, issuer: TestIssuer, *extra: str, issuer_url: str | None = None,
                   profile: str = "minikube") -> None:
    """`minikube start` with the OIDC flags a lab sets, the issuer's CA placed for the node."""
    env.write_host_file(CA_NODE_PATH, issuer.ca_pem)
    flags = {
        "oidc-issuer-url": issuer_url or issuer.url,
        "oidc-client-id": issuer.client_id,
        "oidc-username-claim": "email",
        "oidc-groups-claim": "groups",
        "oidc-ca-file": CA_NODE_PATH,
        "authorization-mode": "Node,RBAC",
    }
    for item in extra:
        key, _, value = item.partition("=")
        flags[key] = value
    args = [f"--extra-config=apiserver.{key}={value}" for key, value in flags.items()]
    started = env.minikube("start", "-p", profile, *args)
    assert started.returncode == 0, started.stdout + started.stderr


def whoami(env: LabEnv, token: str, context: str = "token-user"):
    if context not in [c["name"] for c in env.kubeconfig_document().get("contexts") or []]:
        env.add_token_context(context)
    return env.kubectl("--token", token, "auth", "whoami", "-o", "json", context=context)


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def wait_until_accepted(env: LabEnv, token: str, attempts: int = 100):
    """The authenticator initializes in the background, like the real one: poll as a user would retry."""
    for _ in range(attempts):
        result = whoami(env, token)
        if result.returncode == 0:
            return result
        time.sleep(0.1)
    return result


# the admin's view -------------------------------------------------------------------------------
def test_admin_kubectl_lists_default_clusterroles_and_the_kubernetes_service(minikube_profile):
    roles = minikube_profile.kubectl("get", "clusterroles")
    assert roles.returncode == 0, roles.stderr
    names = [line.split()[0] for line in roles.stdout.splitlines()[1:]]
    assert {"cluster-admin", "admin", "edit", "view"} <= set(names)
    assert roles.stdout.splitlines()[0].split() == ["NAME", "CREATED", "AT"]

    services = minikube_profile.kubectl("get", "services")
    assert services.returncode == 0, services.stderr
    header, row = services.stdout.splitlines()[:2]
    assert header.split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert row.split()[:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]


def test_admin_is_the_profiles_client_certificate(minikube_profile):
    result = minikube_profile.kubectl("auth", "whoami", "-o", "json")
    info = json.loads(result.stdout)["status"]["userInfo"]
    assert info["username"] == "minikube-user"
    assert "system:masters" in info["groups"]


def test_kubernetes_python_client_as_admin_creates_reads_and_gets_real_errors(minikube_profile):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = client.RbacAuthorizationV1Api(config.new_client_from_config(str(minikube_profile.kubeconfig), context="minikube"))
    body = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "lab-reader", "labels": {"app.kubernetes.io/managed-by": "oidc-lab"}},
            "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list"]}]}
    created = api.create_cluster_role(body)
    assert created.metadata.uid and created.metadata.resource_version
    with pytest.raises(ApiException) as duplicate:
        api.create_cluster_role(body)
    assert duplicate.value.status == 409
    assert json.loads(duplicate.value.body)["reason"] == "AlreadyExists"
    managed = api.list_cluster_role(label_selector="app.kubernetes.io/managed-by=oidc-lab")
    assert [role.metadata.name for role in managed.items] == ["lab-reader"]
    api.patch_cluster_role("lab-reader", {"metadata": {"labels": {"oidc-lab.io/lab": "demo"}}})
    assert api.read_cluster_role("lab-reader").metadata.labels["oidc-lab.io/lab"] == "demo"
    api.delete_cluster_role("lab-reader")
    with pytest.raises(ApiException) as missing:
        api.read_cluster_role("lab-reader")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'clusterroles.rbac.authorization.k8s.io "lab-reader" not found'


def test_a_stale_resource_version_conflicts(minikube_profile):
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = client.CoreV1Api(config.new_client_from_config(str(minikube_profile.kubeconfig), context="minikube"))
    api.create_namespaced_config_map("default", {"metadata": {"name": "settings"}, "data": {"a": "1"}})
    first = api.read_namespaced_config_map("settings", "default")
    api.replace_namespaced_config_map("settings", "default", {"metadata": {"name": "settings",
                                      "resourceVersion": first.metadata.resource_version}, "data": {"a": "2"}})
    with pytest.raises(ApiException) as stale:
        api.replace_namespaced_config_map("settings", "default", {"metadata": {"name": "settings",
                                          "resourceVersion": first.metadata.resource_version}, "data": {"a": "3"}})
    assert stale.value.status == 409
    assert json.loads(stale.value.body)["reason"] == "Conflict"


def test_objects_survive_stop_and_start_like_etcd(minikube_profile):
    created = minikube_profile.kubectl("create", "clusterrolebinding", "alice-view", "--clusterrole=view",
                                       "--user=alice@example.com")
    assert created.returncode == 0, created.stderr
    assert minikube_profile.minikube("stop").returncode == 0
    assert minikube_profile.minikube("start").returncode == 0
    kept = minikube_profile.kubectl("get", "clusterrolebinding", "alice-view", "-o", "json")
    assert kept.returncode == 0, kept.stderr
    assert json.loads(kept.stdout)["subjects"][0]["name"] == "alice@example.com"


# minikube's files and flags ---------------------------------------------------------------------
def test_state_lives_under_minikube_home_plus_dot_minikube(minikube_profile):
    mk = minikube_profile.minikube_home / ".minikube"
    assert (mk / "ca.crt").is_file()
    assert (mk / "profiles" / "minikube" / "config.json").is_file()
    assert (mk / "profiles" / "minikube" / "client.crt").is_file()
    assert minikube_profile.profile_config()["KubernetesConfig"]["ExtraOptions"] is None


def test_minikube_home_already_ending_in_dot_minikube_is_used_as_is(lab_env, monkeypatch):
    explicit = lab_env.root / "elsewhere" / ".minikube"
    monkeypatch.setenv("MINIKUBE_HOME", str(explicit))
    assert lab_env.minikube("start", "-p", "other").returncode == 0
    try:
        assert (explicit / "ca.crt").is_file()
        assert (explicit / "profiles" / "other" / "config.json").is_file()
        assert not (explicit / ".minikube").exists()
    finally:
        lab_env.minikube("stop", "-p", "other")


def test_any_extra_config_replaces_the_whole_list_and_none_keeps_it(lab_env):
    assert lab_env.minikube("start", "--extra-config=apiserver.v=2",
                            "--extra-config=kubelet.max-pods=50").returncode == 0
    assert lab_env.extra_options() == [{"Component": "apiserver", "Key": "v", "Value": "2"},
                                       {"Component": "kubelet", "Key": "max-pods", "Value": "50"}]
    assert lab_env.minikube("stop").returncode == 0
    assert lab_env.minikube("start").returncode == 0
    assert [o["Key"] for o in lab_env.extra_options()] == ["v", "max-pods"]

    assert lab_env.minikube("start", "--extra-config=apiserver.anonymous-auth=true").returncode == 0
    assert lab_env.extra_options() == [{"Component": "apiserver", "Key": "anonymous-auth", "Value": "true"}]


def test_a_repeated_key_keeps_only_its_last_value(lab_env):
    started = lab_env.minikube("start", "--extra-config=apiserver.oidc-required-claim=hd=a.example",
                               "--extra-config=apiserver.oidc-required-claim=tier=gold")
    assert started.returncode == 0, started.stderr
    assert lab_env.extra_options() == [{"Component": "apiserver", "Key": "oidc-required-claim", "Value": "tier=gold"}]


def test_bare_rbac_authorization_mode_breaks_start(lab_env):
    broken = lab_env.minikube("start", "--extra-config=apiserver.authorization-mode=RBAC")
    assert broken.returncode != 0
    assert "apiserver healthz never reported healthy" in broken.stderr
    status = lab_env.minikube("status", "-o", "json")
    assert json.loads(status.stdout)["APIServer"] == "Stopped"
    assert status.returncode != 0

    fixed = lab_env.minikube("start", "--extra-config=apiserver.authorization-mode=Node,RBAC")
    assert fixed.returncode == 0, fixed.stderr


def test_an_unknown_apiserver_flag_breaks_start_and_the_log_says_why(lab_env):
    broken = lab_env.minikube("start", "--extra-config=apiserver.oidc-issuer=https://typo.example")
    assert broken.returncode != 0
    assert "unknown flag: --oidc-issuer" in lab_env.minikube("logs").stdout


def test_an_issuer_that_is_not_https_breaks_start(lab_env):
    broken = lab_env.minikube("start", "--extra-config=apiserver.oidc-issuer-url=http://host.minikube.internal:1",
                              "--extra-config=apiserver.oidc-client-id=k")
    assert broken.returncode != 0
    assert "must use https scheme" in lab_env.apiserver_log()


def test_a_missing_oidc_ca_file_breaks_start(lab_env):
    broken = lab_env.minikube("start", "--extra-config=apiserver.oidc-issuer-url=https://host.minikube.internal:1",
                              "--extra-config=apiserver.oidc-client-id=k",
                              f"--extra-config=apiserver.oidc-ca-file={CA_NODE_PATH}")
    assert broken.returncode != 0
    assert f'failed to read oidc-ca-file "{CA_NODE_PATH}"' in lab_env.apiserver_log()


def test_stop_removes_the_profiles_kubeconfig_entries_and_start_restores_them(lab_env):
    other = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443"}}],
        "users": [{"name": "prod-admin", "user": {"token": "t"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}}],
        "current-context": "prod",
    }
    lab_env.kubeconfig.write_text(yaml.safe_dump(other))

    assert lab_env.minikube("start").returncode == 0
    started = lab_env.kubeconfig_document()
    assert started["current-context"] == "minikube"
    assert {c["name"] for c in started["clusters"]} == {"prod", "minikube"}
    entry = next(c for c in started["clusters"] if c["name"] == "minikube")["cluster"]
    assert entry["server"].startswith("https://127.0.0.1:")
    assert entry["certificate-authority"] == str(lab_env.mk / "ca.crt")

    assert lab_env.minikube("stop").returncode == 0
    stopped = lab_env.kubeconfig_document()
    assert stopped["current-context"] == ""
    for key in ("clusters", "users", "contexts"):
        assert stopped[key] == other[key]

    assert lab_env.minikube("start").returncode == 0
    assert lab_env.kubeconfig_document()["current-context"] == "minikube"
    assert lab_env.kubectl("get", "namespaces").returncode == 0


def test_stop_keeps_a_current_context_that_points_elsewhere(minikube_profile):
    assert minikube_profile.kubectl("config", "set-context", "mine", "--cluster=minikube").returncode == 0
    assert minikube_profile.kubectl("config", "use-context", "mine").returncode == 0
    assert minikube_profile.minikube("stop").returncode == 0
    assert minikube_profile.kubeconfig_document()["current-context"] == "mine"


def test_status_reports_running_and_stopped_with_exit_code_bits(minikube_profile):
    running = minikube_profile.minikube("status", "-p", "minikube", "-o", "json")
    assert running.returncode == 0
    assert json.loads(running.stdout) == {"Name": "minikube", "Host": "Running", "Kubelet": "Running",
                                          "APIServer": "Running", "Kubeconfig": "Configured", "Worker": False}
    minikube_profile.minikube("stop", "-p", "minikube")
    stopped = minikube_profile.minikube("status", "-p", "minikube", "-o", "json")
    assert stopped.returncode == 7
    assert json.loads(stopped.stdout)["Host"] == "Stopped"


def test_a_missing_profile_is_exit_85_with_minikubes_message(lab_env):
    missing = lab_env.minikube("status", "-p", "nope", "-o", "json")
    assert missing.returncode == 85
    assert 'Profile "nope" not found. Run "minikube profile list" to view all profiles.' in missing.stdout
    assert lab_env.minikube("stop", "-p", "nope").returncode == 85


def test_profile_list_json_carries_each_profiles_whole_config(minikube_profile):
    listed = minikube_profile.minikube("profile", "list", "-o", "json")
    assert listed.returncode == 0
    document = json.loads(listed.stdout)
    assert document["invalid"] == []
    (profile,) = document["valid"]
    assert profile["Name"] == "minikube" and profile["Status"] == "OK"
    assert profile["Config"]["KubernetesConfig"]["ClusterName"] == "minikube"
    minikube_profile.minikube("stop")
    assert json.loads(minikube_profile.minikube("profile", "list", "-o", "json").stdout)["valid"][0]["Status"] == "Stopped"


def test_delete_removes_the_profile_and_its_apiserver(minikube_profile):
    pid = apiserver_pid(minikube_profile.profile())
    assert pid is not None
    assert minikube_profile.minikube("delete").returncode == 0
    assert not minikube_profile.profile().dir.exists()
    assert not _alive(pid)
    assert json.loads(minikube_profile.minikube("profile", "list", "-o", "json").stdout) == {"invalid": [], "valid": []}


def test_unknown_subcommand_exits_14_and_version_answers(lab_env):
    assert lab_env.minikube("frobnicate").returncode == 14
    version = lab_env.minikube("version", "-o", "json")
    assert json.loads(version.stdout)["minikubeVersion"].startswith("v1.")


def test_every_invocation_is_recorded(lab_env):
    lab_env.minikube("version")
    lab_env.minikube("status", "-p", "x", "-o", "json")
    assert lab_env.minikube_calls() == [["version"], ["status", "-p", "x", "-o", "json"]]


def test_teardown_leaves_no_apiserver_running(tmp_path, monkeypatch):
    env = LabEnv.create(tmp_path / "box", monkeypatch)
    assert env.minikube("start", "-p", "a").returncode == 0
    pid = apiserver_pid(env.profile("a"))
    env.close()
    assert pid is not None and not _alive(pid)


# OIDC, judged like kube-apiserver ---------------------------------------------------------------
def test_an_oidc_token_is_accepted_and_whoami_shows_the_email(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    result = wait_until_accepted(lab_env, oidc_issuer.mint(email="alice@example.com", groups=["devs"]))
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)["status"]["userInfo"]
    assert info["username"] == "alice@example.com"
    assert info["groups"] == ["devs", "system:authenticated"]
    plain = lab_env.kubectl("--token", oidc_issuer.mint(email="alice@example.com"), "auth", "whoami",
                            context="token-user")
    assert "alice@example.com" in plain.stdout


def _flip_a_signature_byte(token: str) -> str:
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join([head, payload, signature[:middle] + flipped + signature[middle + 1:]])


REFUSALS = {
    "byte-flipped signature": (lambda i: _flip_a_signature_byte(i.mint(email="a@example.com")),
                               "failed to verify signature"),
    "expired": (lambda i: i.mint(email="a@example.com", expires_in=-5), "oidc: token is expired"),
    "wrong audience": (lambda i: i.mint(email="a@example.com", aud="someone-else"),
                       'oidc: expected audience "kubernetes" got "someone-else"'),
    "email not verified": (lambda i: i.mint(email="a@example.com", email_verified=False), "oidc: email not verified"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_token_is_refused_with_401_and_the_reason_is_in_minikube_logs(lab_env, oidc_issuer, case):
    start_trusting(lab_env, oidc_issuer)
    assert wait_until_accepted(lab_env, oidc_issuer.mint(email="ok@example.com")).returncode == 0
    make_token, reason = REFUSALS[case]
    refused = whoami(lab_env, make_token(oidc_issuer))
    assert refused.returncode != 0
    assert "You must be logged in to the server (Unauthorized)" in refused.stderr
    assert reason in lab_env.minikube("logs").stdout


def test_iss_without_the_configured_trailing_slash_is_refused(lab_env, oidc_issuer):
    oidc_issuer.trailing_slash = True  # configured and advertised with "/", as Auth0 does
    start_trusting(lab_env, oidc_issuer)
    assert wait_until_accepted(lab_env, oidc_issuer.mint(email="ok@example.com")).returncode == 0
    refused = whoami(lab_env, oidc_issuer.mint(email="ok@example.com", iss=oidc_issuer.url.rstrip("/")))
    assert refused.returncode != 0
    # oidc.go `hasCorrectIssuer` skips it: the log names no reason (see tests/test_fake_apiserver_oidc.py)
    assert 'err="[invalid bearer token]"' in lab_env.minikube("logs").stdout


def test_until_discovery_succeeds_tokens_are_refused_as_not_initialized(lab_env, oidc_issuer):
    oidc_issuer.available = False
    start_trusting(lab_env, oidc_issuer)
    token = oidc_issuer.mint(email="late@example.com")
    assert whoami(lab_env, token).returncode != 0
    assert "oidc: authenticator not initialized" in lab_env.minikube("logs").stdout
    oidc_issuer.available = True
    assert wait_until_accepted(lab_env, token).returncode == 0


def test_discovery_advertising_another_issuer_never_initializes(lab_env, oidc_issuer):
    oidc_issuer.discovery_issuer = oidc_issuer.url + "/"
    start_trusting(lab_env, oidc_issuer)
    for _ in range(50):
        if "issuer did not match the issuer returned by provider" in lab_env.apiserver_log():
            break
        time.sleep(0.1)
    assert whoami(lab_env, oidc_issuer.mint(email="a@example.com")).returncode != 0
    assert "issuer did not match the issuer returned by provider" in lab_env.apiserver_log()


def test_without_the_ca_file_the_issuer_is_not_trusted(lab_env, oidc_issuer):
    started = lab_env.minikube("start", f"--extra-config=apiserver.oidc-issuer-url={oidc_issuer.url}",
                               "--extra-config=apiserver.oidc-client-id=kubernetes")
    assert started.returncode == 0
    for _ in range(50):
        if "x509: certificate signed by unknown authority" in lab_env.apiserver_log():
            break
        time.sleep(0.1)
    assert "x509: certificate signed by unknown authority" in lab_env.apiserver_log()


def test_an_issuer_on_the_hosts_loopback_is_unreachable_from_the_node(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer, issuer_url=f"https://127.0.0.1:{oidc_issuer.port}")
    for _ in range(50):
        if "connection refused" in lab_env.apiserver_log():
            break
        time.sleep(0.1)
    assert "inside the node 127.0.0.1 is the node itself" in lab_env.apiserver_log()


def test_a_claim_other_than_email_gets_the_issuer_prefix_unless_disabled(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer, "oidc-username-claim=sub", "oidc-groups-prefix=oidc:")
    result = wait_until_accepted(lab_env, oidc_issuer.mint("u-42", groups="admins"))
    info = json.loads(result.stdout)["status"]["userInfo"]
    assert info["username"] == f"{oidc_issuer.url}#u-42"
    assert info["groups"] == ["oidc:admins", "system:authenticated"]

    start_trusting(lab_env, oidc_issuer, "oidc-username-claim=sub", "oidc-username-prefix=-")
    result = wait_until_accepted(lab_env, oidc_issuer.mint("u-42"))
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == "u-42"


def test_a_required_claim_must_match(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer, "oidc-required-claim=hd=example.com")
    assert wait_until_accepted(lab_env, oidc_issuer.mint(email="a@example.com", hd="example.com")).returncode == 0
    assert whoami(lab_env, oidc_issuer.mint(email="a@example.com", hd="evil.example")).returncode != 0
    assert "oidc: required claim hd value does not match" in lab_env.minikube("logs").stdout


def test_a_changed_ca_file_needs_a_restart(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    assert wait_until_accepted(lab_env, oidc_issuer.mint(email="a@example.com")).returncode == 0
    snapshot = lab_env.profile().node_root / CA_NODE_PATH.lstrip("/")
    lab_env.write_host_file(CA_NODE_PATH, b"not yet copied\n")
    assert snapshot.read_bytes() == oidc_issuer.ca_pem
    lab_env.minikube("stop")
    lab_env.minikube("start")
    assert snapshot.read_bytes() == b"not yet copied\n"


# RBAC ---------------------------------------------------------------------------------------------
def test_a_bound_oidc_user_can_get_services_and_an_unbound_one_gets_403(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    bound = lab_env.kubectl("create", "rolebinding", "alice-view", "-n", "default", "--clusterrole=view",
                            "--user=alice@example.com", context="minikube")
    assert bound.returncode == 0, bound.stderr
    alice = oidc_issuer.mint(email="alice@example.com")
    assert wait_until_accepted(lab_env, alice).returncode == 0

    allowed = lab_env.kubectl("--token", alice, "get", "services", context="token-user")
    assert allowed.returncode == 0, allowed.stderr
    assert "kubernetes" in allowed.stdout

    bob = oidc_issuer.mint(email="bob@example.com")
    denied = lab_env.kubectl("--token", bob, "get", "services", context="token-user")
    assert denied.returncode != 0
    assert ('Error from server (Forbidden): services is forbidden: User "bob@example.com" cannot list resource '
            '"services" in API group "" in the namespace "default"') in denied.stderr


def test_a_group_binding_from_the_groups_claim_grants_access(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    assert lab_env.kubectl("create", "clusterrolebinding", "devs-edit", "--clusterrole=edit",
                           "--group=devs", context="minikube").returncode == 0
    token = oidc_issuer.mint(email="carol@example.com", groups=["devs"])
    assert wait_until_accepted(lab_env, token).returncode == 0
    can = lab_env.kubectl("--token", token, "auth", "can-i", "create", "configmaps", "-n", "kube-public",
                          context="token-user")
    assert can.stdout.strip() == "yes"
    cannot = lab_env.kubectl("--token", token, "auth", "can-i", "create", "clusterroles", context="token-user")
    assert cannot.stdout.strip() == "no"


def test_impersonation_needs_the_impersonate_verb(minikube_profile):
    as_bob = minikube_profile.kubectl("get", "services", "--as", "bob")
    assert 'User "bob" cannot list resource "services"' in as_bob.stderr
    assert minikube_profile.kubectl("create", "clusterrolebinding", "bob-view", "--clusterrole=view",
                                    "--user=bob").returncode == 0
    assert minikube_profile.kubectl("get", "services", "--as", "bob").returncode == 0


def test_kubectl_apply_creates_then_configures_and_delete_removes(minikube_profile, tmp_path):
    manifest = tmp_path / "role.yaml"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "admin-role", "labels": {"app.kubernetes.io/managed-by": "oidc-lab"}},
            "rules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}]}
    manifest.write_text(yaml.safe_dump(role))
    first = minikube_profile.kubectl("apply", "-f", str(manifest))
    assert "admin-role created" in first.stdout, first.stderr
    assert "admin-role unchanged" in minikube_profile.kubectl("apply", "-f", str(manifest)).stdout
    role["rules"][0]["verbs"] = ["get", "list"]
    manifest.write_text(yaml.safe_dump(role))
    assert "admin-role configured" in minikube_profile.kubectl("apply", "-f", str(manifest)).stdout
    rules = minikube_profile.kubectl("get", "clusterrole", "admin-role", "-o", "jsonpath={.rules[0].verbs}")
    assert json.loads(rules.stdout) == ["get", "list"]
    assert minikube_profile.kubectl("delete", "-f", str(manifest)).returncode == 0
    assert "NotFound" in minikube_profile.kubectl("get", "clusterrole", "admin-role").stderr


def test_a_bindings_role_ref_cannot_change(minikube_profile):
    assert minikube_profile.kubectl("create", "clusterrolebinding", "x", "--clusterrole=view",
                                    "--user=a").returncode == 0
    changed = minikube_profile.kubectl("patch", "clusterrolebinding", "x", "--type=merge",
                                       "-p", '{"roleRef": {"name": "edit"}}')
    assert changed.returncode != 0
    assert 'The ClusterRoleBinding "x" is invalid: roleRef' in changed.stderr and "cannot change roleRef" in changed.stderr


def test_namespace_names_are_validated_like_kubernetes(minikube_profile):
    refused = minikube_profile.kubectl("create", "namespace", "Team_A")
    assert 'The Namespace "Team_A" is invalid: metadata.name' in refused.stderr
    assert minikube_profile.kubectl("create", "namespace", "team-a").returncode == 0
    assert "team-a" in minikube_profile.kubectl("get", "namespaces").stdout


def test_an_apiserver_whose_test_run_died_shuts_itself_down(lab_env, monkeypatch):
    owner = subprocess.Popen(["sleep", "30"])
    try:
        monkeypatch.setenv("FAKE_APISERVER_WATCH_PID", str(owner.pid))
        assert lab_env.minikube("start").returncode == 0
        pid = apiserver_pid(lab_env.profile())
        assert pid is not None
    finally:
        owner.kill()
        owner.wait()
    for _ in range(100):
        if apiserver_pid(lab_env.profile()) is None:
            break
        time.sleep(0.05)
    assert apiserver_pid(lab_env.profile()) is None
    assert "owner process" in lab_env.apiserver_log()


def test_failures_can_be_injected_per_command(lab_env, monkeypatch):
    monkeypatch.setenv("FAKE_MINIKUBE_FAIL", "start=80")
    failed = lab_env.minikube("start")
    assert failed.returncode == 80
    assert "injected failure" in failed.stderr
    assert lab_env.minikube("version").returncode == 0


def _get_anonymously(env: LabEnv, path: str) -> tuple[int, dict]:
    import http.client
    import ssl

    cluster = next(c for c in env.kubeconfig_document()["clusters"] if c["name"] == "minikube")["cluster"]
    port = int(cluster["server"].rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_anonymous_requests_follow_anonymous_auth(minikube_profile):
    code, status = _get_anonymously(minikube_profile, "/api/v1/namespaces/default/services")
    assert code == 403
    assert status["message"] == ('services is forbidden: User "system:anonymous" cannot list resource "services" '
                                 'in API group "" in the namespace "default"')
    assert _get_anonymously(minikube_profile, "/version")[0] == 200

    assert minikube_profile.minikube("start", "--extra-config=apiserver.anonymous-auth=false").returncode == 0
    code, status = _get_anonymously(minikube_profile, "/version")
    assert (code, status["reason"]) == (401, "Unauthorized")


def test_names_with_colons_are_found_and_v3_logs_every_request(lab_env):
    from kubernetes import client, config

    assert lab_env.minikube("start", "--extra-config=apiserver.v=3").returncode == 0
    api = client.RbacAuthorizationV1Api(config.new_client_from_config(str(lab_env.kubeconfig), context="minikube"))
    assert api.read_cluster_role("system:basic-user").metadata.name == "system:basic-user"
    line = 'verb="GET" URI="/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Abasic-user"'
    deadline = time.monotonic() + 5  # httplog writes its line once the answer is sent, as the real one does
    while line not in lab_env.apiserver_log() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert line in lab_env.apiserver_log()


def test_a_rotated_signing_key_is_fetched_again_and_the_old_one_refused(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    old = oidc_issuer.mint(email="a@example.com")
    assert wait_until_accepted(lab_env, old).returncode == 0
    oidc_issuer.rotate_key()
    assert whoami(lab_env, oidc_issuer.mint(email="a@example.com")).returncode == 0
    assert whoami(lab_env, old).returncode != 0
    assert "failed to verify signature" in lab_env.apiserver_log()


@pytest.mark.parametrize("selector, labels, selected", [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app", {"app": ""}, True),
    ("!app", {"app": "x"}, False),
    ("tier in (a, b),app", {"tier": "b", "app": "x"}, True),
    ("tier notin (a,b)", {"tier": "a"}, False),
    ("tier notin (a,b)", {}, True),
    ("tier in (a)", {}, False),
])
def test_label_selectors_select_like_kubernetes(selector, labels, selected):
    from tests.fakes.apiserver_store import matches_labels

    assert matches_labels(selector, labels) is selected

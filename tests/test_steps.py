"""The steps of a lab: the records they keep in the state, and what they derive from it."""

from __future__ import annotations

import json

from provisioner.cluster.options import ExtraOption
from provisioner.config import parse_config
from provisioner.fsutil import write_json
from provisioner.paths import LabPaths
from provisioner.providers.local.provider import LocalProvider
from provisioner.records import ClusterRecord, IssuerRecord, KubeconfigRecord, ManifestsRecord
from provisioner.state import LabState
from provisioner.steps import STEPS, LabContext
from provisioner.steps.rbac import rbac_objects
from tests.support.quiet import SilentReporter

LAB = parse_config({
    "name": "demo",
    "oidc": {"groups_claim": "groups", "groups_prefix": "oidc:"},
    "users": [{"email": "ada@example.com"}],
    "groups": [{"name": "viewers", "role": "view"}],
})

#: A state file as the first versions wrote it (before the records were typed).
OLD_STATE = {
    "format": 1,
    "lab": "demo",
    "provider_kind": "local",
    "issuer": {"url": "https://host.minikube.internal:8443", "client_id": "oidc-lab-demo"},
    "sections": {
        "provider": {"port": 8443, "users": ["ada"]},
        "cluster": {
            "profile": "minikube",
            "previous_options": [{"Component": "kubelet", "Key": "max-pods", "Value": "50"}],
            "options": [{"Component": "kubelet", "Key": "max-pods", "Value": "50"},
                        {"Component": "apiserver", "Key": "authorization-mode", "Value": "Node,RBAC"}],
            "ca_file": "CA_FILE",
        },
        "manifests": {"objects": ["ClusterRole/admin-role", "ClusterRoleBinding/oidc-lab:demo:view"]},
        "kubeconfig": {"path": "/home/ada/.kube/config", "contexts": ["demo-ada"]},
    },
}


def old_state(tmp_path) -> tuple[LabPaths, dict]:
    paths = LabPaths(tmp_path / "demo")
    ca = tmp_path / "issuer-ca.crt"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    document = json.loads(json.dumps(OLD_STATE).replace("CA_FILE", str(ca)))
    write_json(paths.state, document)
    return paths, document


def test_an_old_state_file_loads_into_typed_records_and_is_written_back_unchanged(tmp_path):
    paths, document = old_state(tmp_path)
    state = LabState.load(paths, "demo")
    cluster = state.get(ClusterRecord)
    assert cluster.profile == "minikube"
    assert cluster.previous_options == (ExtraOption("kubelet", "max-pods", "50"),)
    assert state.get(ManifestsRecord).objects == ("ClusterRole/admin-role", "ClusterRoleBinding/oidc-lab:demo:view")
    assert state.get(KubeconfigRecord).contexts == ("demo-ada",)
    assert state.get(IssuerRecord).url == "https://host.minikube.internal:8443"
    for record in (cluster, state.get(ManifestsRecord), state.get(KubeconfigRecord), state.get(IssuerRecord)):
        state.put(record)
    assert json.loads(paths.state.read_text()) == document


def test_a_forgotten_record_is_gone_from_the_file(tmp_path):
    paths, _ = old_state(tmp_path)
    state = LabState.load(paths, "demo")
    state.forget(KubeconfigRecord)
    reloaded = LabState.load(paths, "demo")
    assert reloaded.get(KubeconfigRecord) is None and reloaded.get(ClusterRecord) is not None


def test_status_plan_and_doctor_read_the_issuer_and_its_ca_from_the_state(tmp_path):
    paths, _ = old_state(tmp_path)
    with LabContext(LAB, SilentReporter(), paths) as ctx:
        settings = ctx.settings
        assert settings.issuer_url == "https://host.minikube.internal:8443"
        assert settings.client_id == "oidc-lab-demo"
        assert settings.ca_pem == b"-----BEGIN CERTIFICATE-----\n"
        assert ctx.kubeconfig_path is not None and str(ctx.kubeconfig_path) == "/home/ada/.kube/config"


def test_a_lab_that_is_not_up_has_no_settings_yet(tmp_path):
    with LabContext(LAB, SilentReporter(), LabPaths(tmp_path / "demo")) as ctx:
        assert ctx.settings is None and ctx.kubeconfig_path is None
        assert not ctx.paths.root.exists()


class OrganisationGroups(LocalProvider):
    """An IdP whose groups claim names a group with its organisation, as Casdoor does."""

    def group_claim_value(self, group: str) -> str:
        return f"acme/{group}"


def test_rbac_binds_groups_as_the_idp_names_them_in_the_groups_claim(tmp_path):
    paths = LabPaths(tmp_path / "demo")
    with LabContext(LAB, SilentReporter(), paths) as ctx:
        ctx.provider = OrganisationGroups(LAB, paths, ctx.ui)
        from provisioner.providers import Issuer

        objects = rbac_objects(ctx, ctx.settings_for(Issuer("https://issuer.example", "lab")))
    binding = next(o for o in objects if o["metadata"]["name"] == "oidc-lab:demo:view")
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oidc:acme/viewers"}]


def test_up_runs_the_provider_first_and_down_runs_it_last():
    assert [step.name for step in STEPS] == ["provider", "cluster", "rbac", "kubeconfig", "verify", "room"]


def test_verify_paces_sign_ins_within_the_idps_token_limits():
    from provisioner.steps.verify import SignInPace

    clock = [0.0]
    pace = SignInPace(((30.0, 30), (5.0, 300)), clock=lambda: clock[0],
                      sleep=lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    moments = []
    for _ in range(200):
        pace.wait()
        moments.append(clock[0])
    # the IdP's bucket (30 at once, then 30 a second) always has the request to spare ...
    assert all(moment >= (n + 1 - 30) / 30 for n, moment in enumerate(moments))
    # ... and the pace stays close to that limit, not far under it
    assert moments[28] == 0.0 and moments[-1] < (200 - 30) / 30 * 1.05


def test_an_idp_the_lab_runs_is_not_paced():
    from provisioner.steps.verify import SignInPace

    pace = SignInPace((), sleep=lambda seconds: (_ for _ in ()).throw(AssertionError("slept")))
    for _ in range(1000):
        pace.wait()

"""RBAC rendered from templates/: the recipe's admin-role and one binding per role, labelled as the lab's."""

from __future__ import annotations

import pytest

from provisioner.config import parse_config
from provisioner.errors import LabError
from provisioner.manifests import rbac_for, render

LAB = parse_config({
    "name": "demo",
    "users": [{"email": "ada@example.com"}, {"email": "bob@example.com", "role": "view"}, {"email": "cy@example.com", "role": None}],
    "groups": [{"name": "devs", "role": "edit"}],
})


def test_each_role_gets_one_binding_with_users_and_prefixed_groups():
    rbac = rbac_for(LAB, {"ada": "ada@example.com", "bob": "bob@example.com", "cy": "cy@example.com"},
                            lambda g: f"oidc:{g}")
    objects = render(LAB, rbac)
    by_name = {o["metadata"]["name"]: o for o in objects}
    # The lab's own ClusterRole is named per lab (issue 11): two labs on one cluster never share it.
    assert set(by_name) == {"demo-admin-role", "oidc-lab:demo:admin-role", "oidc-lab:demo:edit", "oidc-lab:demo:view"}
    assert by_name["demo-admin-role"]["rules"] == [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    assert by_name["oidc-lab:demo:admin-role"]["roleRef"]["name"] == "demo-admin-role"
    assert by_name["oidc-lab:demo:view"]["roleRef"]["name"] == "view"
    assert [s["name"] for s in by_name["oidc-lab:demo:admin-role"]["subjects"]] == ["ada@example.com"]
    assert by_name["oidc-lab:demo:edit"]["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oidc:devs"}]
    for obj in objects:
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "oidc-lab", "oidc-lab.io/lab": "demo"}


def test_admin_role_is_only_created_when_someone_uses_it():
    lab = parse_config({"users": [{"email": "ada@example.com", "role": "view"}]})
    objects = render(lab, rbac_for(lab, {"ada": "ada@example.com"}, str))
    assert [o["kind"] for o in objects] == ["ClusterRoleBinding"]


def test_a_broken_template_stops_before_anything_is_applied(tmp_path, monkeypatch):
    (tmp_path / "_labels.yaml.j2").write_text("labels: {}\n")
    (tmp_path / "cluster-role-binding.yaml.j2").write_text("kind: ClusterRoleBinding\nmetadata: {name: {{ nope }}}\n")
    monkeypatch.setenv("OIDC_LAB_TEMPLATES", str(tmp_path))
    lab = parse_config({"users": [{"email": "ada@example.com", "role": "view"}]})
    with pytest.raises(LabError, match="cluster-role-binding.yaml.j2 failed to render"):
        render(lab, rbac_for(lab, {"ada": "ada@example.com"}, str))


def test_per_user_namespaces_come_first_with_a_role_binding_each():
    lab = parse_config({"name": "ws", "namespaces": {"per_user": True, "role": "admin"},
                        "users": [{"email": "ada.l@example.com", "role": None}]})
    objects = render(lab, rbac_for(lab, {"ada.l": "ada.l@example.com"}, str))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", "ws-ada-l"), ("RoleBinding", "oidc-lab:ws:admin")]
    binding = objects[1]
    assert binding["metadata"]["namespace"] == "ws-ada-l"
    assert binding["roleRef"]["name"] == "admin"
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "ada.l@example.com"}]

"""Merging lab users into a kubeconfig never touches anyone else's entries."""

from __future__ import annotations

import stat

import yaml

from provisioner.kubeconfig import Kubeconfig, exec_user, kubeconfig_path

EXISTING = {
    "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": "work",
    "clusters": [{"name": "work", "cluster": {"server": "https://work.example:6443"}}],
    "users": [{"name": "work-admin", "user": {"token": "s3cret"}}],
    "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work-admin"}}],
}


def test_first_kubeconfig_file_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path}/a:{tmp_path}/b")
    assert kubeconfig_path() == tmp_path / "a"
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert kubeconfig_path() == tmp_path / ".kube" / "config"


def test_merge_keeps_other_entries_makes_a_backup_and_is_private(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(EXISTING))
    config = Kubeconfig(path)
    assert config.put_user("demo-ada", exec_user("/bin/lab", ["token", "--lab", "demo", "--user", "ada"], {}))
    assert config.put_context("demo-ada", cluster="minikube", user="demo-ada")
    config.save()

    written = yaml.safe_load(path.read_text())
    assert written["current-context"] == "work"
    assert written["users"][0] == EXISTING["users"][0]
    user = next(u for u in written["users"] if u["name"] == "demo-ada")["user"]["exec"]
    assert user["apiVersion"] == "client.authentication.k8s.io/v1"
    assert user["interactiveMode"] == "IfAvailable"
    assert user["args"] == ["token", "--lab", "demo", "--user", "ada"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load((tmp_path / "config.oidc-lab.bak").read_text()) == EXISTING


def test_putting_the_same_entry_twice_is_no_change(tmp_path):
    config = Kubeconfig(tmp_path / "config")
    assert config.put_context("demo-ada", cluster="minikube", user="demo-ada")
    assert not config.put_context("demo-ada", cluster="minikube", user="demo-ada")


def test_removing_the_current_context_clears_it(tmp_path):
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({**EXISTING, "current-context": "demo-ada",
                                    "contexts": EXISTING["contexts"] + [{"name": "demo-ada", "context": {}}]}))
    config = Kubeconfig(path)
    assert config.remove("contexts", "demo-ada")
    assert config.document["current-context"] == ""
    assert [c["name"] for c in config.document["contexts"]] == ["work"]

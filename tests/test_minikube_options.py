"""The apiserver options the lab asks minikube for, and how they are merged and restored."""

from __future__ import annotations

from provisioner.oidc.settings import OidcSettings
from provisioner.cluster.minikube import ExtraOption, merge_options, minikube_home, oidc_options, restored_options


def opt(text: str) -> ExtraOption:
    component, rest = text.split(".", 1)
    key, value = rest.split("=", 1)
    return ExtraOption(component, key, value)


SETTINGS = OidcSettings(issuer_url="https://host.minikube.internal:9443", client_id="oidc-lab-demo",
                        username_claim="email", groups_claim="groups", groups_prefix="oidc:", ca_pem=b"pem")


def test_the_flags_follow_the_recipe_with_node_and_rbac():
    flags = [o.flag for o in oidc_options(SETTINGS, "/var/lib/minikube/certs/oidc-lab-demo.crt")]
    assert flags == [
        "--extra-config=apiserver.oidc-issuer-url=https://host.minikube.internal:9443",
        "--extra-config=apiserver.oidc-client-id=oidc-lab-demo",
        "--extra-config=apiserver.oidc-username-claim=email",
        "--extra-config=apiserver.oidc-groups-claim=groups",
        "--extra-config=apiserver.oidc-groups-prefix=oidc:",
        "--extra-config=apiserver.oidc-ca-file=/var/lib/minikube/certs/oidc-lab-demo.crt",
        "--extra-config=apiserver.authorization-mode=Node,RBAC",
    ]


def test_unset_settings_are_not_passed_so_the_apiserver_defaults_apply():
    settings = OidcSettings(issuer_url="https://t.auth0.com/", client_id="abc")
    keys = [o.key for o in oidc_options(settings, None)]
    assert keys == ["oidc-issuer-url", "oidc-client-id", "oidc-username-claim", "authorization-mode"]


def test_unrelated_options_are_kept_and_old_oidc_options_replaced():
    current = [opt("kubelet.max-pods=150"), opt("apiserver.oidc-issuer-url=https://old/"),
               opt("apiserver.oidc-groups-prefix=x:"), opt("apiserver.enable-admission-plugins=PodSecurity")]
    merged = merge_options(current, oidc_options(SETTINGS, None))
    assert opt("kubelet.max-pods=150") in merged
    assert opt("apiserver.enable-admission-plugins=PodSecurity") in merged
    assert opt("apiserver.oidc-issuer-url=https://old/") not in merged
    assert opt("apiserver.oidc-groups-prefix=x:") not in merged
    assert len([o for o in merged if o.key == "oidc-issuer-url"]) == 1


def test_restore_puts_back_managed_options_and_keeps_later_unrelated_ones():
    previous = [opt("kubelet.max-pods=150"), opt("apiserver.authorization-mode=Node,RBAC,Webhook")]
    current = merge_options(previous, oidc_options(SETTINGS, None)) + [opt("scheduler.v=2")]
    assert restored_options(current, previous) == [
        opt("kubelet.max-pods=150"), opt("scheduler.v=2"), opt("apiserver.authorization-mode=Node,RBAC,Webhook")]


def test_restore_of_a_profile_that_had_no_options_is_empty():
    assert restored_options(oidc_options(SETTINGS, None), []) == []


def test_minikube_home_appends_dot_minikube_unless_present(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIKUBE_HOME", str(tmp_path))
    assert minikube_home() == tmp_path / ".minikube"
    monkeypatch.setenv("MINIKUBE_HOME", str(tmp_path / ".minikube"))
    assert minikube_home() == tmp_path / ".minikube"
    monkeypatch.delenv("MINIKUBE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert minikube_home() == tmp_path / ".minikube"


def test_usernames_follow_the_apiserver_prefix_rules():
    assert SETTINGS.username_for("a@b.co") == "a@b.co"
    sub = OidcSettings(issuer_url="https://i", client_id="c", username_claim="sub")
    assert sub.username_for("123") == "https://i#123"
    assert OidcSettings(issuer_url="https://i", client_id="c", username_claim="sub", username_prefix="-").username_for("123") == "123"
    assert OidcSettings(issuer_url="https://i", client_id="c", username_prefix="oidc:").username_for("a@b.co") == "oidc:a@b.co"


def test_a_relative_oidc_lab_home_becomes_absolute(monkeypatch, tmp_path):
    from provisioner.credential import labfiles
    from provisioner.paths import labs_root

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OIDC_LAB_HOME", "labs")
    assert labs_root() == tmp_path / "labs"
    assert labfiles.lab_root("demo") == str(tmp_path / "labs" / "demo")

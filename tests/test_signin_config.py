"""The sign-in flow settings: `oidc.flow` per lab and per user, redirect ports, and kubelogin users."""

from __future__ import annotations

import pytest

from provisioner.config import parse_config
from provisioner.errors import LabError
from provisioner.kubelogin import get_token_args
from provisioner.oidc.flows import grants_for, redirect_uris
from provisioner.secrets import TokenClient
from provisioner.steps.kubeconfig import kubelogin_user


def test_a_user_s_own_flow_wins_over_the_lab_s_and_password_stays_the_default() -> None:
    lab = parse_config({"users": [{"email": "a@example.com"}, {"email": "b@example.com", "flow": "device"}]})
    assert [lab.flow_for(u) for u in lab.users] == ["password", "device"]

    browser_lab = parse_config({"oidc": {"flow": "browser"},
                                "users": [{"email": "a@example.com"}, {"email": "b@example.com", "flow": "password"}]})
    assert [browser_lab.flow_for(u) for u in browser_lab.users] == ["browser", "password"]


@pytest.mark.parametrize("document, named", [
    ({"oidc": {"flow": "magic-link"}}, "oidc.flow"),
    ({"oidc": {"redirect_ports": [80]}}, "oidc.redirect_ports"),
    ({"oidc": {"redirect_ports": [8000, 8000]}}, "oidc.redirect_ports"),
    ({"kubeconfig": {"plugin": "gangway"}}, "kubeconfig.plugin"),
])
def test_a_bad_sign_in_setting_is_refused_naming_its_key(document, named) -> None:
    with pytest.raises(LabError) as refused:
        parse_config(document)
    assert named in str(refused.value)


def test_the_idp_learns_one_redirect_uri_per_port_for_lab_token_and_for_kubelogin() -> None:
    assert redirect_uris([8000, 18000]) == ["http://127.0.0.1:8000", "http://localhost:8000",
                                            "http://127.0.0.1:18000", "http://localhost:18000"]
    assert grants_for({"password", "device"}) == ["password", "urn:ietf:params:oauth:grant-type:device_code",
                                                  "refresh_token"]


CLIENT = TokenClient(token_endpoint="https://127.0.0.1:9443/token", client_id="oidc-lab-demo",
                     issuer="https://host.minikube.internal:9443", client_secret="s3cret-never-in-argv",
                     ca_file="/labs/demo/issuer/ca.crt", redirect_ports=[8000, 18000])


def test_a_kubelogin_user_runs_oidc_login_with_the_lab_s_issuer_client_ca_and_grant_but_no_secret() -> None:
    entry = kubelogin_user(CLIENT, "browser", "ada@example.com")["exec"]

    assert entry["command"] == "kubectl"
    assert entry["args"][:2] == ["oidc-login", "get-token"]
    assert "--oidc-issuer-url=https://host.minikube.internal:9443" in entry["args"]
    assert "--oidc-client-id=oidc-lab-demo" in entry["args"]
    assert "--grant-type=authcode" in entry["args"]
    assert "--certificate-authority=/labs/demo/issuer/ca.crt" in entry["args"]
    assert ["--listen-address=127.0.0.1:8000", "--listen-address=127.0.0.1:18000"] == \
        [a for a in entry["args"] if a.startswith("--listen-address")]
    assert "--oidc-extra-scope=email" in entry["args"] and "--oidc-extra-scope=openid" not in entry["args"]
    assert not any("s3cret" in a for a in entry["args"])
    assert "oidc-login" in entry["installHint"]


def test_kubelogin_in_device_and_password_mode() -> None:
    device = get_token_args(CLIENT.issuer, CLIENT.client_id, "device", None, [8000], "ada@example.com", "openid")
    assert "--grant-type=device-code" in device and not any(a.startswith("--listen-address") for a in device)
    password = get_token_args(CLIENT.issuer, CLIENT.client_id, "password", None, [], "ada@example.com", "openid")
    assert "--username=ada@example.com" in password and not any(a.startswith("--password") for a in password)


def test_auth0_and_casdoor_labs_may_sign_users_in_by_browser_and_device() -> None:
    # Issue 10: their applications now get the callbacks and grants these flows need.
    for provider in ("auth0", "casdoor"):
        lab = parse_config({"provider": provider, "oidc": {"flow": "browser"},
                            "users": [{"email": "a@example.com", "flow": "device"}, {"email": "b@example.com"}]})
        assert [lab.flow_for(user) for user in lab.users] == ["device", "browser"]

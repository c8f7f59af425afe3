"""lab.yaml validation: every mistake names the key, the bad value and what is allowed."""

from __future__ import annotations

import pytest

from provisioner.config import load_config, parse_config
from provisioner.errors import ConfigError


def test_no_file_gives_a_one_user_lab_on_the_local_issuer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lab, source = load_config(None)
    assert source is None
    assert lab.provider == "local"
    assert [u.email for u in lab.users] == ["learner@example.com"]
    assert lab.users[0].role == "admin-role"
    assert lab.oidc.username_claim == "email"


@pytest.mark.parametrize(
    "document, expected",
    [
        ({"provder": "local"}, "provder: unknown key"),
        ({"provider": "okta"}, "provider: 'okta' is not allowed"),
        ({"users": [{"email": "a@b.co", "role": "admn"}]}, "users[0].role: 'admn' is not a known role; allowed: admin-role"),
        ({"users": [{"username": "bob"}]}, "users[0] has no email, but oidc.username_claim is 'email'"),
        ({"users": [{"email": "not-an-email"}]}, "users[0].email: 'not-an-email' is not an e-mail address"),
        ({"users": [{"email": "x@a.co"}, {"email": "x@b.co"}]}, "share the username 'x'"),
        ({"users": [{"email": "x@a.co"}, {"email": "X@a.co", "username": "y"}]}, "users[1] repeats the email of users[0]"),
        ({"name": "My_Lab"}, "name: 'My_Lab' must be a DNS label"),
        ({"auth0": {"domain": "https://t.auth0.com"}}, "auth0.domain: 'https://t.auth0.com' must be a bare domain"),
        ({"casdoor": {"endpoint": "http://door.example.com"}}, "casdoor.endpoint: 'http://door.example.com' must be an https:// URL"),
        ({"local": {"port": 0}}, "local.port: 0 input should be greater than or equal to 1"),
        ({"users": []}, "users: List should have at least 1 item"),
        ({"groups": [{"name": "devs", "role": "root"}]}, "groups[0].role: 'root' is not a known role"),
        ({"oidc": {"groups_claim": None}, "groups": [{"name": "devs", "role": "view"}]}, "oidc.groups_claim is not set"),
        ({"oidc": {"required_claims": {"a": "1", "b": "2"}}}, "minikube keeps only one apiserver.oidc-required-claim"),
        ([1, 2], "must be a mapping"),
        # an unknown key names the nearest known one, wherever it sits
        ({"provder": "local"}, "provder: unknown key; did you mean 'provider'?"),
        ({"users": [{"email": "a@b.co", "rol": "view"}]}, "users[0].rol: unknown key; did you mean 'role'?"),
        ({"casdoor": {"endpiont": "https://door.example.com"}}, "casdoor.endpiont: unknown key; did you mean 'endpoint'?"),
        ({"oidc": {"username_claims": "sub"}}, "oidc.username_claims: unknown key; did you mean 'username_claim'?"),
        ({"local": {"zzz": 1}}, "local.zzz: unknown key; the keys allowed here are hostname, listen, port,"),
        # an issuer URL is https with a host, and no user info, query or fragment
        ({"casdoor": {"endpoint": "https://admin:secret@door.example.com"}},
         "casdoor.endpoint: 'https://***@door.example.com' carries user info before '@'; remove it"),
        ({"casdoor": {"endpoint": "https://door.example.com/?org=lab"}},
         "casdoor.endpoint: 'https://door.example.com/?org=lab' has a query ('?...'); remove it"),
        ({"casdoor": {"endpoint": "https://door.example.com?"}}, "has a query"),
        ({"casdoor": {"endpoint": "https://door.example.com/#top"}},
         "casdoor.endpoint: 'https://door.example.com/#top' has a fragment ('#...'); remove it"),
        ({"casdoor": {"endpoint": "https:///path"}}, "casdoor.endpoint: 'https:///path' has no host"),
        ({"casdoor": {"endpoint": "https://door.example.com:port"}}, "is not a URL; give it as https://host[:port][/path]"),
        ({"local": {"hostname": "https://issuer.test"}}, "local.hostname: 'https://issuer.test' must be a bare host name"),
        ({"local": {"hostname": "issuer.test?x=1"}}, "local.hostname: 'issuer.test?x=1' must be a bare host name"),
    ],
)
def test_a_bad_lab_yaml_is_explained_in_one_sentence(document, expected):
    with pytest.raises(ConfigError) as caught:
        parse_config(document)
    assert expected in caught.value.message
    assert caught.value.hint


def test_a_password_in_an_endpoint_is_never_echoed():
    with pytest.raises(ConfigError) as caught:
        parse_config({"casdoor": {"endpoint": "https://admin:s3cret@door.example.com"}})
    assert "s3cret" not in caught.value.message and "s3cret" not in caught.value.hint


def test_a_good_issuer_url_and_host_are_kept():
    lab = parse_config({"casdoor": {"endpoint": "https://door.example.com:8443/casdoor/"},
                        "local": {"hostname": "192.168.49.1"}})
    assert lab.casdoor.endpoint == "https://door.example.com:8443/casdoor"
    assert parse_config({"local": {"hostname": "issuer.lab.test"}}).local.hostname == "issuer.lab.test"
    assert lab.local.hostname == "192.168.49.1"


def test_a_typo_in_a_file_is_named_with_its_fix(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text("provder: casdoor\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.message == f"{path}: provder: unknown key; did you mean 'provider'?"


def test_broken_yaml_names_the_line(tmp_path):
    path = tmp_path / "lab.yaml"
    path.write_text("name: demo\nusers:\n  - email: a@b.co\n   role: view\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "is not valid YAML at line 4" in caught.value.message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_handles_come_from_the_email_local_part():
    lab = parse_config({"users": [{"email": "Ada.Lovelace+lab@example.com"}, {"email": "bob_s@example.com", "username": "bob"}]})
    assert [u.handle for u in lab.users] == ["ada.lovelace-lab", "bob"]


def test_a_relative_casdoor_ca_file_is_anchored_at_lab_yaml(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    path = tmp_path / "conf" / "lab.yaml"
    path.write_text("provider: casdoor\ncasdoor:\n  endpoint: https://door.example.com\n  ca_file: certs/ca.pem\n")
    monkeypatch.chdir(tmp_path)
    lab, _ = load_config(path)
    assert lab.casdoor.ca_file == tmp_path / "conf" / "certs" / "ca.pem"

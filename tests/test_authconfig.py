"""The lab's entry in the structured AuthenticationConfiguration, and what is refused before it is
written (pure: settings in, entry or error out; the file shared under a lock)."""

from __future__ import annotations

import threading

import pytest

from provisioner.cluster.authconfig import AuthenticationFile, check_settings, jwt_authenticator
from provisioner.cluster.modes import resolve_mode
from provisioner.config import parse_config
from provisioner.errors import ConfigError
from provisioner.oidc.settings import OidcSettings
from tests.fakes.apiserver_authconfig import validate

ISSUER = "https://host.minikube.internal:9443"


def settings(**overrides) -> OidcSettings:
    return OidcSettings(**{"issuer_url": ISSUER, "client_id": "oidc-lab-demo", **overrides})


@pytest.mark.parametrize("flags, mapping", [
    ({}, {"claim": "email", "prefix": ""}),  # the flags' default: email has no prefix
    ({"username_claim": "sub"}, {"claim": "sub", "prefix": f"{ISSUER}#"}),  # nor does it change with the mode
    ({"username_claim": "sub", "username_prefix": "-"}, {"claim": "sub", "prefix": ""}),
    ({"username_prefix": "oidc:"}, {"claim": "email", "prefix": "oidc:"}),
    ({"username_expression": "'lab:' + claims.email"}, {"expression": "'lab:' + claims.email"}),
])
def test_usernames_are_mapped_as_the_flags_would_name_them(flags, mapping):
    assert jwt_authenticator(settings(**flags))["claimMappings"]["username"] == mapping


def test_the_entry_carries_ca_audiences_rules_and_is_what_the_apiserver_accepts():
    entry = jwt_authenticator(settings(
        ca_pem=b"-----BEGIN CERTIFICATE-----\n", audiences=("extra",), groups_claim="groups", groups_prefix="oidc:",
        required_claims=(("hd", "example.com"),),
        claim_validation_rules=((None, None, "claims.email_verified == true", "unverified"),),
        user_validation_rules=(("!user.username.startsWith('system:')", "no system names"),)))
    assert entry["issuer"] == {"url": ISSUER, "audiences": ["oidc-lab-demo", "extra"], "audienceMatchPolicy": "MatchAny",
                               "certificateAuthority": "-----BEGIN CERTIFICATE-----\n"}
    assert entry["claimValidationRules"] == [{"claim": "hd", "requiredValue": "example.com"},
                                             {"expression": "claims.email_verified == true", "message": "unverified"}]
    assert entry["claimMappings"]["groups"] == {"claim": "groups", "prefix": "oidc:"}
    assert entry["userValidationRules"] == [{"expression": "!user.username.startsWith('system:')",
                                             "message": "no system names"}]
    del entry["issuer"]["certificateAuthority"]  # the fake parses it; this one is a stub
    assert validate({"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration",
                     "jwt": [entry]}) == []


@pytest.mark.parametrize("flags, words", [
    ({"username_expression": "claims.email +"}, "oidc.username_expression is not a valid CEL expression"),
    ({"groups_expression": "clams.groups"}, "oidc.groups_expression uses 'clams'"),
    ({"username_expression": "claims.email"}, "requires claims.email_verified"),
    ({"user_validation_rules": (("claims.sub != ''", None),)}, "only declares 'user' there"),
    ({"audiences": ("extra", "extra")}, "oidc.audiences repeats the client id or another audience"),
])
def test_what_the_apiserver_would_ignore_is_refused_before_writing(flags, words):
    with pytest.raises(ConfigError) as refused:
        check_settings(settings(**flags))
    assert words in refused.value.message


def test_macros_bind_their_own_variables_and_email_verified_may_be_in_a_rule():
    check_settings(settings(groups_expression="claims.groups.map(g, 'idp:' + g)"))
    check_settings(settings(username_expression="claims.email",
                            claim_validation_rules=((None, None, "claims.email_verified == true", None),)))


def test_the_mapping_names_users_with_the_same_library():
    mapped = settings(username_expression="'lab:' + claims.email", groups_expression="claims.groups.map(g, 'idp:' + g)")
    assert mapped.username_from_claims({"email": "alice@example.com"}) == "lab:alice@example.com"
    assert mapped.groups_from_claims({"groups": ["devs"]}) == ["idp:devs"]


def test_lab_yaml_refuses_config_only_keys_with_the_flags():
    with pytest.raises(Exception, match="oidc.username_expression needs cluster.authentication: config"):
        parse_config({"cluster": {"authentication": "flags"}, "oidc": {"username_expression": "claims.sub"}})
    with pytest.raises(Exception, match="username_prefix may not be specified when username_expression is set"):
        parse_config({"oidc": {"username_expression": "claims.sub", "username_prefix": "x:"}})


@pytest.mark.parametrize("wanted, version, mode", [
    ("auto", (1, 36), "config"), ("auto", (1, 30), "config"), ("auto", (1, 29), "flags"),
    ("flags", (1, 36), "flags"), ("config", (1, 29), "config"),
])
def test_auto_picks_the_file_from_kubernetes_1_30(wanted, version, mode):
    assert resolve_mode(wanted, version) == mode


def test_two_labs_writing_at_once_lose_no_entry(tmp_path):
    """Read-modify-write under the file's lock, as `lab up` does, from many threads at once."""
    def add(name: str) -> None:
        shared = AuthenticationFile(tmp_path, "minikube")
        with shared.locked():
            registry = shared.read()
            registry.labs[name] = jwt_authenticator(settings(issuer_url=f"https://{name}.example"))
            shared.save(registry)

    threads = [threading.Thread(target=add, args=(f"lab{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared = AuthenticationFile(tmp_path, "minikube")
    assert sorted(shared.read().labs) == [f"lab{i}" for i in range(8)]
    assert shared.host_text().count(b"- issuer:") == 8


def _token(**claims) -> str:
    import base64
    import json
    import time

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    body = {"iss": ISSUER, "aud": "oidc-lab-demo", "exp": int(time.time()) + 600, **claims}
    return f"{part({'alg': 'RS256', 'kid': 'k'})}.{part(body)}.c2ln"


def test_the_token_rules_predict_refusals_by_cel_rules_in_the_apiservers_words():
    from provisioner.oidc.rules import refusal_reasons

    ruled = settings(username_expression="'lab:' + claims.email",
                     claim_validation_rules=((None, None, "claims.email_verified == true", "unverified"),),
                     user_validation_rules=(("!user.username.startsWith('lab:eve')", "no eve"),))
    assert refusal_reasons(_token(email="ada@example.com", email_verified=True), ruled) == []
    assert refusal_reasons(_token(email="bob@example.com", email_verified=False), ruled) == [
        "oidc: error evaluating claim validation expression: validation expression 'claims.email_verified == true' "
        "failed: unverified"]
    assert refusal_reasons(_token(email="eve@example.com", email_verified=True), ruled) == [
        "oidc: error evaluating user info validation rule: validation expression "
        "'!user.username.startsWith('lab:eve')' failed: no eve"]
    assert "error evaluating username claim expression" in refusal_reasons(_token(sub="x"), ruled)[0]

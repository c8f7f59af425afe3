"""The tool's reading of the kube-apiserver's OIDC rules, used to explain a refused token.

Each row is one rule of the real apiserver (oidc.go `AuthenticateToken` and the go-oidc v2
verifier it vendors); `lab up` and `lab doctor` must name the same reason the apiserver acts on.
"""

from __future__ import annotations

import base64
import json

import pytest

from provisioner.oidc.rules import NBF_LEEWAY_SECONDS, SKIPPED, discovery_problem, refusal_reasons
from provisioner.oidc.settings import OidcSettings

NOW = 1_800_000_000
SETTINGS = OidcSettings(issuer_url="https://t.example.com/", client_id="abc", username_claim="email")


def segment(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def jwt(header: dict, claims: dict) -> str:
    return f"{segment(header)}.{segment(claims)}.c2ln"


GOOD = {"iss": "https://t.example.com/", "aud": "abc", "exp": NOW + 60, "email": "a@b.co", "email_verified": True}


@pytest.mark.parametrize("change, reason", [
    ({}, None),
    ({"iss": "https://t.example.com"}, "is not the configured issuer 'https://t.example.com/'"),
    ({"aud": ["other"]}, "does not contain the client id 'abc'"),
    ({"exp": NOW - 1}, "it has expired"),
    ({"email_verified": False}, "oidc: email not verified"),
    ({"email": None}, None),
])
def test_each_rule_names_its_reason(change, reason):
    claims = {**GOOD, **change}
    if change.get("email", "") is None:
        del claims["email"]
        reason = "has no 'email' claim"
    reasons = refusal_reasons(jwt({"alg": "RS256"}, claims), SETTINGS, now=NOW)
    assert (reasons == []) if reason is None else any(reason in r for r in reasons), reasons


def test_an_hs256_token_is_refused_for_its_algorithm():
    reasons = refusal_reasons(jwt({"alg": "HS256"}, GOOD), SETTINGS, now=NOW)
    assert reasons == ["it is signed with HS256, but the apiserver accepts only RS256"]


def test_aud_as_a_list_containing_the_client_is_fine_and_garbage_is_not_a_jwt():
    assert refusal_reasons(jwt({"alg": "RS256"}, {**GOOD, "aud": ["x", "abc"]}), SETTINGS, now=NOW) == []
    assert refusal_reasons("not-a-token", SETTINGS, now=NOW) == ["the token is not a JWT"]


GROUPS = OidcSettings(issuer_url="https://t.example.com/", client_id="abc", groups_claim="groups",
                      required_claims=(("hd", "example.com"),))
GOOD_WITH_HD = {**GOOD, "hd": "example.com"}


@pytest.mark.parametrize("change, reason", [
    # time: exp without leeway (go-oidc `t.Expiry.Before(now)`), nbf with 60 s, iat never checked
    ({"exp": NOW}, None),  # not *before* now: the apiserver still accepts it this very second
    ({"exp": NOW - 1}, "it has expired"),
    ({"exp": NOW - 0.5}, "it has expired"),  # jsonTime truncates a fraction
    ({"exp": str(NOW + 60)}, None),  # json.Number takes a numeric string
    ({"exp": "soon"}, "its exp claim (\"soon\") is not a number of seconds"),
    ({"exp": None}, "its exp claim (null) is not a number of seconds"),
    ({"nbf": NOW + NBF_LEEWAY_SECONDS}, None),
    ({"nbf": NOW + NBF_LEEWAY_SECONDS + 1}, "beyond the apiserver's 60 s leeway"),
    ({"nbf": None}, None),  # a null pointer: no nbf
    ({"iat": NOW + 86_400}, None),  # iat in the future is never checked
    ({"iat": "yesterday"}, "its iat claim (\"yesterday\") is not a number of seconds"),
    # groups: a string or a list of strings, else "parse groups claim"
    ({"groups": "devs"}, None),
    ({"groups": ["devs", "ops"]}, None),
    ({"groups": None}, None),
    ({"groups": ["devs", 7]}, "its 'groups' claim is a array, not a string or a list of strings"),
    ({"groups": {"name": "devs"}}, "oidc: parse groups claim 'groups'"),
    ({"groups": 7}, "its 'groups' claim is a number"),
    # email_verified: a JSON boolean, else a parse error; null unmarshals into false
    ({"email_verified": "true"}, "its 'email_verified' claim is a string, not a JSON boolean"),
    ({"email_verified": 1}, "oidc: parse 'email_verified' claim"),
    ({"email_verified": None}, "oidc: email not verified (its email_verified claim is null)"),
    # the username claim: a string
    ({"email": 42}, "its 'email' claim is a number, not a string, so the apiserver cannot parse it"),
    ({"email": ["a@b.co"]}, "oidc: parse username claims 'email'"),
    ({"email": None}, "which the apiserver reads as an empty username"),
    # required claims: missing, not a string, or another value
    ({"hd": None, "drop": "hd"}, "the required claim hd=example.com is missing"),
    ({"hd": ["example.com"]}, "its 'hd' claim is a array, not a string, so the apiserver cannot parse it (oidc: parse claim hd)"),
    ({"hd": "evil.example"}, "the required claim hd is 'evil.example', not 'example.com'"),
    # aud: a string or a list; other entries and azp/typ are not looked at
    ({"aud": ["abc", "other"], "azp": "other"}, None),
    ({"aud": {"abc": True}}, "its aud claim is a object, not a string or a list of strings"),
    # other claims go-oidc unmarshals into strings
    ({"sub": 7}, "its sub claim is a number, not a string"),
])
def test_the_apiserver_rules_row_by_row(change, reason):
    claims = {**GOOD_WITH_HD, **change}
    if "drop" in change:
        del claims["drop"], claims[change["drop"]]
    reasons = refusal_reasons(jwt({"alg": "RS256", "typ": "at+jwt"}, claims), GROUPS, now=NOW)
    if reason is None:
        assert reasons == []
    else:
        assert any(reason in r for r in reasons), reasons


def test_a_token_with_another_iss_is_said_to_be_skipped_silently():
    reasons = refusal_reasons(jwt({"alg": "RS256"}, {**GOOD, "iss": "https://other.example/"}), SETTINGS, now=NOW)
    assert len(reasons) == 1 and reasons[0].endswith(SKIPPED)
    assert "plain 401" in SKIPPED and 'its log says only "invalid bearer token"' in SKIPPED


def padded(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_base64_padding_in_the_payload_makes_the_apiserver_skip_the_token():
    claims = {**GOOD, "email": "ab@b.co"}  # a length that needs padding
    assert padded(claims).endswith("=")
    reasons = refusal_reasons(f"{segment({'alg': 'RS256'})}.{padded(claims)}.c2ln", SETTINGS, now=NOW)
    assert len(reasons) == 1
    assert "its payload is not unpadded base64url JSON (illegal base64 data at input byte" in reasons[0]
    assert reasons[0].endswith(SKIPPED)


def test_base64_padding_in_the_header_or_signature_is_a_malformed_jwt():
    header = {"alg": "RS256", "kid": "k1"}
    assert padded(header).endswith("=")
    reasons = refusal_reasons(f"{padded(header)}.{segment(GOOD)}.c2lnbg==", SETTINGS, now=NOW)
    assert [reason.split(" (")[0] for reason in reasons] == [
        "its header segment is not unpadded base64url JSON", "its signature segment is not unpadded base64url"]
    assert all("oidc: malformed jwt: illegal base64 data at input byte" in reason for reason in reasons)
    assert not any(SKIPPED in reason for reason in reasons)  # the payload was readable: refused and logged


def test_a_json_serialised_token_is_skipped():
    assert refusal_reasons('{"payload": "e30"}', SETTINGS, now=NOW) == [f"the token is JSON, not a compact JWT; {SKIPPED}"]


def test_a_missing_exp_reads_as_expired_and_a_non_object_payload_is_skipped():
    claims = {k: v for k, v in GOOD.items() if k != "exp"}
    assert refusal_reasons(jwt({"alg": "RS256"}, claims), SETTINGS, now=NOW) == [
        "it has no exp claim (the apiserver reads that as expired)"]
    reasons = refusal_reasons(f"{segment({'alg': 'RS256'})}.{segment([1])}.c2ln", SETTINGS, now=NOW)
    assert reasons == [f"its payload is a JSON array, not an object; {SKIPPED}"]


def test_a_token_without_kid_is_not_refused_for_it():
    assert refusal_reasons(jwt({"alg": "RS256"}, GOOD), SETTINGS, now=NOW) == []


@pytest.mark.parametrize("document, problem", [
    ({"issuer": "https://t.example.com/", "jwks_uri": "https://t.example.com/jwks"}, None),
    ({"issuer": "https://t.example.com", "jwks_uri": "https://t.example.com/jwks"},
     "discovery states issuer 'https://t.example.com', not the configured 'https://t.example.com/', so the "
     "apiserver's OIDC authenticator never initialises"),
    ({"jwks_uri": "https://t.example.com/jwks"}, "discovery states issuer None"),
    ({"issuer": ["https://t.example.com/"]}, "the discovery document's issuer is a array, not a string"),
    ({"issuer": "https://t.example.com/"}, "has no jwks_uri"),
    (["not", "an", "object"], "the discovery document is a JSON array, not an object"),
])
def test_a_discovery_document_stating_another_issuer_never_initialises_the_authenticator(document, problem):
    found = discovery_problem(document, SETTINGS)
    assert (found is None) if problem is None else (problem in found), found

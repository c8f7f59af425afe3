"""The tool's reading of the kube-apiserver's OIDC rules, used to explain a refused token."""

from __future__ import annotations

import base64
import json

import pytest

from provisioner.oidc.settings import OidcSettings
from provisioner.oidc.rules import refusal_reasons

NOW = 1_800_000_000
SETTINGS = OidcSettings(issuer_url="https://t.example.com/", client_id="abc", username_claim="email")


def jwt(header: dict, claims: dict) -> str:
    part = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part(header)}.{part(claims)}.c2ln"


GOOD = {"iss": "https://t.example.com/", "aud": "abc", "exp": NOW + 60, "email": "a@b.co", "email_verified": True}


@pytest.mark.parametrize("change, reason", [
    ({}, None),
    ({"iss": "https://t.example.com"}, "is not the configured issuer 'https://t.example.com/'"),
    ({"aud": ["other"]}, "does not contain the client id 'abc'"),
    ({"exp": NOW}, "it has expired"),
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

"""The apiserver double judges tokens by kube-apiserver's real rules, row by row.

Each row names the rule in kube-apiserver's oidc.go or the go-oidc v2 verifier it vendors; the
double must accept or refuse with the same words, or skip the token without a reason, as the real
one does. Tokens come from the test issuer (PyJWT), never from the product.
"""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.apiserver_oidc import OidcAuthenticator, OidcOptions, Refused, Skipped
from tests.fakes.oidc_issuer import TestIssuer
from tests.test_fakes import start_trusting, wait_until_accepted, whoami


@pytest.fixture(scope="module")
def issuer(tmp_path_factory) -> TestIssuer:
    """One issuer for the whole table (a key and a CA cost a second to make); no row changes it."""
    with TestIssuer(tmp_path_factory.mktemp("test-issuer")) as started:
        yield started


@pytest.fixture(scope="module")
def judge(issuer: TestIssuer, tmp_path_factory):
    """An authenticator for `issuer` with discovery done, hd=example.com required."""
    ca_file = tmp_path_factory.mktemp("ca") / "issuer-ca.pem"
    ca_file.write_bytes(issuer.ca_pem)
    log: list[str] = []
    options = OidcOptions(issuer_url=issuer.url, client_id=issuer.client_id, username_claim="email",
                          groups_claim="groups", groups_prefix="oidc:", required_claims={"hd": "example.com"},
                          ca_file=ca_file)
    authenticator = OidcAuthenticator(options, log.append)
    authenticator._discover()  # what the background start does, done here so the table runs at once
    return authenticator


def mint(issuer: TestIssuer, **claims):
    return issuer.mint(**{"email": "ada@example.com", "hd": "example.com", **claims})


def _now() -> int:
    return int(time.time())


ACCEPTED = {
    "a plain good token": lambda i: mint(i),
    "nbf within the 60 s leeway": lambda i: mint(i, nbf=_now() + 50),
    "nbf null": lambda i: mint(i, nbf=None),
    "iat in the future is never checked": lambda i: mint(i, iat=_now() + 86_400),
    "groups as one string": lambda i: mint(i, groups="devs"),
    "groups null": lambda i: mint(i, groups=None),
    "extra audiences, azp and typ are not looked at": lambda i: mint(i, aud=[i.client_id, "other"], azp="other",
                                                                     typ="weird"),
}


@pytest.mark.parametrize("case", list(ACCEPTED))
def test_the_double_accepts_what_the_apiserver_accepts(judge, issuer, case):
    user = judge.authenticate(ACCEPTED[case](issuer))
    assert user.name == "ada@example.com"
    assert "system:authenticated" in user.groups


REFUSED = {
    "nbf beyond the leeway": (lambda i: mint(i, nbf=_now() + 120), "before the nbf (not before) time"),
    "expired a second ago": (lambda i: mint(i, expires_in=-1), "oidc: token is expired"),
    "no exp": (lambda i: _without(i, "exp"), "oidc: token is expired (Token Expiry: 0001-01-01"),
    "groups a number": (lambda i: mint(i, groups=7),
                        'oidc: parse groups claim "groups": json: cannot unmarshal number into Go value of type string'),
    "groups a list with a number": (lambda i: mint(i, groups=["devs", 7]), 'oidc: parse groups claim "groups"'),
    "email_verified a string": (lambda i: mint(i, email_verified="true"),
                                "oidc: parse 'email_verified' claim: json: cannot unmarshal string into Go value of type bool"),
    "email_verified null": (lambda i: _with(i, email_verified=None),
                            "oidc: email not verified"),
    "email a list": (lambda i: i.mint(email=["ada@example.com"], hd="example.com"),
                     'oidc: parse username claims "email": json: cannot unmarshal array into Go value of type string'),
    "required claim not a string": (lambda i: mint(i, hd=["example.com"]),
                                    "oidc: parse claim hd: json: cannot unmarshal array into Go value of type string"),
    "required claim missing": (lambda i: i.mint(email="ada@example.com"), "oidc: required claim hd not present"),
    "padded signature": (lambda i: mint(i) + "==", "oidc: malformed jwt: illegal base64 data"),
    "exp not a number": (lambda i: _with(i, exp="soon"),
                         "oidc: failed to unmarshal claims"),
    "signed by a key the JWKS does not have": (lambda i: _foreign_signature(i), "failed to verify id token signature"),
}


def _with(issuer: TestIssuer, **claims) -> str:
    """A token whose claims are overridden after the test issuer's defaults (even with null)."""
    token = mint(issuer)
    return _resign(issuer, {**_claims(token), **claims}, _header(token))


def _without(issuer: TestIssuer, name: str) -> str:
    token = mint(issuer)
    claims = _claims(token)
    del claims[name]
    return _resign(issuer, claims, _header(token))


def _claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _header(token: str) -> dict:
    part = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _resign(issuer: TestIssuer, claims: dict, header: dict, key=None) -> str:
    pem = (key or issuer.signing_key).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": header["kid"]})


def _foreign_signature(issuer: TestIssuer) -> str:
    """The published kid, signed by a key the issuer never published (refetching the JWKS cannot help)."""
    token = mint(issuer)
    return _resign(issuer, _claims(token), _header(token), key=rsa.generate_private_key(public_exponent=65537,
                                                                                          key_size=2048))


@pytest.mark.parametrize("case", list(REFUSED))
def test_the_double_refuses_what_the_apiserver_refuses_with_its_words(judge, issuer, case):
    make, words = REFUSED[case]
    with pytest.raises(Refused) as refused:
        judge.authenticate(make(issuer))
    assert not isinstance(refused.value, Skipped)
    assert words in str(refused.value)


def test_a_token_without_kid_is_tried_against_every_key(judge, issuer):
    token = mint(issuer)
    pem = issuer.signing_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
    unkeyed = jwt.encode(_claims(token), pem, algorithm="RS256")
    assert "kid" not in _header(unkeyed)
    assert judge.authenticate(unkeyed).name == "ada@example.com"


SKIPPED = {
    "iss with a trailing slash": lambda i: mint(i, iss=i.url + "/"),
    "iss of another issuer": lambda i: mint(i, iss="https://elsewhere.example"),
    "padded payload": lambda i: _pad_payload(mint(i, note="x" * 2)),
    "not three segments": lambda i: mint(i) + ".extra",
    "JSON serialisation": lambda i: json.dumps({"payload": mint(i).split(".")[1]}),
}


def _pad_payload(token: str) -> str:
    head, payload, signature = token.split(".")
    for filler in range(3):  # find claims whose base64 needs padding
        claims = {**_claims(token), "pad": "p" * filler}
        raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
        if raw.endswith("="):
            return ".".join([head, raw, signature])
    raise AssertionError("no padding needed for any filler")


@pytest.mark.parametrize("case", list(SKIPPED))
def test_the_double_skips_what_the_apiserver_skips(judge, issuer, case):
    with pytest.raises(Skipped):
        judge.authenticate(SKIPPED[case](issuer))


def test_a_skipped_token_is_a_plain_401_whose_log_names_no_reason(lab_env, oidc_issuer):
    start_trusting(lab_env, oidc_issuer)
    assert wait_until_accepted(lab_env, oidc_issuer.mint(email="ok@example.com")).returncode == 0
    refused = whoami(lab_env, oidc_issuer.mint(email="ok@example.com", iss=oidc_issuer.url + "/"))
    assert refused.returncode != 0
    assert "You must be logged in to the server (Unauthorized)" in refused.stderr
    logs = lab_env.minikube("logs").stdout
    assert 'err="[invalid bearer token]"' in logs
    assert "is not the configured issuer" not in logs and "oidc:" not in logs.split("invalid bearer token]")[-1]

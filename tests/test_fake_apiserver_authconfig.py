"""The apiserver double's `--authentication-config`, as kube-apiserver behaves (issue 11).

Rows cite validation.go's texts; the story tests use the real kubectl and the fake `minikube cp`:
the file is read from the node, re-read while running (the period short here), an invalid new file
is ignored and the last valid one kept, tokens go to the entry of their `iss`, and the --oidc-*
flags cannot be combined with it.
"""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.fakes.apiserver_authconfig import aggregate, decode, validate
from tests.fakes.oidc_issuer import TestIssuer
from tests.test_fakes import whoami

NODE_FILE = "/var/lib/minikube/certs/auth.yaml"


def document(*entries: dict) -> dict:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", "jwt": list(entries)}


def entry(url: str = "https://issuer.example", **extra) -> dict:
    base = {"issuer": {"url": url, "audiences": ["kubernetes"]},
            "claimMappings": {"username": {"claim": "email", "prefix": ""}}}
    base.update(extra)
    return base


INVALID = {
    "http issuer": (entry("http://issuer.example"),
                    'jwt[0].issuer.url: Invalid value: "http://issuer.example": URL scheme must be https'),
    "no audience": ({**entry(), "issuer": {"url": "https://i.example"}},
                    "jwt[0].issuer.audiences: Required value: at least one jwt[0].issuer.audiences is required"),
    "two audiences without MatchAny": ({**entry(), "issuer": {"url": "https://i.example", "audiences": ["a", "b"]}},
                                       'jwt[0].issuer.audienceMatchPolicy: Invalid value: "": audienceMatchPolicy '
                                       "must be MatchAny for multiple audiences"),
    "claim without prefix": (entry(claimMappings={"username": {"claim": "sub"}}),
                             "jwt[0].claimMappings.username.prefix: Required value: prefix is required when claim "
                             "is set. It can be set to an empty string to disable prefixing"),
    "claims.email without email_verified": (entry(claimMappings={"username": {"expression": "claims.email"}}),
                                            "claims.email_verified must be used in claimMappings.username.expression"),
    "a CEL typo": (entry(claimMappings={"username": {"expression": "claims.sub +"}}),
                   'jwt[0].claimMappings.username.expression: Invalid value: "claims.sub +": compilation failed'),
    "message with claim": (entry(claimValidationRules=[{"claim": "hd", "requiredValue": "x", "message": "m"}]),
                           'jwt[0].claimValidationRules[0].message: Invalid value: "m": may not be specified when claim is set'),
}


@pytest.mark.parametrize("row", sorted(INVALID))
def test_the_files_the_apiserver_refuses_are_refused_with_its_words(row):
    bad, words = INVALID[row]
    assert words in aggregate(validate(document(bad)))


def test_a_valid_file_and_the_duplicate_issuer_rule():
    assert validate(document(entry(), entry("https://other.example"))) == []
    assert validate(document(entry(), entry())) == ['jwt[1].issuer.url: Duplicate value: "https://issuer.example"']


def test_decoding_is_strict_and_an_empty_file_is_refused():
    with pytest.raises(ValueError, match="empty config data"):
        decode(b"")
    with pytest.raises(ValueError, match='strict decoding error: unknown field "jwt\\[0\\].lab"'):
        decode(yaml.safe_dump(document({**entry(), "lab": "demo"})).encode())


# the running double ----------------------------------------------------------------------------------
def _write(env, issuers: list[TestIssuer], username_expression: str | None = None) -> bytes:
    entries = []
    for issuer in issuers:
        mapping = {"expression": username_expression} if username_expression else {"claim": "email", "prefix": ""}
        entries.append({"issuer": {"url": issuer.url, "audiences": [issuer.client_id],
                                   "certificateAuthority": issuer.ca_pem.decode()},
                        "claimValidationRules": [{"expression": "claims.email_verified == true", "message": "unverified"}],
                        "claimMappings": {"username": mapping}})
    data = yaml.safe_dump(document(*entries)).encode()
    env.write_host_file(NODE_FILE, data)
    return data


def _until(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def _username(env, token: str) -> str | None:
    result = whoami(env, token)
    return json.loads(result.stdout)["status"]["userInfo"]["username"] if result.returncode == 0 else None


@pytest.fixture
def two_issuers(tmp_path):
    with TestIssuer(tmp_path / "one", client_id="one") as one, TestIssuer(tmp_path / "two", client_id="two") as two:
        yield one, two


def test_tokens_go_to_their_issuer_and_a_change_is_reloaded_without_a_restart(lab_env, two_issuers):
    one, two = two_issuers
    _write(lab_env, [one])
    started = lab_env.minikube("start", f"--extra-config=apiserver.authentication-config={NODE_FILE}")
    assert started.returncode == 0, started.stdout + started.stderr
    assert _until(lambda: _username(lab_env, one.mint(email="ada@example.com"))) == "ada@example.com"
    assert _username(lab_env, two.mint(email="bob@example.com")) is None  # no entry claims its iss

    host = _write(lab_env, [one, two], "'lab:' + claims.email")
    copied = lab_env.minikube("cp", str(lab_env.mk / "files" / NODE_FILE.lstrip("/")), f"minikube:{NODE_FILE}")
    assert copied.returncode == 0, copied.stderr
    assert _until(lambda: _username(lab_env, two.mint(email="bob@example.com"))) == "lab:bob@example.com"
    assert _username(lab_env, one.mint(email="ada@example.com")) == "lab:ada@example.com"
    refused = whoami(lab_env, one.mint(email="eve@example.com", email_verified=False))
    assert refused.returncode != 0
    assert "validation expression 'claims.email_verified == true' failed: unverified" in lab_env.apiserver_log()
    metrics = lab_env.kubectl("get", "--raw", "/metrics").stdout
    import hashlib

    assert f'hash="sha256:{hashlib.sha256(host).hexdigest()}"' in metrics

    # An invalid new file is ignored: the last valid configuration keeps answering.
    lab_env.write_host_file(NODE_FILE, b"apiVersion: apiserver.config.k8s.io/v1\nkind: AuthenticationConfiguration\n"
                                       b"jwt:\n- issuer: {url: 'http://x'}\n")
    lab_env.minikube("cp", str(lab_env.mk / "files" / NODE_FILE.lstrip("/")), f"minikube:{NODE_FILE}")
    assert _until(lambda: "failed to validate authentication config" in lab_env.apiserver_log())
    assert _username(lab_env, two.mint(email="bob@example.com")) == "lab:bob@example.com"
    assert "automatic_reloads_total" in lab_env.kubectl("get", "--raw", "/metrics").stdout


def test_the_file_and_the_oidc_flags_together_stop_the_apiserver(lab_env, two_issuers):
    one, _ = two_issuers
    _write(lab_env, [one])
    started = lab_env.minikube("start", f"--extra-config=apiserver.authentication-config={NODE_FILE}",
                               f"--extra-config=apiserver.oidc-issuer-url={one.url}",
                               "--extra-config=apiserver.oidc-client-id=one")
    assert started.returncode != 0
    assert "authentication-config file and oidc-* flags are mutually exclusive" in lab_env.apiserver_log()


def test_minikube_cp_needs_a_running_node_and_an_absolute_path(minikube_profile, tmp_path):
    source = tmp_path / "f.txt"
    source.write_text("x")
    relative = minikube_profile.minikube("cp", str(source), "minikube:relative.txt")
    assert relative.returncode == 14 and "must be an absolute Path" in relative.stderr
    assert minikube_profile.minikube("cp", str(source), "minikube:/tmp/f.txt").returncode == 0
    assert (minikube_profile.profile().node_root / "tmp" / "f.txt").read_text() == "x"
    minikube_profile.minikube("stop")
    assert minikube_profile.minikube("cp", str(source), "minikube:/tmp/f.txt").returncode == 83

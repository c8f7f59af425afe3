"""Password guessing at the built-in issuer: slowed down, then locked out, and logins not revealed.

The rule (README, "Files and secrets"; `issuer/guard.py`): per login, 5 failures answered at once,
then waits of 1, 2, 4, 8 s, and the 10th failure locks it for 15 minutes; per client address, 20
failures at once, waits after that, the 30th locks it. Unit tests drive the rule with a fake
clock; the others guess at a real issuer over HTTPS, and through `lab token` as a user meets it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

import pytest

from provisioner.paths import LabPaths
from provisioner.providers.local.issuer import guard as guard_module
from provisioner.providers.local.issuer.guard import ADDRESS_RULE, LOGIN_RULE, SignInGuard, TooManyFailures
from provisioner.providers.local.issuer.process import IssuerProcess
from tests.test_issuer import RunningIssuer, free_port, issuer, lab_config, lab_home, start_lab  # noqa: F401

HELD_BACK = "Too many failed sign-ins for this login or from this address; try again in"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(guard: SignInGuard, login: str = "ada@example.com", address: str = "10.0.0.7") -> None:
    guard.admit(login, address)
    guard.failed(login, address)


def wait_of(guard: SignInGuard, login: str = "ada@example.com", address: str = "10.0.0.7") -> int:
    with pytest.raises(TooManyFailures) as held:
        guard.admit(login, address)
    return held.value.wait


# --- the rule, with a fake clock -------------------------------------------------------------------


def test_a_login_gets_five_failures_then_growing_waits_then_fifteen_minutes() -> None:
    clock = Clock()
    guard = SignInGuard(clock)
    for _ in range(5):
        fail(guard)
    waits = []
    for _ in range(5):
        fail(guard)
        waits.append(wait_of(guard))
        clock.now += waits[-1]

    assert waits == [1, 2, 4, 8, 15 * 60]
    assert "try again in 900 s" in str(TooManyFailures(900))


def test_a_right_password_after_the_wait_clears_the_login() -> None:
    clock = Clock()
    guard = SignInGuard(clock)
    for _ in range(6):
        fail(guard)
    clock.now += 1
    guard.admit("ada@example.com", "10.0.0.7")
    guard.succeeded("ada@example.com", "10.0.0.7")

    for _ in range(5):  # a fresh start: five more answered at once
        fail(guard)
    fail(guard)
    assert wait_of(guard) == 1


def test_logins_differing_only_in_case_share_one_count() -> None:
    guard = SignInGuard(Clock())
    for login in ("ada@example.com", "ADA@example.com", " Ada@Example.com", "ada@EXAMPLE.COM", "aDa@example.com",
                  "ada@example.coM"):
        fail(guard, login)

    assert wait_of(guard, "Ada@example.com") == 1


def test_parallel_guesses_cannot_slip_past_the_count() -> None:
    """An admitted attempt counts until it is judged: a burst is held back before any answer."""
    guard = SignInGuard(Clock())
    for _ in range(6):
        guard.admit("ada@example.com", "10.0.0.7")

    assert wait_of(guard) == 1


def test_an_address_spraying_many_logins_is_slowed_then_locked() -> None:
    clock = Clock()
    guard = SignInGuard(clock)
    for i in range(ADDRESS_RULE.free):
        fail(guard, f"user{i}@example.com")
    fail(guard, "next@example.com")
    assert wait_of(guard, "someone-else@example.com") == 1  # any login from that address waits
    guard.admit("someone-else@example.com", "10.0.0.8")  # another address does not

    for i in range(ADDRESS_RULE.lock_at - ADDRESS_RULE.free - 1):
        clock.now += wait_of(guard, f"more{i}@example.com")
        fail(guard, f"more{i}@example.com")
    assert wait_of(guard, "anyone@example.com") == 15 * 60


def test_counts_are_forgotten_after_an_hour_without_failures() -> None:
    clock = Clock()
    guard = SignInGuard(clock)
    for _ in range(6):
        fail(guard)
    clock.now += LOGIN_RULE.forget_seconds

    for _ in range(5):
        fail(guard)
    guard.admit("ada@example.com", "10.0.0.7")  # the sixth is admitted again


def test_random_logins_cannot_grow_the_issuers_memory_without_bound(monkeypatch) -> None:
    monkeypatch.setattr(guard_module, "MAX_KEYS", 50)
    clock = Clock()
    guard = SignInGuard(clock)
    for i in range(500):
        guard.admit(f"random{i}@example.com", f"10.1.{i // 250}.{i % 250}")
        clock.now += 1

    assert len(guard._logins._counts) <= 50


# --- a real issuer ------------------------------------------------------------------------------------


def grant(issuer: RunningIssuer, login: str, password: str) -> tuple[int, dict]:
    form = {"grant_type": "password", "username": login, "password": password,
            "client_id": issuer.client.client_id, "client_secret": issuer.client.client_secret,
            "scope": issuer.client.scope}
    response = issuer.post_token(form)
    return response.status_code, response.json()


def test_after_six_wrong_passwords_even_the_right_one_must_wait(issuer: RunningIssuer) -> None:
    right = issuer.secrets.password("alice")
    for i in range(6):
        assert grant(issuer, "alice@example.com", f"guess-{i}") == (
            400, {"error": "invalid_grant", "error_description": "Wrong username or password."})
    for i in range(6):
        grant(issuer, "mallory@example.com", f"guess-{i}")

    status, held = grant(issuer, "alice@example.com", right)
    _, held_unknown = grant(issuer, "mallory@example.com", "anything")

    assert status == 400 and held["error"] == "invalid_grant"
    assert held["error_description"] == f"{HELD_BACK} 1 s."
    assert held_unknown == held  # an unknown login is held back in the same words: nothing to probe
    time.sleep(1.1)
    assert grant(issuer, "alice@example.com", right)[0] == 200
    assert right not in issuer.files.log.read_text()


def test_a_locked_out_login_is_explained_by_lab_token_while_refresh_still_works(issuer: RunningIssuer) -> None:
    issuer.secrets.set_client(issuer.client)  # what `lab up` records for `lab token`
    tokens = issuer.password_grant("alice").json()
    guesses, start = 0, time.monotonic()
    while True:
        status, answer = grant(issuer, "alice@example.com", f"guess-{guesses}")
        said = answer["error_description"]
        if said.startswith(HELD_BACK):
            wait = int(said.rsplit(" ", 2)[1])
            if wait >= 60:
                break
            time.sleep(wait)
        else:
            guesses += 1
    assert guesses == 10 and time.monotonic() - start >= 15

    token = subprocess.run([sys.executable, "-m", "provisioner", "token", "--lab", "issuer-test", "--user", "alice",
                            "--refresh"], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert token.returncode == 1 and "Traceback" not in token.stderr
    assert "refused the password of user 'alice'" in token.stderr
    assert "Too many failed sign-ins" in token.stderr and "try again in 900 s" in token.stderr

    refreshed = issuer.post_token({"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                   "client_id": issuer.client.client_id,
                                   "client_secret": issuer.client.client_secret})
    assert refreshed.status_code == 200  # a refresh proves a token, not a guess: never held back
    assert grant(issuer, "bob@example.com", issuer.secrets.password("bob"))[0] == 200  # other logins unaffected


@pytest.fixture
def full_cost_issuer(tmp_path, monkeypatch):
    """An issuer with the product's real scrypt cost, where timing is what an attacker would see."""
    for name, folder in (("HOME", "home"), ("OIDC_LAB_HOME", "labs")):
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(name, str(tmp_path / folder))
    users = [{"email": f"user{i}@example.com"} for i in range(5)]
    try:
        yield start_lab(lab_config(free_port(), users=users))
    finally:
        IssuerProcess(LabPaths.for_lab("issuer-test").issuer).stop()


def test_an_unknown_login_takes_as_long_as_a_known_ones_wrong_password(full_cost_issuer: RunningIssuer) -> None:
    issuer = full_cost_issuer
    grant(issuer, "user0@example.com", issuer.secrets.password("user0"))  # files read, nothing cold
    known, unknown = [], []
    for i in range(5):
        for login, times in ((f"user{i}@example.com", known), (f"nobody{i}@example.com", unknown)):
            start = time.perf_counter()
            assert grant(issuer, login, "wrong")[0] == 400
            times.append(time.perf_counter() - start)

    # Before the decoy hash: 1 ms against 105 ms. Loose bounds, as a shared machine is noisy.
    assert statistics.median(unknown) > 0.5 * statistics.median(known)
    assert statistics.median(unknown) < 2.0 * statistics.median(known)

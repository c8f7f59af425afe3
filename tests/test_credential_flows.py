"""`lab token`'s device and browser flows against scripted IdP answers: polling as RFC 8628 says,
and a browser redirect that is not ours being refused."""

from __future__ import annotations

import io
import threading
import urllib.request

import pytest

from provisioner.credential import browser, device
from provisioner.credential.flow import GrantRefused
from provisioner.errors import CredentialError
from provisioner.secrets import TokenClient

SETTINGS = TokenClient(token_endpoint="https://idp/token", client_id="c", issuer="https://idp",
                       device_authorization_endpoint="https://idp/device/code", authorization_endpoint="https://idp/a")


class ScriptedIdp:
    """Answers each token poll with the next scripted error, then tokens."""

    def __init__(self, errors: list[str], started: dict | None = None) -> None:
        self.settings = SETTINGS
        self.errors = list(errors)
        self.polls: list[float] = []
        self.clock = 0.0
        self.started = started or {"device_code": "dc", "user_code": "BCDF-GHJK", "verification_uri": "https://idp/device",
                                   "interval": 5, "expires_in": 600}

    def authorize_device(self) -> dict:
        return self.started

    def redeem(self, form: dict) -> dict:
        assert form == {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "dc"}
        self.polls.append(self.clock)
        if self.errors:
            raise GrantRefused(self.errors.pop(0))
        return {"id_token": "t"}

    def sleep(self, seconds: float) -> None:
        self.clock += seconds


def test_device_mode_prints_the_code_and_polls_at_the_interval_slowing_down_when_told() -> None:
    idp = ScriptedIdp(["authorization_pending", "slow_down", "authorization_pending"])
    said = io.StringIO()

    answer = device.sign_in(idp, "demo", "ada", said, sleep=idp.sleep, clock=lambda: idp.clock)

    assert answer == {"id_token": "t"}
    assert idp.polls == [5, 10, 20, 30]  # 5 s apart, 10 s after slow_down
    assert "open https://idp/device" in said.getvalue() and "enter the code BCDF-GHJK" in said.getvalue()


@pytest.mark.parametrize("error, says", [("expired_token", "expired"), ("access_denied", "declined")])
def test_device_mode_stops_on_expiry_or_refusal_with_one_clear_sentence(error, says) -> None:
    idp = ScriptedIdp(["authorization_pending", error])
    with pytest.raises(CredentialError) as stopped:
        device.sign_in(idp, "demo", "ada", io.StringIO(), sleep=idp.sleep, clock=lambda: idp.clock)
    assert says in stopped.value.message


def test_device_mode_gives_up_when_the_code_s_lifetime_passes() -> None:
    idp = ScriptedIdp(["authorization_pending"] * 100, started={"device_code": "dc", "user_code": "X",
                                                                "verification_uri": "https://idp/d", "expires_in": 12})
    with pytest.raises(CredentialError, match="expired"):
        device.sign_in(idp, "demo", "ada", io.StringIO(), sleep=idp.sleep, clock=lambda: idp.clock)
    assert len(idp.polls) == 2  # 5 s (the default interval) and 10 s; at 15 s the code is dead


def test_the_redirect_listener_ignores_an_answer_with_someone_else_s_state() -> None:
    listener = browser.listen([0])
    listener.expected_state, listener.redirect = "ours", browser.Redirect()
    port = listener.server_address[1]
    statuses = []

    def visit(query: str) -> None:
        try:
            statuses.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/?{query}", timeout=5).status)
        except urllib.error.HTTPError as answer:
            statuses.append(answer.code)

    visitors = threading.Thread(target=lambda: (visit("code=forged&state=theirs"), visit("code=real&state=ours")))
    visitors.start()
    try:
        assert browser.wait_for_code(listener, deadline=float("inf")) == "real"
    finally:
        visitors.join(5)
        listener.server_close()
    assert statuses == [400, 200]


def test_a_pkce_pair_is_an_s256_challenge_of_a_valid_verifier() -> None:
    import base64
    import hashlib

    verifier, challenge = browser.pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")

"""The grants a person completes in a browser: authorization code with PKCE, and device authorization.

Authlib runs both protocols; this module keeps what it leaves to an application: where pending
authorization codes and device codes live (memory: they last minutes, and a restarted issuer
simply makes the user sign in again), and the issuer's own rules on top of Authlib's defaults:

- Every authorization request must carry an S256 `code_challenge` (OAuth 2.1; `plain` is refused),
  so a public client (kubelogin without a secret) and the lab's own client are held to the same rule.
- Codes are single use and expire after 5 minutes; device codes after 10, polled no faster than
  every 5 s (a faster poll is answered `slow_down`, RFC 8628 section 3.5).
- The `nonce` of an authorization request is copied into the id_token it leads to.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint, DeviceCodeGrant, DeviceCredentialDict

from .files import UserRecord

CODE_TTL_SECONDS = 300
DEVICE_CODE_TTL_SECONDS = 600
DEVICE_POLL_INTERVAL = 5
PUBLIC_CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
DEVICE_PATH = "/device"
DEVICE_AUTHORIZATION_PATH = "/device/code"
AUTHORIZATION_PATH = "/authorize"


@dataclass
class AuthorizationCode:
    """A code handed to the redirect URI, waiting to be exchanged (once) at the token endpoint."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str
    code_challenge_method: str
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce


class PendingCodes:
    """Authorization codes and device codes in flight, with their expiry; thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, AuthorizationCode] = {}
        self._devices: dict[str, DeviceCredentialDict] = {}  # by device_code
        self._approvals: dict[str, tuple[str, bool]] = {}  # user_code -> (sub, approved)
        self._last_poll: dict[str, float] = {}

    def _sweep(self) -> None:
        now = self.clock()
        self._codes = {k: c for k, c in self._codes.items() if c.expires_at > now}
        expired = [k for k, d in self._devices.items() if d["expires_at"] <= now]
        for device_code in expired:
            credential = self._devices.pop(device_code)
            self._approvals.pop(credential["user_code"], None)
            self._last_poll.pop(device_code, None)

    # authorization codes -----------------------------------------------------------------------
    def add_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._sweep()
            self._codes[code.code] = code

    def take_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        with self._lock:
            self._sweep()
            found = self._codes.get(code)
            return found if found is not None and found.client_id == client_id else None

    def drop_code(self, code: AuthorizationCode) -> None:
        with self._lock:
            self._codes.pop(code.code, None)

    # device codes ---------------------------------------------------------------------------------
    def add_device(self, client_id: str, scope: str | None, data: dict[str, Any]) -> None:
        with self._lock:
            self._sweep()
            self._devices[data["device_code"]] = DeviceCredentialDict(
                client_id=client_id, scope=scope, user_code=data["user_code"],
                device_code=data["device_code"], expires_at=self.clock() + data["expires_in"])

    def device(self, device_code: str) -> DeviceCredentialDict | None:
        with self._lock:
            self._sweep()
            return self._devices.get(device_code)

    def pending_user_code(self, user_code: str) -> bool:
        """True while `user_code` waits for someone to sign in (not yet approved, not expired)."""
        wanted = normalise_user_code(user_code)
        with self._lock:
            self._sweep()
            return any(d["user_code"] == wanted and wanted not in self._approvals for d in self._devices.values())

    def approve(self, user_code: str, sub: str) -> bool:
        wanted = normalise_user_code(user_code)
        with self._lock:
            self._sweep()
            if not any(d["user_code"] == wanted for d in self._devices.values()) or wanted in self._approvals:
                return False
            self._approvals[wanted] = (sub, True)
            return True

    def approval(self, user_code: str) -> tuple[str, bool] | None:
        with self._lock:
            return self._approvals.get(user_code)

    def polled_too_soon(self, device_code: str) -> bool:
        """Record a poll; True if it came sooner than the interval after the previous one."""
        with self._lock:
            now = self.clock()
            previous = self._last_poll.get(device_code)
            self._last_poll[device_code] = now
            return previous is not None and now - previous < DEVICE_POLL_INTERVAL

    def finish_device(self, device_code: str) -> None:
        with self._lock:
            credential = self._devices.pop(device_code, None)
            self._last_poll.pop(device_code, None)
            if credential is not None:
                self._approvals.pop(credential["user_code"], None)


def normalise_user_code(user_code: str) -> str:
    """What a person typed, as the issuer printed it: upper case, one dash in the middle (RFC 8628 6.1)."""
    letters = "".join(c for c in user_code.upper() if c.isalnum())
    return f"{letters[:4]}-{letters[4:]}" if len(letters) == 8 else letters


class S256Challenge(CodeChallenge):
    """PKCE with S256 only, required on every authorization request (not only from public clients)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("This issuer requires PKCE: send code_challenge with code_challenge_method=S256.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("This issuer accepts code_challenge_method=S256 only.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier': this issuer requires PKCE.")
        super().validate_code_verifier(grant, result)


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = PUBLIC_CLIENT_AUTH_METHODS

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        self.server.pending.add_code(AuthorizationCode(
            code=code, client_id=request.client.get_client_id(), redirect_uri=request.payload.redirect_uri,
            scope=request.scope, sub=request.user.sub, nonce=data.get("nonce"),
            code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
            expires_at=self.server.pending.clock() + CODE_TTL_SECONDS))

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        return self.server.pending.take_code(code, client.get_client_id())

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        self.server.pending.drop_code(authorization_code)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> UserRecord | None:
        return self.server.directory.user_by_sub(authorization_code.sub)

    def generate_token(self, user: UserRecord | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        nonce = self.request.authorization_code.get_nonce()
        return self.server.issue(self.request.client, user, scope, include_refresh_token, nonce=nonce)


class DeviceGrant(DeviceCodeGrant):
    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        return self.server.pending.device(device_code)

    def query_user_grant(self, user_code: str) -> tuple[UserRecord, bool] | None:
        approval = self.server.pending.approval(user_code)
        if approval is None:
            return None
        sub, approved = approval
        user = self.server.directory.user_by_sub(sub)
        return (user, approved) if user is not None else None

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        return self.server.pending.polled_too_soon(credential["device_code"])

    def create_token_response(self) -> Any:
        answer = super().create_token_response()
        self.server.pending.finish_device(self.request.credential["device_code"])  # a device code works once
        return answer


class DeviceEndpoint(DeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS = PUBLIC_CLIENT_AUTH_METHODS
    EXPIRES_IN = DEVICE_CODE_TTL_SECONDS
    INTERVAL = DEVICE_POLL_INTERVAL

    def get_verification_uri(self) -> str:
        # The person is on this machine (or can reach its address); the issuer's own host name
        # (host.minikube.internal) resolves only inside the cluster.
        settings = self.server.directory.settings
        return f"https://{settings.host_address}:{settings.port}{DEVICE_PATH}"

    def save_device_credential(self, client_id: str, scope: str | None, data: dict[str, Any]) -> None:
        self.server.pending.add_device(client_id, scope, data)

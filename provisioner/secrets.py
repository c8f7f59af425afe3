"""The lab's secrets: what the credential plugin needs, kept apart from state.

`credentials.json` (0600, atomic) holds the token client (endpoint, client id and secret, CA
file, grant) and each user's login and password. State stays free of secrets so it can be shown
(`lab status -o json`). Standard library only: `lab token` reads this file on a cache miss.

Format:
    {"client": {"token_endpoint", "refresh_endpoint", "client_id", "client_secret", "ca_file",
                "grant_type", "extra", "scope", "issuer"},
     "users": {"<handle>": {"login": "<username or email for the grant>", "password": "...",
                            "flow": "password" | "browser" | "device",
                            "chosen": true (only when the password came from lab.yaml)}}}
"""

from __future__ import annotations

import secrets as _random
import string
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from .fsutil import read_json, write_json
from .paths import LabPaths

PASSWORD_GRANT = "password"
AUTH0_PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"


@dataclass(frozen=True)
class TokenClient:
    """How to get an id_token from the IdP with a user's password, and refresh it."""

    token_endpoint: str
    client_id: str
    issuer: str
    client_secret: str | None = None
    ca_file: str | None = None  # PEM bundle to verify the IdP's TLS; None means the system roots
    grant_type: str = PASSWORD_GRANT
    extra: dict[str, str] = field(default_factory=dict)  # e.g. {"realm": "<connection>"} for password-realm
    scope: str = "openid email profile offline_access"
    refresh_endpoint: str | None = None  # None: the token endpoint (Casdoor has its own)
    # The browser and device flows (`oidc.flow`); None where the IdP or the lab does not offer them.
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    redirect_ports: list[int] = field(default_factory=list)  # loopback ports registered as redirect URIs
    public_client: bool = False  # a client without a secret (Auth0's Native app): none is ever sent for it


def generate_password(length: int = 24) -> str:
    """A strong password that every IdP's policy accepts (upper, lower, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        core = "".join(_random.choice(alphabet) for _ in range(length - 2))
        candidate = core + _random.choice("!#%+-=") + _random.choice(string.digits)
        if any(c.islower() for c in candidate) and any(c.isupper() for c in candidate):
            return candidate


def _well_formed(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    client, users = document.get("client"), document.get("users", {})
    return (client is None or isinstance(client, dict)) and isinstance(users, dict) \
        and all(isinstance(entry, dict) for entry in users.values())


class LabSecrets:
    def __init__(self, paths: LabPaths, document: dict[str, Any] | None = None) -> None:
        self.paths = paths
        self.document = document if document is not None else {"client": None, "users": {}}
        self._deferred = False  # inside deferred_saves(): write once at the end
        self._unsaved = False

    @classmethod
    def load(cls, paths: LabPaths) -> "LabSecrets":
        try:
            document = read_json(paths.credentials)
        except (ValueError, UnicodeDecodeError):
            document = []  # damaged: said below
        if document is not None and not _well_formed(document):
            from .errors import StateError

            raise StateError(
                f"the lab's credentials file {paths.credentials} is damaged",
                "remove it and run `lab up` again: the lab writes it anew (users without a fixed password get new ones)",
            )
        return cls(paths, document)

    def save(self) -> None:
        if self._deferred:
            self._unsaved = True
            return
        write_json(self.paths.credentials, self.document)

    @contextmanager
    def deferred_saves(self) -> Iterator[None]:
        """Write the file once for many changes (a 200-user roster would otherwise fsync 200 times).

        The file is written when the block ends, also when it ends with an error.
        """
        self._deferred, self._unsaved = True, False
        try:
            yield
        finally:
            self._deferred = False
            if self._unsaved:
                self.save()

    # users -------------------------------------------------------------------------------------
    def password(self, handle: str, fixed: str | None = None) -> str:
        """The user's password: the fixed one from lab.yaml, else the stored one, else a new one (saved)."""
        users = self.document.setdefault("users", {})
        entry = users.setdefault(handle, {})
        if fixed is not None:
            if entry.get("password") != fixed or not entry.get("chosen"):
                entry["password"] = fixed
                entry["chosen"] = True
                self.save()
            return fixed
        if not entry.get("password"):
            entry["password"] = generate_password()
            entry.pop("chosen", None)
            self.save()
        return entry["password"]

    def restore_password(self, handle: str, previous: str | None) -> None:
        """Put back the password kept before (None: none), e.g. when the IdP refused a new one."""
        entry = self.document.setdefault("users", {}).setdefault(handle, {})
        if entry.get("password") != previous:
            if previous is None:
                entry.pop("password", None)
            else:
                entry["password"] = previous
            self.save()

    def password_is_generated(self, handle: str) -> bool:
        """Whether the lab made the user's password (a person chose it when it came from lab.yaml,
        also if lab.yaml no longer names it): only a person's password needs a slow hash."""
        entry = self.document.get("users", {}).get(handle, {})
        return bool(entry.get("password")) and not entry.get("chosen")

    def set_login(self, handle: str, login: str) -> None:
        entry = self.document.setdefault("users", {}).setdefault(handle, {})
        if entry.get("login") != login:
            entry["login"] = login
            self.save()

    def set_flow(self, handle: str, flow: str) -> None:
        """How `lab token` signs the user in (`oidc.flow`); the password grant when absent."""
        entry = self.document.setdefault("users", {}).setdefault(handle, {})
        if entry.get("flow", "password") != flow:
            entry["flow"] = flow
            self.save()

    def forget_user(self, handle: str) -> None:
        if self.document.get("users", {}).pop(handle, None) is not None:
            self.save()

    # the token client ----------------------------------------------------------------------------
    @property
    def client(self) -> TokenClient | None:
        raw = self.document.get("client")
        return TokenClient(**raw) if raw else None

    def set_client(self, client: TokenClient) -> None:
        if self.document.get("client") != asdict(client):
            self.document["client"] = asdict(client)
            self.save()

    @property
    def client_secret(self) -> str | None:
        return self.document.get("client_secret")

    def set_client_secret(self, secret: str | None) -> None:
        """The IdP application's secret, kept even before the token client is complete."""
        if self.document.get("client_secret") != secret:
            self.document["client_secret"] = secret
            self.save()

"""The issuer's folder: where each file lives, and the two documents the provider writes for the server.

The provider (`lab up`) and the server process only meet through this folder, so its contract is
written down once here. `issuer.json` holds the issuer URL, the listen address, the token
lifetimes and the one OAuth client; `users.json` the users. Both hold hashes, never secrets, and
are rewritten only when their content changes: the running server reloads a file when it changes,
and an unchanged `lab up` leaves every file as it was.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ....fsutil import read_json, write_json

FORMAT = 1


@dataclass(frozen=True)
class IssuerFiles:
    """The layout of one lab's issuer folder (`LabPaths.issuer`)."""

    folder: Path

    @property
    def settings(self) -> Path:
        return self.folder / "issuer.json"

    @property
    def users(self) -> Path:
        return self.folder / "users.json"

    @property
    def refresh_tokens(self) -> Path:
        """Digests of the refresh tokens still valid, so they survive a restart."""
        return self.folder / "refresh-tokens.json"

    @property
    def ca_cert(self) -> Path:
        """The lab CA: the apiserver's `--oidc-ca-file` and the credential plugin's trust anchor."""
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def tls_cert(self) -> Path:
        return self.folder / "tls.crt"

    @property
    def tls_key(self) -> Path:
        return self.folder / "tls.key"

    @property
    def signing_key(self) -> Path:
        return self.folder / "signing.key"

    @property
    def pid(self) -> Path:
        """The running issuer's process id, as plain text."""
        return self.folder / "issuer.pid"

    @property
    def serving(self) -> Path:
        """What the running issuer was started with (port, listen address, issuer URL)."""
        return self.folder / "serving.json"

    @property
    def start_lock(self) -> Path:
        """Held while one command starts the issuer, so parallel `lab token` runs start it once."""
        return self.folder / "start.lock"

    @property
    def log(self) -> Path:
        return self.folder / "issuer.log"


def host_address(listen: str) -> str:
    """The address this host reaches the issuer at: loopback unless it listens on one address only
    (a room's 127.0.0.2 included: the issuer is not on 127.0.0.1 then)."""
    try:
        address = ipaddress.ip_address(listen)
    except ValueError:
        return "127.0.0.1"
    if address.is_unspecified or (address.is_loopback and address.version == 6):
        return "127.0.0.1"
    return listen  # one address (a network's gateway, or 127.0.49.1 in tests): only there


@dataclass(frozen=True)
class ClientRecord:
    """The one OAuth client of a lab: the apiserver's `--oidc-client-id`, and a hash of its secret."""

    client_id: str
    secret_hash: str
    redirect_uris: tuple[str, ...] = ()  # where the authorization endpoint may send a browser back
    # A room's attendees sign in from their own laptops, which never hold the secret: the client
    # then also takes requests that carry only its client_id (token endpoint auth method `none`).
    public: bool = False


@dataclass(frozen=True)
class IssuerSettings:
    issuer: str  # the `iss` claim, exactly as the apiserver is told; no trailing slash
    listen: str
    port: int
    id_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    client: ClientRecord
    lab: str = ""  # the lab's name, shown on the sign-in pages

    @property
    def host_address(self) -> str:
        return host_address(self.listen)

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "issuer": self.issuer,
            "listen": self.listen,
            "port": self.port,
            "id_token_ttl_seconds": self.id_token_ttl_seconds,
            "refresh_token_ttl_seconds": self.refresh_token_ttl_seconds,
            "client": {"client_id": self.client.client_id, "secret_hash": self.client.secret_hash,
                       "redirect_uris": list(self.client.redirect_uris),
                       **({"public": True} if self.client.public else {})},
            "lab": self.lab,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "IssuerSettings":
        return cls(
            issuer=document["issuer"],
            listen=document["listen"],
            port=int(document["port"]),
            id_token_ttl_seconds=int(document["id_token_ttl_seconds"]),
            refresh_token_ttl_seconds=int(document["refresh_token_ttl_seconds"]),
            client=ClientRecord(**{**document["client"],
                                   "redirect_uris": tuple(document["client"].get("redirect_uris") or ())}),
            lab=document.get("lab", ""),
        )


@dataclass(frozen=True)
class UserRecord:
    """A user as the issuer knows it: the claims of its id_tokens and a hash of its password."""

    sub: str
    username: str  # the lab's handle; also accepted as the login and sent as `preferred_username`
    password_hash: str
    email: str | None = None
    name: str | None = None
    groups: tuple[str, ...] = field(default_factory=tuple)
    email_verified: bool = True

    def document(self) -> dict[str, Any]:
        return {
            "sub": self.sub,
            "username": self.username,
            "password_hash": self.password_hash,
            "email": self.email,
            "name": self.name,
            "groups": list(self.groups),
            "email_verified": self.email_verified,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "UserRecord":
        return cls(**{**document, "groups": tuple(document.get("groups") or ())})


def read_settings(files: IssuerFiles) -> IssuerSettings | None:
    document = read_json(files.settings)
    return IssuerSettings.from_document(document) if document else None


def read_users(files: IssuerFiles) -> list[UserRecord]:
    document = read_json(files.users) or {}
    return [UserRecord.from_document(entry) for entry in document.get("users", [])]


def users_document(users: list[UserRecord]) -> dict[str, Any]:
    return {"format": FORMAT, "users": [user.document() for user in users]}


def write_if_changed(path: Path, document: dict[str, Any]) -> bool:
    """Write `document` (0600, atomic) unless the file already holds it. True if it wrote."""
    try:
        if read_json(path) == document:
            return False
    except ValueError:
        pass  # a damaged file is replaced
    write_json(path, document)
    return True

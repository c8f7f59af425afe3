"""What the lab's state keeps about its Auth0 objects, typed.

The state file holds these as the JSON it always had (`to_json`/`from_json` keep the shape, so
a state written by an earlier version still loads and tears down):

    {"kind": "auth0", "domain": "dev-x.eu.auth0.com",
     "application": {"client_id", "name"},
     "device_application": {"client_id", "name"},   (only when users sign in with the device flow)
     "connection": {"id", "name", "created", "enabled_client"?},
     "default_directory": {"previous", "value"},
     "users": {"<handle>": {"user_id", "email"}},
     "import_jobs": ["job_..."]}

Secrets are never here: the client secret and the passwords live in credentials.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


@dataclass
class ClientRecord:
    """The lab's application (an Auth0 client)."""

    client_id: str
    name: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ConnectionRecord:
    """The database connection the users live in. `created: false` means borrowed: used by the
    lab, never deleted by it; `enabled_client` is the application the lab enabled on it."""

    id: str
    name: str
    created: bool
    enabled_client: str | None = None

    def to_json(self) -> dict[str, Any]:
        shape = asdict(self)
        if self.enabled_client is None:
            del shape["enabled_client"]
        return shape


@dataclass
class DefaultDirectoryRecord:
    """The tenant's `default_directory` as found before the lab changed it (`previous`, unset may
    read as "" or None and is put back as found) and the value the lab set."""

    previous: str | None
    value: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class UserRecord:
    user_id: str
    email: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Auth0Record:
    """The provider's whole section of the lab state; empty when nothing at Auth0 is the lab's."""

    kind: str | None = None
    domain: str | None = None
    application: ClientRecord | None = None
    #: the Native application the device flow needs (Auth0 offers that flow to Native apps only)
    device_application: ClientRecord | None = None
    connection: ConnectionRecord | None = None
    default_directory: DefaultDirectoryRecord | None = None
    users: dict[str, UserRecord] = field(default_factory=dict)
    #: users-imports jobs started and not yet read back (a stopped run leaves them here)
    import_jobs: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, section: Mapping[str, Any]) -> "Auth0Record":
        def typed(kind: type, value: Any) -> Any:
            return kind(**value) if value else None

        return cls(
            kind=section.get("kind"),
            domain=section.get("domain"),
            application=typed(ClientRecord, section.get("application")),
            device_application=typed(ClientRecord, section.get("device_application")),
            connection=typed(ConnectionRecord, section.get("connection")),
            default_directory=typed(DefaultDirectoryRecord, section.get("default_directory")),
            users={handle: UserRecord(**user) for handle, user in (section.get("users") or {}).items()},
            import_jobs=list(section.get("import_jobs") or ()),
        )

    def to_json(self) -> dict[str, Any]:
        if self.is_empty():
            return {}
        shape: dict[str, Any] = {}
        for key in ("kind", "domain"):
            if getattr(self, key) is not None:
                shape[key] = getattr(self, key)
        for key in ("application", "device_application", "connection", "default_directory"):
            if getattr(self, key) is not None:
                shape[key] = getattr(self, key).to_json()
        shape["users"] = {handle: user.to_json() for handle, user in self.users.items()}
        if self.import_jobs:
            shape["import_jobs"] = list(self.import_jobs)
        return shape

    def is_empty(self) -> bool:
        return self == Auth0Record()

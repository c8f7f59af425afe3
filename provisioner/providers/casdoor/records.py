"""What the lab's state remembers of its Casdoor objects, as typed records.

The JSON on disk keeps the shape earlier versions wrote (`organization`, `application`, `users`
keyed by handle, and now `groups` keyed by group name, each a small object with `created`), so a
lab made by an older `lab up` is read and torn down by this one. No record holds a secret.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterator


@dataclass(frozen=True)
class OrganizationRecord:
    name: str
    created: bool  # made by the lab (deleted by `lab down`) rather than borrowed


@dataclass(frozen=True)
class ApplicationRecord:
    name: str
    organization: str | None
    client_id: str | None
    created: bool


@dataclass(frozen=True)
class GroupRecord:
    organization: str
    name: str
    created: bool

    @property
    def id(self) -> str:
        """Casdoor's group id, which users list in `groups` and tokens carry."""
        return f"{self.organization}/{self.name}"


@dataclass(frozen=True)
class UserRecord:
    organization: str
    name: str
    created: bool
    password_sha256: str | None = None  # a salted digest to notice a changed password, never the password


class CasdoorRecords:
    """A typed view over the provider's state section (a plain dict saved by LabState)."""

    def __init__(self, section: dict[str, Any]) -> None:
        self.section = section

    @property
    def built(self) -> bool:
        return any(self.section.get(kind) for kind in ("users", "groups", "application", "organization"))

    # organization -----------------------------------------------------------------------------------
    @property
    def organization(self) -> OrganizationRecord | None:
        raw = self.section.get("organization")
        return OrganizationRecord(raw["name"], bool(raw.get("created"))) if raw else None

    @organization.setter
    def organization(self, record: OrganizationRecord | None) -> None:
        self._put("organization", record)

    # application ------------------------------------------------------------------------------------
    @property
    def application(self) -> ApplicationRecord | None:
        raw = self.section.get("application")
        if not raw:
            return None
        return ApplicationRecord(raw["name"], raw.get("organization"), raw.get("client_id"), bool(raw.get("created")))

    @application.setter
    def application(self, record: ApplicationRecord | None) -> None:
        self._put("application", record)

    # groups -----------------------------------------------------------------------------------------
    def groups(self) -> Iterator[GroupRecord]:
        for raw in list((self.section.get("groups") or {}).values()):
            yield GroupRecord(raw["organization"], raw["name"], bool(raw.get("created")))

    def group(self, name: str) -> GroupRecord | None:
        raw = (self.section.get("groups") or {}).get(name)
        return GroupRecord(raw["organization"], raw["name"], bool(raw.get("created"))) if raw else None

    def set_group(self, record: GroupRecord) -> None:
        self.section.setdefault("groups", {})[record.name] = asdict(record)

    def forget_group(self, name: str) -> None:
        (self.section.get("groups") or {}).pop(name, None)
        if not self.section.get("groups"):
            self.section.pop("groups", None)

    # users ------------------------------------------------------------------------------------------
    def users(self) -> dict[str, UserRecord]:
        return {handle: _user(raw) for handle, raw in (self.section.get("users") or {}).items()}

    def user(self, handle: str) -> UserRecord | None:
        raw = (self.section.get("users") or {}).get(handle)
        return _user(raw) if raw else None

    def set_user(self, handle: str, record: UserRecord) -> None:
        self.section.setdefault("users", {})[handle] = asdict(record)

    def forget_user(self, handle: str) -> None:
        (self.section.get("users") or {}).pop(handle, None)

    # ------------------------------------------------------------------------------------------------
    def _put(self, key: str, record: Any) -> None:
        if record is None:
            self.section.pop(key, None)
        else:
            self.section[key] = asdict(record)


def _user(raw: dict[str, Any]) -> UserRecord:
    return UserRecord(raw["organization"], raw["name"], bool(raw.get("created")), raw.get("password_sha256"))

"""What the local provider keeps in the lab's state: its section, as a typed record.

The JSON on disk keeps the shape it always had (`issuer_url`, `client_id`, `port`, `users`, `pid`),
so state written by earlier versions still loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class LocalRecord:
    issuer_url: str | None = None
    client_id: str | None = None
    port: int | None = None
    users: list[str] = field(default_factory=list)  # handles whose secrets the lab keeps
    pid: int | None = None  # the issuer process last started or adopted

    @classmethod
    def from_dict(cls, section: dict[str, Any]) -> "LocalRecord":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in section.items() if key in known and value is not None}
        if "users" in values:
            values["users"] = [str(handle) for handle in values["users"]]
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        document = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}
        if not self.users and self.issuer_url is None:
            del document["users"]  # nothing recorded yet: an empty section stays empty
        return document

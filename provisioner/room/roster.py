"""The roster: `users_file: attendees.csv`, read next to `users:` in lab.yaml.

The CSV comes from a spreadsheet, so every problem is named by its line number, the way the
instructor will find it. Header `email,name,groups,role`; `groups` separated by `;`; an empty
`role` gives the attendee no cluster-wide role (with `namespaces.per_user` they still work in their
own namespace). Rows are checked here one by one, then validated again with the whole lab.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..config.model import ROSTER_MAX_ROWS, UserSpec
from ..errors import ConfigError

HEADER = ("email", "name", "groups", "role")
_FIX = "fix the roster (header email,name,groups,role) and run the command again"


def read_roster(path: Path, listed: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The roster's rows as lab.yaml user entries; `listed` are the users lab.yaml already names."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's UTF-8 export starts with a BOM
    except FileNotFoundError:
        raise ConfigError(f"users_file {path} does not exist", "give users_file relative to lab.yaml") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read users_file {path} as UTF-8 text ({exc})", "save the roster as CSV UTF-8") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(cell.strip().lower() for cell in header) != HEADER:
        raise ConfigError(f"{path} line 1: the header must be {','.join(HEADER)}", _FIX)
    emails, handles = _taken(listed or [])
    users: list[dict[str, Any]] = []
    for line, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line between blocks of attendees
        where = f"{path} line {line}"
        if len(row) != len(HEADER):
            raise ConfigError(f"{where}: has {len(row)} fields, the header has {len(HEADER)}",
                              "quote a name that contains a comma, e.g. \"Lovelace, Ada\"")
        entry = _entry(row)
        user = _validated(entry, where)
        for key, seen, what in ((user.email.lower() if user.email else None, emails, "e-mail"),
                                (user.handle, handles, "username")):
            if key is None:
                continue
            if key in seen:
                raise ConfigError(f"{where}: the {what} {key!r} is already used on {seen[key]}",
                                  "each attendee needs their own e-mail address; remove the duplicate row")
            seen[key] = f"line {line}"
        users.append(entry)
        if len(users) + len(listed or []) > ROSTER_MAX_ROWS:
            raise ConfigError(f"{where}: the lab would have more than {ROSTER_MAX_ROWS} users",
                              f"split the room into labs of at most {ROSTER_MAX_ROWS} attendees")
    return users


def _entry(row: list[str]) -> dict[str, Any]:
    email, name, groups, role = (cell.strip() for cell in row)
    entry: dict[str, Any] = {"email": email, "groups": [g.strip() for g in groups.split(";") if g.strip()],
                             "role": role or None}
    if name:
        entry["name"] = name
    return entry


def _validated(entry: dict[str, Any], where: str) -> UserSpec:
    if not entry["email"]:
        raise ConfigError(f"{where}: the email is empty", "every attendee signs in with an e-mail address")
    try:
        return UserSpec.model_validate(entry)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = next((str(part) for part in error["loc"] if isinstance(part, str)), "")
        value = entry.get(field) if field else None
        message = error["msg"].removeprefix("Value error, ")
        shown = f" {value!r}" if isinstance(value, str) else ""
        raise ConfigError(f"{where}: {field}{shown} {message}" if field else f"{where}: {message}", _FIX) from None


def _taken(listed: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """The e-mails and handles lab.yaml's own `users:` already use (validated later with the lab)."""
    emails: dict[str, str] = {}
    handles: dict[str, str] = {}
    for index, raw in enumerate(listed):
        if not isinstance(raw, dict):
            continue
        try:
            user = UserSpec.model_validate(raw)
        except ValidationError:
            continue  # lab.yaml's own error is reported with its own location
        if user.email:
            emails[user.email.lower()] = f"users[{index}] in lab.yaml"
        handles[user.handle] = f"users[{index}] in lab.yaml"
    return emails, handles


def with_roster(document: dict[str, Any], base: Path) -> dict[str, Any]:
    """lab.yaml's document with the roster's users added (only `users:` when the roster replaces the default)."""
    users_file = document.get("users_file")
    if not users_file or not isinstance(users_file, str):
        return document
    path = Path(users_file).expanduser()
    if not path.is_absolute():
        path = (base / path).absolute()
    listed = document.get("users") or []
    if not isinstance(listed, list):
        return document  # lab.yaml's own validation names this
    return {**document, "users_file": str(path), "users": list(listed) + read_roster(path, listed)}

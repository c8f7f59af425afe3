"""A lab user at Auth0: a user in the lab's connection, marked in its `app_metadata`.

Its id is chosen by the lab (`auth0|oidclab<hash of lab and email>`), so users made by a bulk
import are known without reading them back, and the `sub` claim is known before any token.
"""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from ...config import LabConfig, UserSpec
from ...errors import ProviderError
from ...secrets import LabSecrets
from .marks import is_ours, mark
from .records import UserRecord
from .run import Run


def login_email(user: UserSpec) -> str:
    """Auth0 stores emails lower-cased, and the user signs in with it."""
    assert user.email is not None, "lab.yaml validation guarantees an email for the email claim"
    return user.email.lower()


def local_user_id(lab: LabConfig, user: UserSpec) -> str:
    """The user's id within the connection (Auth0 prefixes `auth0|`), derived from lab and email.

    Chosen by the lab rather than by Auth0 so that users made by a bulk import are known by id
    without reading them back (Auth0's user search lags writes by seconds).
    """
    digest = hashlib.sha256(f"{lab.name}\0{login_email(user)}".encode()).hexdigest()
    return f"oidclab{digest[:24]}"


def user_id(lab: LabConfig, user: UserSpec) -> str:
    return f"auth0|{local_user_id(lab, user)}"


# expand and flatten ------------------------------------------------------------------------------
def user_profile(lab: LabConfig, user: UserSpec) -> dict[str, Any]:
    """The profile fields a lab user has at Auth0, shared by single creates and the bulk import."""
    return {
        "email": login_email(user),
        "email_verified": user.email_verified,
        "name": user.display_name,
        "nickname": user.handle,
        "app_metadata": mark(lab),
    }


def user_payload(lab: LabConfig, user: UserSpec, connection: str, password: str) -> dict[str, Any]:
    """POST /users. `verify_email: false` because the lab sets email_verified itself."""
    return {
        "connection": connection,
        "user_id": local_user_id(lab, user),
        **user_profile(lab, user),
        "password": password,
        "verify_email": False,
    }


def user_drift(lab: LabConfig, user: UserSpec, api_user: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings an existing lab user to lab.yaml ({} if it already matches)."""
    wanted = user_profile(lab, user)
    return {key: wanted[key] for key in ("email_verified", "name") if api_user.get(key) != wanted[key]}


def user_record(api_user: Mapping[str, Any]) -> UserRecord:
    return UserRecord(user_id=api_user["user_id"], email=api_user["email"])


def user_connection(api_user: Mapping[str, Any]) -> str | None:
    """The database connection a user lives in (its first identity)."""
    for identity in api_user.get("identities") or ():
        return identity.get("connection")
    return None


# against the tenant ------------------------------------------------------------------------------
def find(run: Run, email: str, connection: str) -> dict[str, Any] | None:
    """The user with this email in the lab's connection, if the lab made it; someone else's stops the lab."""
    for user in run.api.users_by_email(email):
        if user_connection(user) != connection:
            continue
        if is_ours(user.get("app_metadata"), run.lab):
            return user
        raise ProviderError(
            f"the connection {connection!r} already has a user {email} that lab {run.lab.name!r} did not create",
            "remove that user from lab.yaml, or delete it in the Auth0 dashboard if it is a leftover",
        )
    return None


def create(run: Run, user: UserSpec, password: str, connection: str) -> None:
    email = login_email(user)
    created = run.api.create_user(
        user_payload(run.lab, user, connection, password),
        find=lambda: find(run, email, connection),
    )
    run.record.users[user.handle] = user_record(created)
    run.save()


def delete(run: Run, user_ids: list[str], secrets: LabSecrets) -> None:
    """Delete these users, each once, forgetting the records (and the passwords of users lab.yaml
    no longer lists) as they go."""
    records, listed = run.record.users, {user.handle for user in run.lab.users}
    done: set[str] = set()
    for index, gone in enumerate(user_ids, 1):
        if gone in done:
            continue
        run.ui.update(f"users: deleting {index}/{len(user_ids)}")
        run.api.delete_user(gone)
        done.add(gone)
        for handle, record in list(records.items()):
            if record.user_id == gone:
                records.pop(handle)
                if handle not in listed:
                    secrets.forget_user(handle)
        run.save()

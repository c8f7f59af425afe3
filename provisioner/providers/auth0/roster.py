"""The lab's users in the tenant: which to create (one by one, or with a bulk import for a big
roster), which to update, and which to delete because lab.yaml no longer lists them.

The passwords are the lab's (credentials.json): each is on disk before a user is made with it,
and a password new to this run is set on a user that already exists.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from ...config import UserSpec
from ...errors import ProviderError
from ...secrets import LabSecrets
from . import users as user_object
from .bulk_import import import_users
from .records import ConnectionRecord
from .run import Run
from .users import login_email, user_connection, user_drift, user_record


def _shown(items: list[str]) -> str:
    return f"{', '.join(items[:5])}{' …' if len(items) > 5 else ''}"


def plan(run: Run) -> list[str]:
    lab, changes = run.lab, []
    existing = {user.get("email", "").lower() for user in run.api.lab_users(lab.name)}
    existing |= {record.email for record in run.record.users.values()}
    missing = [user for user in lab.users if login_email(user) not in existing]
    stale = sorted(existing - {login_email(user) for user in lab.users})
    if missing:
        how = "with a bulk import job" if len(missing) >= lab.auth0.bulk_import_threshold else "one by one"
        changes.append(f"create {len(missing)} user(s) {how}: {_shown([login_email(u) for u in missing])}")
    if stale:
        changes.append(f"delete {len(stale)} user(s) no longer in lab.yaml: {_shown(stale)}")
    if lab.groups or any(user.groups for user in lab.users):
        changes.append("note: Auth0 puts no groups claim in id_tokens without an Action; group bindings will not match")
    return changes


def ensure(run: Run, secrets: LabSecrets, connection: Mapping[str, Any]) -> None:
    lab, api, records = run.lab, run.api, run.record.users
    name = connection["name"]
    wanted = {user.handle: user for user in lab.users}
    listed = [] if run.fresh_connection and not records else api.lab_users(lab.name)
    in_connection = [user for user in listed if user_connection(user) in (None, name)]
    by_email = {user.get("email", "").lower(): user for user in in_connection}
    stored_before = {handle: entry.get("password") for handle, entry in secrets.document.get("users", {}).items()}
    with secrets.deferred_saves():  # every password is on disk before any user is made with it
        passwords = {handle: secrets.password(handle, _fixed(user)) for handle, user in wanted.items()}
        for handle, user in wanted.items():
            secrets.set_login(handle, login_email(user))

    # users the lab made that lab.yaml no longer lists, or that sit in another connection
    wanted_emails = {login_email(user) for user in wanted.values()}
    stale = [user["user_id"] for user in listed if user not in in_connection or user.get("email", "").lower() not in wanted_emails]
    for handle, record in list(records.items()):
        if handle not in wanted or record.email != login_email(wanted[handle]):
            stale.append(record.user_id)
    user_object.delete(run, stale, secrets)

    existing: dict[str, dict[str, Any]] = {}
    for handle, user in wanted.items():
        found = by_email.get(login_email(user))
        if found is None and handle in records:
            found = api.user(records[handle].user_id)  # the search index may not show it yet
        if found is not None and user_connection(found) in (None, name):
            existing[handle] = found
            if records.get(handle) != user_record(found):
                records[handle] = user_record(found)
                run.save()
        else:
            records.pop(handle, None)

    missing = [user for handle, user in wanted.items() if handle not in existing]
    if missing:
        if len(missing) >= lab.auth0.bulk_import_threshold:
            renew = {handle for handle in wanted if stored_before.get(handle) != passwords[handle]}
            import_users(run, missing, passwords, renew, connection)
        else:
            for index, user in enumerate(missing, 1):
                run.ui.update(f"users: creating {index}/{len(missing)}")
                with _kept_only_if_accepted(secrets, user.handle, stored_before.get(user.handle)):
                    user_object.create(run, user, passwords[user.handle], name)

    for handle, found in existing.items():
        patch = user_drift(lab, wanted[handle], found)
        if stored_before.get(handle) != passwords[handle]:
            patch["password"] = passwords[handle]  # new in lab.yaml, or lost: the lab must know it
        if patch:
            with _kept_only_if_accepted(secrets, handle, stored_before.get(handle)):
                api.update_user(found["user_id"], patch)
    _warn_unverified(run)


@contextmanager
def _kept_only_if_accepted(secrets: LabSecrets, handle: str, previous: str | None) -> Iterator[None]:
    """A password Auth0 refused is never kept: credentials.json goes back to the one before, so a
    later run does not send it again after lab.yaml stopped naming it."""
    try:
        yield
    except ProviderError:
        secrets.restore_password(handle, previous)
        raise


def teardown(run: Run, connection: ConnectionRecord | None, secrets: LabSecrets) -> None:
    """Deleting the lab's own connection deletes the users in it, one request for the whole
    roster; users elsewhere (a borrowed connection) go one by one."""
    own = connection.name if connection and connection.created else None
    marked = [user["user_id"] for user in run.api.lab_users(run.lab.name) if own is None or user_connection(user) != own]
    recorded = [] if own else [record.user_id for record in run.record.users.values()]
    user_object.delete(run, recorded + marked, secrets)


def _fixed(user: UserSpec) -> str | None:
    return user.password.get_secret_value() if user.password else None


def _warn_unverified(run: Run) -> None:
    if run.lab.oidc.username_claim != "email":
        return
    for user in run.lab.users:
        if not user.email_verified:
            run.ui.warn(f"{user.email} has email_verified: false, so kube-apiserver will refuse their tokens")

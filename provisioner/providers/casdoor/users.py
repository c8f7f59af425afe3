"""The lab's users in its Casdoor organization, with their passwords and groups.

A password is written with `columns=password`: update-user without `columns` writes a fixed list
of columns that leaves the password out, answers Affected, and keeps the old one (object/user.go,
UpdateUser). Profile fields go with the columns the lab manages (api.PROFILE_COLUMNS). A password
from lab.yaml is kept in credentials.json only after Casdoor took it, so a password Casdoor
refused is never kept; a generated one is kept before the create, so a lost reply cannot lose it.
"""

from __future__ import annotations

from ...config import UserSpec
from ...errors import ProviderError
from ...secrets import LabSecrets
from . import payloads
from .api import AFFECTED, PROFILE_COLUMNS
from .common import Run, create_once, delete_for_sure
from .records import UserRecord


def held_password(spec: UserSpec, secrets: LabSecrets) -> str | None:
    """The password `ensure` would give the user, unless it would have to make a new one."""
    if spec.password is not None:
        return spec.password.get_secret_value()
    return (secrets.document.get("users", {}).get(spec.handle) or {}).get("password") or None


def plan(run: Run, organization_exists: bool) -> list[str]:
    organization = run.names.organization
    lines = []
    for spec in run.lab.users:
        name = payloads.user_name(spec)
        found = run.api.get_user(organization, name) if organization_exists else None
        groups = f", groups {', '.join(spec.groups)}" if spec.groups else ""
        if found is None:
            lines.append(f"create user {organization}/{name} ({spec.email or 'no email'}{groups})")
            continue
        drift = payloads.user_drift(run.lab, spec, found)
        password = held_password(spec, run.secrets)
        recorded = run.records.user(spec.handle)
        digest = payloads.password_digest(organization, name, password) if password else None
        if digest is None or recorded is None or recorded.password_sha256 != digest:
            drift.append("password")
        if drift:
            lines.append(f"update user {organization}/{name}: {', '.join(drift)}")
    wanted = {spec.handle for spec in run.lab.users}
    for handle, record in run.records.users().items():
        if handle not in wanted and record.created:
            lines.append(f"delete user {record.organization}/{record.name} (no longer in lab.yaml)")
    return lines


def ensure(run: Run, spec: UserSpec) -> None:
    organization, name = run.names.organization, payloads.user_name(spec)
    fixed = spec.password.get_secret_value() if spec.password is not None else None
    password = fixed if fixed is not None else run.secrets.password(spec.handle)
    run.secrets.set_login(spec.handle, name)
    recorded = run.records.user(spec.handle)
    digest = payloads.password_digest(organization, name, password)
    found = run.api.get_user(organization, name)
    if found is None:
        create_once(
            f"user {organization}/{name}",
            lambda: run.api.add_user(payloads.user_payload(run.lab, spec, password)),
            lambda: run.api.get_user(organization, name),
            lambda user: payloads.user_is_marked(run.lab, user),
        )
    else:
        ours = (recorded is not None and recorded.name == name and recorded.created) or \
            payloads.user_is_marked(run.lab, found)
        if not ours:
            raise ProviderError(
                f"Casdoor user {organization}/{name} already exists and was not made by lab {run.lab.name!r}",
                "delete or rename that user in Casdoor, or give the lab user another username in lab.yaml",
            )
        drift = payloads.user_drift(run.lab, spec, found)
        if drift:
            run.ui.update(f"updating user {organization}/{name}: {', '.join(drift)}")
            _require(run.api.update_user(payloads.user_update(found, run.lab, spec), PROFILE_COLUMNS),
                     f"update user {organization}/{name}")
        # Changed in lab.yaml, or lost with credentials.json and made anew: Casdoor must get it.
        if recorded is None or recorded.password_sha256 != digest:
            run.ui.update(f"setting the password of user {organization}/{name}")
            _require(run.api.update_user(payloads.password_update(found, password), "password", "set the password of"),
                     f"set the password of user {organization}/{name}")
    if fixed is not None:
        run.secrets.password(spec.handle, fixed)  # kept only now that Casdoor has taken it
    run.records.set_user(spec.handle, UserRecord(organization, name, True, digest))
    run.save()


def delete_dropped(run: Run) -> None:
    """Users removed from lab.yaml since the last `lab up` are deleted, as `lab down` would."""
    wanted = {spec.handle for spec in run.lab.users}
    for handle in [h for h in run.records.users() if h not in wanted]:
        delete(run, handle)


def teardown(run: Run) -> None:
    for handle in list(run.records.users()):
        delete(run, handle)


def delete(run: Run, handle: str) -> None:
    """Delete a user the lab created (a borrowed one stays) and forget it, saving state at once."""
    record = run.records.user(handle)
    assert record is not None
    if record.created:
        run.ui.update(f"deleting user {record.organization}/{record.name}")
        delete_for_sure(f"user {record.organization}/{record.name}",
                        lambda: run.api.delete_user(record.organization, record.name),
                        lambda: run.api.get_user(record.organization, record.name))
    run.records.forget_user(handle)
    run.secrets.forget_user(handle)
    run.save()


def _require(answer: str, what: str) -> None:
    if answer != AFFECTED:
        raise ProviderError(
            f"Casdoor answered {answer!r} when asked to {what}, so the change did not happen",
            "check that the user still exists in Casdoor and run `lab up` again",
        )

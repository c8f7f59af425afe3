"""The tenant's default directory: the connection the plain password grant looks users up in.

Without it Auth0 answers the password grant with "Authorization server not configured with
default connection". It is a tenant-wide setting, so the value found is recorded before the lab
changes it and put back by lab down, unless someone changed it again in between.
"""

from __future__ import annotations

from typing import Any

from .records import DefaultDirectoryRecord
from .run import Run


def default_directory_patch(connection: str | None) -> dict[str, Any]:
    """The tenant settings PATCH; None unsets the default directory (sent as null)."""
    return {"default_directory": connection}


def plan(run: Run, connection: str) -> list[str]:
    if run.lab.auth0.set_default_directory:
        current = run.api.tenant_settings().get("default_directory") or ""
        if current != connection:
            return [f"set the tenant's default directory to {connection!r} (now {current or 'unset'!r}; restored by lab down)"]
    elif run.record.default_directory:
        return [f"restore the tenant's default directory to {run.record.default_directory.previous or 'unset'!r}"]
    return []


def ensure(run: Run, connection: str) -> None:
    if not run.lab.auth0.set_default_directory:
        restore(run)
        return
    current = run.api.tenant_settings().get("default_directory")
    if current == connection:
        return
    # kept as found (unset may read as "" or be absent), so lab down puts back exactly that
    if run.record.default_directory is None:
        run.record.default_directory = DefaultDirectoryRecord(previous=current)
    run.record.default_directory.value = connection
    run.save()  # the previous value is on disk before the tenant changes
    run.api.set_default_directory(default_directory_patch(connection))


def restore(run: Run) -> None:
    """Put back the value the lab found, if the tenant still has the lab's."""
    change = run.record.default_directory
    if not change:
        return
    current = run.api.tenant_settings().get("default_directory") or ""
    if current == change.value:
        run.api.set_default_directory(default_directory_patch(change.previous))
    elif current != (change.previous or ""):
        run.ui.warn(f"the tenant's default directory was changed to {current!r} after lab up; leaving it as it is")
    run.record.default_directory = None
    run.save()

"""The database connection the lab's users live in, and the application enabled on it.

The lab makes its own connection (`<lab>-users`) unless lab.yaml names one, which is borrowed:
used, recorded as not created, never deleted; only the lab's application is disabled on it again.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import LabConfig
from ...errors import ProviderError
from .marks import is_ours, mark
from .records import ClientRecord, ConnectionRecord
from .run import Run


def connection_name(lab: LabConfig) -> str:
    return lab.auth0.connection or f"{lab.name}-users"


def connection_is_named_by_config(lab: LabConfig) -> bool:
    """A connection the instructor named may be borrowed; the default name must be the lab's own."""
    return lab.auth0.connection is not None


# expand and flatten ------------------------------------------------------------------------------
def connection_payload(lab: LabConfig) -> dict[str, Any]:
    """A username/password database connection kept by Auth0 itself (strategy auth0)."""
    return {"name": connection_name(lab), "strategy": "auth0", "metadata": mark(lab)}


def enable_client_payload(client_id: str, enabled: bool = True) -> list[dict[str, Any]]:
    """The body of PATCH /connections/{id}/clients (the connection's enabled_clients is deprecated)."""
    return [{"client_id": client_id, "status": enabled}]


def connection_record(api_connection: Mapping[str, Any], created: bool) -> ConnectionRecord:
    """`created: false` means borrowed: used by the lab, never deleted by it."""
    return ConnectionRecord(id=api_connection["id"], name=api_connection["name"], created=created)


# against the tenant ------------------------------------------------------------------------------
def find(run: Run, *, strict: bool = True) -> dict[str, Any] | None:
    """The connection by name: the lab's own, or (`strict`, lab up) one the config names, borrowed;
    someone else's stops a strict look-up and is passed over otherwise (lab down)."""
    lab, name = run.lab, connection_name(run.lab)
    for connection in run.api.connections_named(name):
        if is_ours(connection.get("metadata"), lab):
            return connection
        if not strict:
            continue
        if not connection_is_named_by_config(lab):
            raise ProviderError(
                f"the Auth0 tenant already has a connection named {name!r} that lab {lab.name!r} did not create",
                f"set auth0.connection: {name} in lab.yaml to borrow it (it is never deleted), or choose another lab name",
            )
        if connection.get("strategy") != "auth0":
            raise ProviderError(
                f"the connection {name!r} is a {connection.get('strategy')!r} connection, not a username/password database",
                "set auth0.connection to a database connection (strategy auth0), or leave it unset for a new one",
            )
        return connection
    return None


def plan(run: Run) -> list[str]:
    name, recorded = connection_name(run.lab), run.record.connection
    connection = run.api.connection(recorded.id) if recorded else find(run)
    if connection is None:
        return [f"create the database connection {name!r} and enable the application on it"]
    if not is_ours(connection.get("metadata"), run.lab):
        return [f"borrow the existing connection {name!r} (never deleted) and enable the application on it"]
    return []


def ensure(run: Run) -> dict[str, Any]:
    """Look up, borrow or create the connection; the connection as Auth0 answered."""
    lab, api, recorded = run.lab, run.api, run.record.connection
    if recorded and recorded.name != connection_name(lab):
        raise ProviderError(
            f"lab {lab.name!r} uses the connection {recorded.name!r}, but lab.yaml now names {connection_name(lab)!r}",
            "run `lab down` first to move the lab to another connection",
        )
    connection = api.connection(recorded.id) if recorded else None
    if connection is None:
        if recorded:
            run.record.connection = None
            run.save()
        connection = find(run)
        if connection is None:
            connection = api.create_connection(connection_payload(lab), find=lambda: find(run))
            run.fresh_connection = True
        created = is_ours(connection.get("metadata"), lab)
        run.record.connection = connection_record(connection, created=created)
        run.save()
        if not created:
            run.ui.info(f"borrowing the existing connection {connection['name']!r}; lab down leaves it in place")
    return connection


def ensure_enabled(run: Run, connection: Mapping[str, Any], client_id: str, record: bool = True) -> None:
    """The application may sign users in through the connection. `record: False` for an application
    the lab deletes on `lab down` anyway (Auth0 forgets a deleted application's connections)."""
    if not run.fresh_connection and client_id in run.api.enabled_clients(connection["id"]):
        return
    assert run.record.connection is not None
    if record:
        run.record.connection.enabled_client = client_id  # recorded first: lab down disables it on a borrowed connection
        run.save()
    run.api.set_enabled_clients(connection["id"], enable_client_payload(client_id))


def recorded_or_found(run: Run) -> ConnectionRecord | None:
    """For lab down: the recorded connection, or the lab's own found by name and mark (a run
    stopped between creating it and recording it)."""
    if run.record.connection is not None:
        return run.record.connection
    found = find(run, strict=False)
    return connection_record(found, created=True) if found else None


def teardown(run: Run, connection: ConnectionRecord | None, application: ClientRecord | None) -> None:
    """Delete the lab's own connection (and with it its users); on a borrowed one, disable the application."""
    if connection is None:
        return
    if connection.created:
        run.api.delete_connection(connection.id)
    elif connection.enabled_client and application:
        try:  # Auth0 also forgets a deleted application, so a failure here leaves nothing behind
            run.api.set_enabled_clients(connection.id, enable_client_payload(application.client_id, enabled=False))
        except ProviderError as exc:
            run.ui.warn(f"could not disable the application on the borrowed connection: {exc}")

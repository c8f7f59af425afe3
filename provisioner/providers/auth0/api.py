"""The Management API calls the lab makes, answered as the JSON Auth0 sent (plain dicts).

Each method is one endpoint, sent through the disciplines of `ManagementSession`: reads and
PATCHes are repeatable, creates never duplicate (`find` adopts what a lost answer made), and a
read or delete of an object that is gone answers None.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from .marks import MARK_KEY
from .session import ManagementSession, json_of

Found = Callable[[], "dict[str, Any] | None"]


class ManagementApi(ManagementSession):
    # applications --------------------------------------------------------------------------------
    def clients_named(self, name: str) -> list[dict[str, Any]]:
        """Every application with this name (Auth0 allows duplicates), with the fields the lab checks."""
        fields = "client_id,name,client_metadata,app_type,grant_types,token_endpoint_auth_method,oidc_conformant,jwt_configuration"
        return self._pages(
            "looking up applications", "clients",
            lambda page, options: self.sdk.clients.with_raw_response.list(
                page=page, per_page=100, include_totals=True, fields=fields, include_fields=True, request_options=options
            ),
            keep=lambda client: client.get("name") == name,
        )

    def client(self, client_id: str) -> dict[str, Any] | None:
        return json_of(self.unless_gone(
            "reading the application", lambda options: self.sdk.clients.with_raw_response.get(client_id, request_options=options)
        ))

    def create_client(self, payload: Mapping[str, Any], find: Found) -> dict[str, Any]:
        return self.create(
            "creating the application",
            lambda options: json_of(self.sdk.clients.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def update_client(self, client_id: str, patch: Mapping[str, Any]) -> None:
        self.repeatable("updating the application", lambda options: self.sdk.clients.update(client_id, **patch, request_options=options))

    def delete_client(self, client_id: str) -> None:
        self.unless_gone("deleting the application", lambda options: self.sdk.clients.delete(client_id, request_options=options))

    # connections ---------------------------------------------------------------------------------
    def connections_named(self, name: str) -> list[dict[str, Any]]:
        body = json_of(self.repeatable(
            "looking up connections",
            lambda options: self.sdk.connections.with_raw_response.list(name=name, request_options=options),
        ))
        connections = body.get("connections", []) if isinstance(body, dict) else body
        return [connection for connection in connections if connection.get("name") == name]

    def connection(self, connection_id: str) -> dict[str, Any] | None:
        return json_of(self.unless_gone(
            "reading the connection",
            lambda options: self.sdk.connections.with_raw_response.get(connection_id, request_options=options),
        ))

    def create_connection(self, payload: Mapping[str, Any], find: Found) -> dict[str, Any]:
        return self.create(
            "creating the database connection",
            lambda options: json_of(self.sdk.connections.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def delete_connection(self, connection_id: str) -> None:
        self.unless_gone(
            "deleting the database connection", lambda options: self.sdk.connections.delete(connection_id, request_options=options)
        )

    def enabled_clients(self, connection_id: str) -> set[str]:
        """The applications enabled on a connection (checkpoint paging: `from`/`take`, then `next`)."""
        enabled: set[str] = set()
        cursor: str | None = None
        while True:
            body = json_of(self.repeatable(
                "reading the connection's applications",
                lambda options, cursor=cursor: self.sdk.connections.clients.with_raw_response.get(
                    connection_id, take=100, from_=cursor, request_options=options
                ),
            ))
            enabled |= {entry["client_id"] for entry in body.get("clients", [])}
            cursor = body.get("next")
            if not cursor or not body.get("clients"):
                return enabled

    def set_enabled_clients(self, connection_id: str, request: list[dict[str, Any]]) -> None:
        self.repeatable(
            "enabling the application on the connection",
            lambda options: self.sdk.connections.clients.update(connection_id, request=request, request_options=options),
        )

    # tenant settings -----------------------------------------------------------------------------
    def tenant_settings(self) -> dict[str, Any]:
        return json_of(self.repeatable(
            "reading the tenant settings",
            lambda options: self.sdk.tenants.settings.with_raw_response.get(
                fields="default_directory", include_fields=True, request_options=options
            ),
        ))

    def set_default_directory(self, patch: Mapping[str, Any]) -> None:
        """PATCH the tenant settings' `default_directory` (a None value is sent as null: unset)."""
        self.repeatable(
            "setting the tenant's default directory",
            lambda options: self.sdk.tenants.settings.update(**patch, request_options=options),
        )

    # users ---------------------------------------------------------------------------------------
    def lab_users(self, lab_name: str) -> list[dict[str, Any]]:
        """The users carrying the lab's mark. Auth0's search index lags writes by seconds."""
        return self._pages(
            "looking up the lab's users", "users",
            lambda page, options: self.sdk.users.with_raw_response.list(
                q=f'app_metadata.{MARK_KEY}:"{lab_name}"', page=page, per_page=100, include_totals=True, request_options=options
            ),
        )

    def users_by_email(self, email: str) -> list[dict[str, Any]]:
        """Exact look-up (no index lag), as Auth0 recommends right after a create."""
        return json_of(self.repeatable(
            "looking up a user by email",
            lambda options: self.sdk.users.with_raw_response.list_users_by_email(email=email, request_options=options),
        ))

    def user(self, user_id: str) -> dict[str, Any] | None:
        return json_of(self.unless_gone(
            "reading a user", lambda options: self.sdk.users.with_raw_response.get(user_id, request_options=options)
        ))

    def create_user(self, payload: Mapping[str, Any], find: Found) -> dict[str, Any]:
        return self.create(
            f"creating the user {payload.get('email')}",
            lambda options: json_of(self.sdk.users.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def update_user(self, user_id: str, patch: Mapping[str, Any]) -> None:
        self.repeatable("updating a user", lambda options: self.sdk.users.update(user_id, **patch, request_options=options))

    def delete_user(self, user_id: str) -> None:
        self.unless_gone("deleting a user", lambda options: self.sdk.users.delete(user_id, request_options=options))

    # bulk imports --------------------------------------------------------------------------------
    def start_import(self, connection_id: str, users_file: bytes, on_unknown: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """Start a users-imports job. Jobs cannot be looked up, so after an unknown outcome the job is
        sent again (`on_unknown` is told): a second job only reports the users of the first as
        duplicates, which the caller resolves."""
        def unknown() -> None:
            on_unknown()
            return None

        return self.create(
            "starting the bulk user import",
            lambda options: json_of(
                self.sdk.jobs.users_imports.with_raw_response.create(
                    users=("users.json", users_file, "application/json"),
                    connection_id=connection_id,
                    upsert=False,
                    send_completion_email=False,
                    request_options=options,
                )
            ),
            unknown,
        )

    def job(self, job_id: str) -> dict[str, Any]:
        return json_of(self.repeatable(
            "checking the bulk import", lambda options: self.sdk.jobs.with_raw_response.get(job_id, request_options=options)
        ))

    def job_errors(self, job_id: str) -> Any:
        return json_of(self.repeatable(
            "reading the bulk import's failures",
            lambda options: self.sdk.jobs.errors.with_raw_response.get(job_id, request_options=options),
        ))

    # ---------------------------------------------------------------------------------------------
    def _pages(
        self, action: str, key: str, list_page: Callable[[int, dict[str, Any]], Any],
        keep: Callable[[dict[str, Any]], bool] = lambda item: True,
    ) -> list[dict[str, Any]]:
        """Every item of a `page`/`per_page`/`include_totals` listing (clients, users)."""
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            body = json_of(self.repeatable(action, lambda options, page=page: list_page(page, options)))
            items = body.get(key, []) if isinstance(body, dict) else body
            found += [item for item in items if keep(item)]
            total = body.get("total", 0) if isinstance(body, dict) else 0
            page += 1
            if not items or page * 100 >= total:
                return found

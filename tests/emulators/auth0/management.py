"""The Management API v2 routes: which scope each needs, how it reads the request, what it answers.

Every route is one small function over the `Tenant`; `ROUTES` pairs it with a method, a path
pattern and the scopes Auth0 expects ("Insufficient scope, expected any of: ..." lists them).
"""

from __future__ import annotations

import copy
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

from . import imports
from .errors import ManagementError, query_error
from .search import compile_query
from .tenant import MAX_PAGED_RESULTS, Tenant

#: Fields Auth0 returns with a connection whatever `fields` asks for (seen in the recordings).
_CONNECTION_ALWAYS = ("id", "is_domain_connection", "authentication", "connected_accounts")


@dataclass
class Call:
    """One Management API request, decoded."""

    tenant: Tenant
    params: dict[str, str]  # path parameters, percent-decoded
    query: dict[str, list[str]]
    body: Any
    scopes: set[str]
    client_id: str
    form: dict[str, str] | None = None
    files: dict[str, bytes] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        return default if value is None else value.lower() == "true"

    def number(self, name: str, default: int, maximum: int | None = None) -> int:
        value = self.arg(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise query_error("Expected type integer but found type string", name) from None
        if number < 0:
            raise query_error(f"Value {number} is less than minimum 0", name)
        if maximum is not None and number > maximum:
            raise query_error(f"Value {number} is greater than maximum {maximum}", name)
        return number


Answer = tuple[int, Any]
Handler = Callable[[Call], Answer]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # e.g. "/api/v2/clients/{id}", also the key of `Auth0Emulator.writes`
    scopes: tuple[str, ...]
    handler: Handler

    @property
    def pattern(self) -> re.Pattern[str]:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template)
        return re.compile(f"^{regex}$")

    @property
    def writes(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


# helpers ------------------------------------------------------------------------------------------
def project(record: dict[str, Any], call: Call, always: tuple[str, ...] = ()) -> dict[str, Any]:
    """Apply `fields` / `include_fields` the way Auth0 does."""
    fields = call.arg("fields")
    if not fields:
        return record
    names = [f.strip() for f in fields.split(",") if f.strip()]
    if call.flag("include_fields", True):
        return {k: v for k, v in record.items() if k in names or k in always}
    return {k: v for k, v in record.items() if k not in names}


def paged(call: Call, key: str, items: list[dict[str, Any]], limit_window: bool = False) -> Any:
    """Offset paging: `page`, `per_page` (max 100), `include_totals` wraps the page with its totals."""
    page = call.number("page", 0)
    per_page = call.number("per_page", 50, maximum=100)
    if limit_window and (page + 1) * per_page > MAX_PAGED_RESULTS:
        raise ManagementError(
            400,
            "You can only page through the first 1000 records. "
            "See https://auth0.com/docs/users/search/v3/view-search-results-by-page#limitation",
            "invalid_paging",
        )
    start = page * per_page
    chunk = items[start:start + per_page]
    if call.flag("include_totals"):
        return {"start": start, "limit": per_page, "length": len(chunk), "total": len(items), key: chunk}
    return chunk


def checkpoint(call: Call, key: str, items: list[dict[str, Any]], ident: Callable[[dict[str, Any]], str]) -> dict[str, Any]:
    """Checkpoint paging: `from` (an opaque id given as `next` before) and `take` (max 100)."""
    take = call.number("take", 50, maximum=100)
    start = 0
    cursor = call.arg("from")
    if cursor:
        positions = [i for i, item in enumerate(items) if ident(item) == cursor]
        if not positions:
            raise query_error("Invalid checkpoint: from", "from")
        start = positions[0]
    chunk = items[start:start + take]
    answer: dict[str, Any] = {key: chunk}
    if start + take < len(items):
        answer["next"] = ident(items[start + take])
    return answer


# clients --------------------------------------------------------------------------------------------
def _client_view(record: dict[str, Any], call: Call) -> dict[str, Any]:
    view = copy.deepcopy(record)
    if "read:client_keys" not in call.scopes:
        view.pop("client_secret", None)
        view.pop("signing_keys", None)
    return project(view, call)


def list_clients(call: Call) -> Answer:
    records = list(call.tenant.clients.values())
    for name in ("app_type", "is_first_party"):
        wanted = call.arg(name)
        if wanted is not None:
            records = [r for r in records if str(r.get(name)).lower() in wanted.lower().split(",")]
    return 200, paged(call, "clients", [_client_view(r, call) for r in records])


def create_client(call: Call) -> Answer:
    return 201, copy.deepcopy(call.tenant.create_client(call.body))


def get_client(call: Call) -> Answer:
    return 200, _client_view(call.tenant.client(call.params["id"]), call)


def update_client(call: Call) -> Answer:
    record = call.tenant.update_client(call.params["id"], call.body)
    return 200, copy.deepcopy(record)


def delete_client(call: Call) -> Answer:
    call.tenant.delete_client(call.params["id"])
    return 204, None


# connections ------------------------------------------------------------------------------------------
def list_connections(call: Call) -> Answer:
    records = list(call.tenant.connections.values())
    if call.arg("name") is not None:
        records = [r for r in records if r["name"] == call.arg("name")]
    strategies = [s for value in call.query.get("strategy", []) for s in value.split(",") if s]
    if strategies:
        records = [r for r in records if r["strategy"] in strategies]
    views = [project(copy.deepcopy(r), call, _CONNECTION_ALWAYS) for r in records]
    if call.arg("from") is not None or call.arg("take") is not None:
        return 200, checkpoint(call, "connections", views, lambda c: c["id"])
    return 200, paged(call, "connections", views)


def create_connection(call: Call) -> Answer:
    return 201, copy.deepcopy(call.tenant.create_connection(call.body))


def get_connection(call: Call) -> Answer:
    return 200, project(copy.deepcopy(call.tenant.connection(call.params["id"])), call, _CONNECTION_ALWAYS)


def update_connection(call: Call) -> Answer:
    return 200, copy.deepcopy(call.tenant.update_connection(call.params["id"], call.body))


def delete_connection(call: Call) -> Answer:
    return 202, call.tenant.delete_connection(call.params["id"])


def get_connection_clients(call: Call) -> Answer:
    record = call.tenant.connection(call.params["id"])
    items = [{"client_id": client_id} for client_id in record["enabled_clients"]]
    return 200, checkpoint(call, "clients", items, lambda c: c["client_id"])


def update_connection_clients(call: Call) -> Answer:
    call.tenant.update_connection_clients(call.params["id"], call.body)
    return 204, None


# tenant settings ----------------------------------------------------------------------------------------
def get_settings(call: Call) -> Answer:
    return 200, project(call.tenant.settings_view(), call)


def update_settings(call: Call) -> Answer:
    return 200, call.tenant.update_settings(call.body)


# users ------------------------------------------------------------------------------------------------
def list_users(call: Call) -> Answer:
    profiles = call.tenant.searchable_users()
    if call.arg("connection"):
        profiles = [p for p in profiles if any(i["connection"] == call.arg("connection") for i in p["identities"])]
    if call.arg("q"):
        matches = compile_query(call.arg("q") or "")
        profiles = [p for p in profiles if matches(p)]
    sort = call.arg("sort")
    if sort:
        name, _, direction = sort.partition(":")
        profiles = sorted(profiles, key=lambda p: str(p.get(name, "")), reverse=direction == "-1")
    views = [project(copy.deepcopy(p), call) for p in profiles]
    return 200, paged(call, "users", views, limit_window=True)


def create_user(call: Call) -> Answer:
    return 201, copy.deepcopy(call.tenant.create_user(call.body, call.client_id))


def get_user(call: Call) -> Answer:
    return 200, project(copy.deepcopy(call.tenant.user(call.params["id"]).profile), call)


def update_user(call: Call) -> Answer:
    return 200, copy.deepcopy(call.tenant.update_user(call.params["id"], call.body))


def delete_user(call: Call) -> Answer:
    call.tenant.delete_user(call.params["id"])
    return 204, None


def users_by_email(call: Call) -> Answer:
    email = call.arg("email")
    if not email:
        raise query_error("Missing required property: email")
    return 200, [project(copy.deepcopy(p), call) for p in call.tenant.users_by_email(email)]


# jobs -------------------------------------------------------------------------------------------------
def create_users_import(call: Call) -> Answer:
    if call.form is None:
        raise ManagementError(400, "Bad Request: expected a multipart/form-data body", "invalid_body")
    users_file = (call.files or {}).get("users")
    return 202, imports.create_import_job(call.tenant, call.form, users_file)


def get_job(call: Call) -> Answer:
    return 200, copy.deepcopy(imports.job(call.tenant, call.params["id"]).record)


def get_job_errors(call: Call) -> Answer:
    errors = imports.job(call.tenant, call.params["id"]).errors
    return (200, copy.deepcopy(errors)) if errors else (204, None)


# resource servers -----------------------------------------------------------------------------------------
def create_resource_server(call: Call) -> Answer:
    return 201, copy.deepcopy(call.tenant.create_resource_server(call.body))


def get_resource_server(call: Call) -> Answer:
    return 200, copy.deepcopy(call.tenant.resource_server(call.params["id"]))


def update_resource_server(call: Call) -> Answer:
    return 200, copy.deepcopy(call.tenant.update_resource_server(call.params["id"], call.body))


def delete_resource_server(call: Call) -> Answer:
    call.tenant.delete_resource_server(call.params["id"])
    return 204, None


ROUTES: list[Route] = [
    Route("GET", "/api/v2/clients", ("read:clients", "read:client_keys"), list_clients),
    Route("POST", "/api/v2/clients", ("create:clients",), create_client),
    Route("GET", "/api/v2/clients/{id}", ("read:clients", "read:client_keys"), get_client),
    Route("PATCH", "/api/v2/clients/{id}", ("update:clients", "update:client_keys"), update_client),
    Route("DELETE", "/api/v2/clients/{id}", ("delete:clients",), delete_client),
    Route("GET", "/api/v2/connections", ("read:connections",), list_connections),
    Route("POST", "/api/v2/connections", ("create:connections",), create_connection),
    Route("GET", "/api/v2/connections/{id}", ("read:connections",), get_connection),
    Route("PATCH", "/api/v2/connections/{id}", ("update:connections",), update_connection),
    Route("DELETE", "/api/v2/connections/{id}", ("delete:connections",), delete_connection),
    Route("GET", "/api/v2/connections/{id}/clients", ("read:connections",), get_connection_clients),
    Route("PATCH", "/api/v2/connections/{id}/clients", ("update:connections",), update_connection_clients),
    Route("GET", "/api/v2/tenants/settings", ("read:tenant_settings",), get_settings),
    Route("PATCH", "/api/v2/tenants/settings", ("update:tenant_settings",), update_settings),
    Route("GET", "/api/v2/users", ("read:users",), list_users),
    Route("POST", "/api/v2/users", ("create:users",), create_user),
    Route("GET", "/api/v2/users/{id}", ("read:users",), get_user),
    Route("PATCH", "/api/v2/users/{id}", ("update:users", "update:users_app_metadata"), update_user),
    Route("DELETE", "/api/v2/users/{id}", ("delete:users",), delete_user),
    Route("GET", "/api/v2/users-by-email", ("read:users",), users_by_email),
    Route("POST", "/api/v2/jobs/users-imports", ("create:users",), create_users_import),
    Route("GET", "/api/v2/jobs/{id}", ("create:users", "read:users"), get_job),
    Route("GET", "/api/v2/jobs/{id}/errors", ("create:users", "read:users"), get_job_errors),
    Route("POST", "/api/v2/resource-servers", ("create:resource_servers",), create_resource_server),
    Route("GET", "/api/v2/resource-servers/{id}", ("read:resource_servers",), get_resource_server),
    Route("PATCH", "/api/v2/resource-servers/{id}", ("update:resource_servers",), update_resource_server),
    Route("DELETE", "/api/v2/resource-servers/{id}", ("delete:resource_servers",), delete_resource_server),
]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a raw (still percent-encoded) path, with its decoded parameters."""
    for route in ROUTES:
        if route.method != method:
            continue
        match = route.pattern.match(path)
        if match:
            return route, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()}
    return None

"""Pure translations between lab.yaml and the Auth0 Management API ("expand" and "flatten").

Nothing here talks to the network, so every payload shape is tested table-driven against the
recorded Auth0 traffic. `expand` functions turn the lab's config into request bodies; `flatten`
functions turn Auth0's answers into the small, secret-free records kept in the lab's state.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

from ...config import LabConfig, UserSpec
from ...secrets import AUTH0_PASSWORD_REALM_GRANT

#: The key of the ownership mark in client_metadata, connection metadata and user app_metadata.
MARK_KEY = "oidc_lab"

#: What the plugin needs: the password grants (plain and per-connection) and refresh tokens.
GRANT_TYPES = ("password", AUTH0_PASSWORD_REALM_GRANT, "refresh_token")

#: Auth0 refuses a users-imports file above 500 KB; stay under it with room for the multipart frame.
IMPORT_FILE_LIMIT = 480_000

#: The Management API scopes the lab's calls need, by what they touch.
REQUIRED_SCOPES = (
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "read:connections",
    "create:connections",
    "update:connections",
    "delete:connections",
    "read:tenant_settings",
    "update:tenant_settings",
    "read:users",
    "create:users",
    "update:users",
    "delete:users",
)


# names and ownership ---------------------------------------------------------------------------
def mark(lab: LabConfig) -> dict[str, str]:
    """The ownership mark. client_metadata allows only string values (at most 10 keys)."""
    return {MARK_KEY: lab.name}


def is_ours(metadata: Mapping[str, Any] | None, lab: LabConfig) -> bool:
    return bool(metadata) and metadata.get(MARK_KEY) == lab.name  # type: ignore[union-attr]


def application_name(lab: LabConfig) -> str:
    return lab.auth0.application or f"oidc-lab {lab.name}"


def connection_name(lab: LabConfig) -> str:
    return lab.auth0.connection or f"{lab.name}-users"


def connection_is_named_by_config(lab: LabConfig) -> bool:
    """A connection the instructor named may be borrowed; the default name must be the lab's own."""
    return lab.auth0.connection is not None


def login_email(user: UserSpec) -> str:
    assert user.email is not None, "lab.yaml validation guarantees an email for the email claim"
    return user.email.lower()


# expand: config -> payloads ---------------------------------------------------------------------
def client_payload(lab: LabConfig) -> dict[str, Any]:
    """A Regular Web Application that may use the password grants and refresh tokens.

    `jwt_configuration.alg` is explicit because an API-created client otherwise signs id_tokens
    with HS256, which kube-apiserver refuses.
    """
    return {
        "name": application_name(lab),
        "description": f"Kubernetes OIDC lab {lab.name!r}, managed by oidc-lab",
        "app_type": "regular_web",
        "grant_types": list(GRANT_TYPES),
        "token_endpoint_auth_method": "client_secret_post",
        "oidc_conformant": True,
        "jwt_configuration": {"alg": "RS256"},
        "client_metadata": mark(lab),
    }


def client_drift(lab: LabConfig, api_client: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings an adopted application back to what the lab needs ({} if none)."""
    wanted = client_payload(lab)
    patch: dict[str, Any] = {}
    if set(api_client.get("grant_types") or ()) != set(wanted["grant_types"]):
        patch["grant_types"] = wanted["grant_types"]
    for key in ("app_type", "token_endpoint_auth_method", "oidc_conformant"):
        if api_client.get(key) != wanted[key]:
            patch[key] = wanted[key]
    if (api_client.get("jwt_configuration") or {}).get("alg") != "RS256":
        patch["jwt_configuration"] = {"alg": "RS256"}
    return patch


def connection_payload(lab: LabConfig) -> dict[str, Any]:
    """A username/password database connection kept by Auth0 itself (strategy auth0)."""
    return {"name": connection_name(lab), "strategy": "auth0", "metadata": mark(lab)}


def enable_client_payload(client_id: str, enabled: bool = True) -> list[dict[str, Any]]:
    """The body of PATCH /connections/{id}/clients (the connection's enabled_clients is deprecated)."""
    return [{"client_id": client_id, "status": enabled}]


def local_user_id(lab: LabConfig, user: UserSpec) -> str:
    """The user's id within the connection (Auth0 prefixes `auth0|`), derived from lab and email.

    Chosen by the lab rather than by Auth0 so that users made by a bulk import are known by id
    without reading them back (Auth0's user search lags writes by seconds).
    """
    digest = hashlib.sha256(f"{lab.name}\0{login_email(user)}".encode()).hexdigest()
    return f"oidclab{digest[:24]}"


def user_id(lab: LabConfig, user: UserSpec) -> str:
    return f"auth0|{local_user_id(lab, user)}"


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


def import_row(lab: LabConfig, user: UserSpec, bcrypt_hash: str) -> dict[str, Any]:
    """One user of a users-imports file: Auth0 rejects plaintext passwords there, so a bcrypt hash."""
    return {
        "user_id": local_user_id(lab, user),
        **user_profile(lab, user),
        "custom_password_hash": {"algorithm": "bcrypt", "hash": {"value": bcrypt_hash}},
    }


def import_files(rows: Iterable[Mapping[str, Any]], limit: int = IMPORT_FILE_LIMIT) -> list[bytes]:
    """JSON array files for the users-imports job, each under Auth0's size limit."""
    files: list[bytes] = []
    current: list[bytes] = []
    size = 2
    for row in rows:
        encoded = json.dumps(row, separators=(",", ":"), sort_keys=True).encode()
        if current and size + len(encoded) + 1 > limit:
            files.append(b"[" + b",".join(current) + b"]")
            current, size = [], 2
        current.append(encoded)
        size += len(encoded) + 1
    if current:
        files.append(b"[" + b",".join(current) + b"]")
    return files


def default_directory_patch(connection: str) -> dict[str, Any]:
    return {"default_directory": connection}


# flatten: Auth0 answers -> state records ---------------------------------------------------------
def client_record(api_client: Mapping[str, Any]) -> dict[str, Any]:
    """The application as the state keeps it: no secret (that lives in credentials.json)."""
    return {"client_id": api_client["client_id"], "name": api_client["name"]}


def connection_record(api_connection: Mapping[str, Any], created: bool) -> dict[str, Any]:
    """`created: false` means borrowed: used by the lab, never deleted by it."""
    return {"id": api_connection["id"], "name": api_connection["name"], "created": created}


def user_record(api_user: Mapping[str, Any]) -> dict[str, Any]:
    return {"user_id": api_user["user_id"], "email": api_user["email"]}


def user_connection(api_user: Mapping[str, Any]) -> str | None:
    """The database connection a user lives in (its first identity)."""
    for identity in api_user.get("identities") or ():
        return identity.get("connection")
    return None


def import_failures(errors: Any) -> list[tuple[str, str, str]]:
    """(email, code, message) for each user a users-imports job refused.

    Auth0 answers GET /jobs/{id}/errors with a list of {"user": {...}, "errors": [{"code",
    "message", "path"}]}.
    """
    failures: list[tuple[str, str, str]] = []
    for entry in errors or ():
        if not isinstance(entry, Mapping):
            continue
        email = str((entry.get("user") or {}).get("email", "?"))
        for problem in entry.get("errors") or ({"code": "UNKNOWN", "message": "no reason given"},):
            failures.append((email, str(problem.get("code", "UNKNOWN")), str(problem.get("message", ""))))
    return failures


def job_failure(errors: Any) -> str:
    """Why a whole import job failed: Auth0 then answers the errors call with the job, whose
    `status_details` says why, instead of a list of users."""
    if isinstance(errors, Mapping):
        return str(errors.get("status_details") or errors.get("message") or "no reason given")
    return "no reason given"


def missing_scopes(granted: Iterable[str]) -> list[str]:
    have = set(granted)
    return [scope for scope in REQUIRED_SCOPES if scope not in have]

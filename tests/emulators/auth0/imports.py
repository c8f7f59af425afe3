"""Bulk user import jobs (`POST /api/v2/jobs/users-imports`), processed the way Auth0 does.

The job is accepted (202, `pending`) and runs later: the emulator completes due jobs at the start
of the next request after `job_delay`, so no background thread is needed and tests stay
deterministic. Each user is checked on its own: a bad user (a plaintext `password`, a missing
email, an unknown hash algorithm, a duplicate without `upsert`) becomes an entry of
`GET /jobs/{id}/errors` while the others are imported.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from . import schema
from .errors import ManagementError, not_found, payload_error
from .tenant import DATABASE_STRATEGY, HASH_ALGORITHMS, ImportJob, StoredUser, Tenant, gravatar, now_iso, random_id

#: Fields never echoed back in a job's error report.
_SECRET_FIELDS = ("password", "password_hash", "custom_password_hash")


def create_import_job(tenant: Tenant, form: dict[str, str], users_file: bytes | None) -> dict[str, Any]:
    connection_id = form.get("connection_id")
    if not connection_id:
        raise payload_error("Missing required property: connection_id")
    connection = tenant.connections.get(connection_id)
    if connection is None:
        raise ManagementError(400, "The connection does not exist.", "inexistent_connection")
    if connection["strategy"] != DATABASE_STRATEGY:
        raise ManagementError(400, "The connection must be a database connection.", "operation_not_supported")
    if users_file is None:
        raise payload_error("Missing required property: users")
    try:
        users = json.loads(users_file)
    except ValueError:
        raise ManagementError(400, "Users file must be a valid JSON array.", "invalid_body") from None
    if not isinstance(users, list):
        raise ManagementError(400, "Users file must be a valid JSON array.", "invalid_body")
    record: dict[str, Any] = {
        "status": "pending",
        "type": "users_import",
        "created_at": now_iso(tenant.clock),
        "id": "job_" + random_id(16),
        "connection_id": connection_id,
    }
    if form.get("external_id"):
        record["external_id"] = form["external_id"]
    upsert = str(form.get("upsert", "false")).lower() == "true"
    tenant.jobs[record["id"]] = ImportJob(record, connection_id, users, upsert, tenant.clock() + tenant.job_delay)
    return dict(record)


def job(tenant: Tenant, job_id: str) -> ImportJob:
    try:
        return tenant.jobs[job_id]
    except KeyError:
        raise not_found("job") from None


def run_due_jobs(tenant: Tenant, force: bool = False) -> None:
    moment = tenant.clock()
    for pending in tenant.jobs.values():
        if pending.record["status"] == "pending" and (force or pending.due_at <= moment):
            _run(tenant, pending)


def _user_problems(user: Any) -> list[dict[str, str]]:
    if not isinstance(user, dict):
        return [{"code": "INVALID_TYPE", "message": f"Expected type object but found type {schema.type_of(user)}", "path": ""}]
    problems: list[dict[str, str]] = []
    unknown = [key for key in user if key not in schema.IMPORT_USER]
    if unknown:
        problems.append({"code": "OBJECT_ADDITIONAL_PROPERTIES",
                         "message": f"Additional properties not allowed: {','.join(unknown)}", "path": ""})
    for key, value in user.items():
        allowed = schema.IMPORT_USER.get(key)
        if allowed and schema.type_of(value) not in allowed:
            problems.append({"code": "INVALID_TYPE",
                             "message": f"Expected type {allowed[0]} but found type {schema.type_of(value)}", "path": key})
    if "email" not in user:
        problems.append({"code": "OBJECT_MISSING_REQUIRED_PROPERTY", "message": "Missing required property: email", "path": ""})
    custom = user.get("custom_password_hash")
    if isinstance(custom, dict):
        algorithm = custom.get("algorithm")
        value = (custom.get("hash") or {}).get("value") if isinstance(custom.get("hash"), dict) else None
        if algorithm not in HASH_ALGORITHMS:
            problems.append({"code": "ENUM_MISMATCH", "message": f"No enum match for: \"{algorithm}\"",
                             "path": "custom_password_hash.algorithm"})
        if not isinstance(value, str):
            problems.append({"code": "OBJECT_MISSING_REQUIRED_PROPERTY", "message": "Missing required property: value",
                             "path": "custom_password_hash.hash"})
        elif algorithm == "bcrypt" and not value.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append({"code": "INVALID_FORMAT", "message": "Object didn't pass validation for format bcrypt",
                             "path": "custom_password_hash.hash.value"})
    hashed = user.get("password_hash")
    if isinstance(hashed, str) and not hashed.startswith(("$2a$", "$2b$", "$2y$")):
        problems.append({"code": "INVALID_FORMAT", "message": "Object didn't pass validation for format bcrypt",
                         "path": "password_hash"})
    return problems


def _password_hash(user: dict[str, Any]) -> bytes | None:
    """Only bcrypt hashes can be checked at login here; other algorithms import but cannot log in."""
    if isinstance(user.get("password_hash"), str):
        return user["password_hash"].encode()
    custom = user.get("custom_password_hash")
    if isinstance(custom, dict) and custom.get("algorithm") == "bcrypt":
        return custom["hash"]["value"].encode()
    return None


def _redacted(user: Any) -> Any:
    if not isinstance(user, dict):
        return user
    return {k: v for k, v in user.items() if k not in _SECRET_FIELDS}


def _run(tenant: Tenant, pending: ImportJob) -> None:
    connection = tenant.connections.get(pending.connection_id)
    summary = {"failed": 0, "updated": 0, "inserted": 0, "total": len(pending.users)}
    seen: set[str] = set()
    for entry in pending.users:
        problems = _user_problems(entry)
        email = entry.get("email", "").lower() if isinstance(entry, dict) and isinstance(entry.get("email"), str) else ""
        if not problems and connection is None:
            problems = [{"code": "CONNECTION_NOT_FOUND", "message": "The connection does not exist.", "path": ""}]
        if not problems and email in seen:
            problems = [{"code": "DUPLICATED_USER", "message": "The user is duplicated in the file", "path": ""}]
        existing = tenant.find_user(connection["name"], email) if not problems and connection else None
        if existing is not None and not pending.upsert:
            problems = [{"code": "DUPLICATED_USER", "message": "The user already exists and upsert parameter is false",
                         "path": ""}]
        if problems:
            summary["failed"] += 1
            pending.errors.append({"user": _redacted(entry), "errors": problems})
            continue
        seen.add(email)
        stamp = now_iso(tenant.clock)
        profile_fields = {k: v for k, v in entry.items() if k not in _SECRET_FIELDS and k not in ("mfa_factors", "user_id")}
        if existing is not None:
            existing.profile.update(profile_fields)
            existing.profile["email"] = email
            existing.profile["updated_at"] = stamp
            existing.password_hash = _password_hash(entry) or existing.password_hash
            existing.indexed_at = tenant.clock() + tenant.search_lag
            summary["updated"] += 1
            continue
        local_id = entry.get("user_id") or secrets.token_hex(12)
        profile: dict[str, Any] = {
            "created_at": stamp,
            "email": email,
            "email_verified": bool(entry.get("email_verified", False)),
            "identities": [{"user_id": local_id, "connection": connection["name"], "provider": "auth0", "isSocial": False}],
            "name": entry.get("name", email),
            "nickname": entry.get("nickname", email.split("@", 1)[0]),
            "picture": entry.get("picture", gravatar(email)),
            "updated_at": stamp,
            "user_id": f"auth0|{local_id}",
        }
        for key, value in profile_fields.items():
            profile.setdefault(key, value)
        profile["email"] = email
        tenant.users[profile["user_id"]] = StoredUser(profile, connection["name"], _password_hash(entry),
                                                      indexed_at=tenant.clock() + tenant.search_lag)
        summary["inserted"] += 1
    pending.record["status"] = "completed"
    pending.record["summary"] = summary

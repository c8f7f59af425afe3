"""Big rosters through users-imports jobs: one request per 500 KB of users instead of one per user.

Auth0 refuses plaintext passwords in an import file, so each row carries a bcrypt hash. The ids
are the lab's own (`users.user_id`), so the users are recorded before the job starts and nothing
is read back afterwards (Auth0's user search lags writes by seconds).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable, Mapping

from ...config import LabConfig, UserSpec
from ...errors import ProviderError
from .marks import is_ours
from .passwords import bcrypt_hash
from .records import UserRecord
from .run import Run
from .users import find as find_user
from .users import local_user_id, login_email, user_connection, user_id, user_profile, user_record

#: Auth0 refuses a users-imports file above 500 KB; stay under it with room for the multipart frame.
IMPORT_FILE_LIMIT = 480_000
#: Seconds between the first two looks at a running job; later looks come more slowly.
JOB_POLL_INTERVAL = 0.5


# expand and flatten ------------------------------------------------------------------------------
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


# against the tenant ------------------------------------------------------------------------------
def import_users(run: Run, users: list[UserSpec], passwords: dict[str, str], renew: set[str], connection: Mapping[str, Any]) -> None:
    """Create these users with import jobs. `renew`: the handles whose password is new to this run
    (an existing user must get it)."""
    lab, api, records = run.lab, run.api, run.record.users
    run.ui.update(f"users: hashing {len(users)} passwords")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # bcrypt releases the GIL
        hashes = list(pool.map(lambda user: bcrypt_hash(passwords[user.handle], generated=user.password is None), users))
    rows = [import_row(lab, user, hashed) for user, hashed in zip(users, hashes)]
    # Recorded before the job starts (the ids are the lab's own), so lab down finds them even if
    # this run stops while Auth0 is still importing.
    for user in users:
        records[user.handle] = UserRecord(user_id=user_id(lab, user), email=login_email(user))
    run.save()
    refused: list[tuple[str, str, str]] = []
    resent: list[bool] = []
    for users_file in import_files(rows):
        run.ui.update(f"users: importing {len(users)} with a bulk job")
        job = api.start_import(connection["id"], users_file, on_unknown=lambda: resent.append(True))
        run.record.import_jobs.append(job["id"])
        run.save()
        job = _await_job(run, job, len(users))
        if job.get("status") == "failed" or (job.get("summary") or {}).get("failed"):
            errors = api.job_errors(job["id"])
            if job.get("status") == "failed" and not import_failures(errors):
                for user in users:
                    records.pop(user.handle, None)
                run.save()
                raise ProviderError(
                    f"Auth0's bulk user import job {job['id']} failed as a whole ({job_failure(errors)})",
                    "run lab up again; with a smaller roster, or auth0.bulk_import_threshold above its size, users are made one by one",
                )
            refused += import_failures(errors)
    # A duplicate is a user an earlier, interrupted run (or a resent job) already made with the
    # same stored password, or someone else's user (refused by find_user).
    duplicates = {email for email, code, _ in refused if code == "DUPLICATED_USER"}
    problems = [(email, code, message) for email, code, message in refused if code != "DUPLICATED_USER"]
    failed = {email for email, _, _ in problems}
    listed: dict[str, dict[str, Any]] = {}
    if duplicates:
        listed = {u.get("email", "").lower(): u for u in api.lab_users(lab.name) if user_connection(u) == connection["name"]}
    for user in users:
        email = login_email(user)
        if email in failed:
            records.pop(user.handle, None)
        elif email in duplicates:
            found = listed.get(email) or api.user(user_id(lab, user)) or find_user(run, email, connection["name"])
            if found is None or not is_ours(found.get("app_metadata"), lab):
                records.pop(user.handle, None)
                run.save()
                find_user(run, email, connection["name"])  # raises for someone else's user
                problems.append((email, "DUPLICATED_USER", "reported as a duplicate but not found"))
                continue
            records[user.handle] = user_record(found)
            if user.handle in renew and not resent:  # after a resent job, the duplicate is this run's own
                api.update_user(found["user_id"], {"password": passwords[user.handle]})
    run.record.import_jobs.clear()
    run.save()
    if problems:
        shown = "; ".join(f"{email}: {message or code}" for email, code, message in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ProviderError(
            f"Auth0's bulk import refused {len(problems)} user(s): {shown}{more}",
            "fix those users in lab.yaml and run lab up again; the users already imported are kept",
        )


def _await_job(run: Run, job: dict[str, Any], count: int) -> dict[str, Any]:
    """Poll the job, more slowly the longer it runs: each look costs a request of the budget."""
    interval = JOB_POLL_INTERVAL
    while job.get("status") in ("pending", "processing"):
        run.ui.wait(interval, f"Auth0 is importing {count} users")
        job = run.api.job(job["id"])
        interval = min(interval * 1.5, 5.0)
    return job

"""`provider: auth0`: the Auth0 recipe's manual steps, done through the Management API and undone exactly.

What `lab up` makes, in order, each looked up by name and the lab's mark before it is created and
recorded in the state the moment it exists: a Regular Web Application with the password grants,
a database connection (or a borrowed one the config names) with the application enabled on it,
the tenant's default directory pointed at that connection (previous value recorded), and the
lab's users. `lab down` deletes what the state and the mark say is the lab's and restores the
default directory.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from ...config import LabConfig, UserSpec, validate_auth0_domain
from ...errors import ProviderError
from ...paths import LabPaths
from ...progress import Reporter
from ...secrets import AUTH0_PASSWORD_REALM_GRANT, PASSWORD_GRANT, LabSecrets, TokenClient
from ...state import LabState
from ..base import Issuer, Provider
from . import payloads as p
from .api import ManagementApi
from .failures import login_refused
from .passwords import bcrypt_hash

ENV_DOMAIN, ENV_CLIENT_ID, ENV_CLIENT_SECRET = "AUTH0_DOMAIN", "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET"
_LOCAL_EMULATOR = re.compile(r"^(127\.0\.0\.1|localhost):\d{1,5}$")
_CREDENTIALS_HINT = (
    "export AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET of a machine-to-machine application "
    "authorized for the Auth0 Management API"
)


def tenant_domain(raw: str) -> str:
    """The tenant's domain, checked. A loopback `host:port` is accepted for a local Auth0 emulator."""
    raw = raw.strip()
    if _LOCAL_EMULATOR.match(raw):
        return raw
    try:
        return validate_auth0_domain(raw)
    except ValueError as exc:
        raise ProviderError(f"AUTH0_DOMAIN {raw!r} {exc}", _CREDENTIALS_HINT) from None


def _fixed(user: UserSpec) -> str | None:
    return user.password.get_secret_value() if user.password else None


class Auth0Provider(Provider):
    kind = "auth0"

    #: Seconds before a Management API call counts as lost (then a create is looked up, not resent).
    request_timeout: ClassVar[float] = 15.0
    #: Seconds between two looks at a running bulk import job.
    job_poll_interval: ClassVar[float] = 0.5

    def __init__(self, lab: LabConfig, paths: LabPaths, ui: Reporter) -> None:
        super().__init__(lab, paths, ui)
        self._api: ManagementApi | None = None
        self._fresh_connection = False  # made by this run: it cannot hold any user yet

    # credentials and checks ----------------------------------------------------------------------
    @property
    def domain(self) -> str:
        raw = self.lab.auth0.domain or os.environ.get(ENV_DOMAIN, "")
        if not raw:
            raise ProviderError("AUTH0_DOMAIN is not set and lab.yaml has no auth0.domain", _CREDENTIALS_HINT)
        return tenant_domain(raw)

    @property
    def api(self) -> ManagementApi:
        if self._api is None:
            missing = [name for name in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not os.environ.get(name)]
            if missing:
                raise ProviderError(f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set", _CREDENTIALS_HINT)
            self._api = ManagementApi(
                self.domain, os.environ[ENV_CLIENT_ID], os.environ[ENV_CLIENT_SECRET], self.ui, timeout=self.request_timeout
            )
        return self._api

    def preflight(self) -> None:
        """Fetch the management token: a wrong domain, bad credentials or missing scopes stop here."""
        self.api.connect()

    @property
    def issuer_url(self) -> str:
        return f"https://{self.domain}/"  # Auth0's `iss` ends with a slash, and the apiserver compares exactly

    def _section(self, state: LabState) -> dict[str, Any]:
        section = state.section(self.section)
        recorded = section.get("domain")
        if recorded and recorded != self.domain:
            raise ProviderError(
                f"lab {self.lab.name!r} was built on the Auth0 tenant {recorded}, but AUTH0_DOMAIN is {self.domain}",
                f"set AUTH0_DOMAIN={recorded} (and that tenant's credentials) to work on this lab",
            )
        return section

    # plan ----------------------------------------------------------------------------------------
    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        section = self._section(state)
        with self.api as api:  # its HTTP client is closed on the way out, as in ensure and teardown
            lab, changes = self.lab, []
            app_record = section.get("application")
            application = api.client(app_record["client_id"]) if app_record else self._find_application()
            if application is None:
                changes.append(
                    f"create the Auth0 application {p.application_name(lab)!r} (Regular Web Application; grants "
                    f"{', '.join(p.GRANT_TYPES)}; id_tokens signed RS256)"
                )
            elif p.client_drift(lab, application):
                changes.append(f"update the application's {', '.join(sorted(p.client_drift(lab, application)))}")
            name = p.connection_name(lab)
            conn_record = section.get("connection")
            connection = api.connection(conn_record["id"]) if conn_record else self._find_connection()
            if connection is None:
                changes.append(f"create the database connection {name!r} and enable the application on it")
            elif not p.is_ours(connection.get("metadata"), lab):
                changes.append(f"borrow the existing connection {name!r} (never deleted) and enable the application on it")
            if lab.auth0.set_default_directory:
                current = api.tenant_settings().get("default_directory") or ""
                if current != name:
                    changes.append(f"set the tenant's default directory to {name!r} (now {current or 'unset'!r}; restored by lab down)")
            elif section.get("default_directory"):
                changes.append(f"restore the tenant's default directory to {section['default_directory']['previous'] or 'unset'!r}")
            existing = {user.get("email", "").lower() for user in api.lab_users(p.MARK_KEY, lab.name)}
            existing |= {record["email"] for record in section.get("users", {}).values()}
            missing = [user for user in lab.users if p.login_email(user) not in existing]
            wanted = {p.login_email(user) for user in lab.users}
            stale = sorted(existing - wanted)
            if missing:
                how = "with a bulk import job" if len(missing) >= lab.auth0.bulk_import_threshold else "one by one"
                changes.append(f"create {len(missing)} user(s) {how}: {', '.join(p.login_email(u) for u in missing[:5])}{' …' if len(missing) > 5 else ''}")
            if stale:
                changes.append(f"delete {len(stale)} user(s) no longer in lab.yaml: {', '.join(stale[:5])}{' …' if len(stale) > 5 else ''}")
            if lab.groups or any(user.groups for user in lab.users):
                changes.append("note: Auth0 puts no groups claim in id_tokens without an Action; group bindings will not match")
            return changes

    # ensure ----------------------------------------------------------------------------------------
    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        section = self._section(state)
        with self.api:
            if section.get("domain") != self.domain or section.get("kind") != self.kind:
                section.update(kind=self.kind, domain=self.domain)
                state.save()
            self.ui.update("application")
            client_id = self._ensure_application(section, state, secrets)
            self.ui.update("database connection")
            connection = self._ensure_connection(section, state)
            self._ensure_enabled(section, state, connection, client_id)
            self.ui.update("tenant default directory")
            self._ensure_default_directory(section, state, connection["name"])
            self._ensure_users(section, state, secrets, connection)
            self._warn_unverified()
            return Issuer(url=self.issuer_url, client_id=client_id)

    def _ensure_application(self, section: dict[str, Any], state: LabState, secrets: LabSecrets) -> str:
        lab, api = self.lab, self.api
        record = section.get("application")
        application = api.client(record["client_id"]) if record else None
        if application is None:
            if record:
                self.ui.warn(f"the application {record['name']!r} is gone from Auth0; making it again")
                section.pop("application")
                state.save()
            application = self._find_application()
            if application is None:
                application = api.create_client(p.client_payload(lab), find=self._find_application)
            section["application"] = p.client_record(application)
            state.save()
        client_id = application["client_id"]
        if "client_secret" not in application:
            application = api.client(client_id) or application  # look-ups by name carry no secret
        if application.get("client_secret"):
            secrets.set_client_secret(application["client_secret"])
        if not secrets.client_secret:
            raise ProviderError(
                f"Auth0 did not return the secret of the application {application['name']!r}",
                "grant the machine-to-machine application the read:client_keys scope and run lab up again",
            )
        drift = p.client_drift(lab, application)
        if drift:
            api.update_client(client_id, drift)
        return client_id

    def _find_application(self, *, strict: bool = True) -> dict[str, Any] | None:
        """The lab's application by name and mark. `strict` (lab up): a same-named application of
        someone else stops the lab; otherwise (lab down) it is passed over."""
        name = p.application_name(self.lab)
        matches = self.api.clients_named(name)
        ours = [client for client in matches if p.is_ours(client.get("client_metadata"), self.lab)]
        if ours:
            return ours[0]
        if matches and strict:
            raise ProviderError(
                f"the Auth0 tenant already has an application named {name!r} that lab {self.lab.name!r} did not create",
                "set auth0.application in lab.yaml to another name, or delete that application if it is a leftover",
            )
        return None

    def _find_connection(self, *, strict: bool = True) -> dict[str, Any] | None:
        """The connection by name: the lab's own, or (`strict`, lab up) one the config names, borrowed;
        someone else's stops a strict look-up and is passed over otherwise (lab down)."""
        name = p.connection_name(self.lab)
        for connection in self.api.connections_named(name):
            if p.is_ours(connection.get("metadata"), self.lab):
                return connection
            if not strict:
                continue
            if not p.connection_is_named_by_config(self.lab):
                raise ProviderError(
                    f"the Auth0 tenant already has a connection named {name!r} that lab {self.lab.name!r} did not create",
                    f"set auth0.connection: {name} in lab.yaml to borrow it (it is never deleted), or choose another lab name",
                )
            if connection.get("strategy") != "auth0":
                raise ProviderError(
                    f"the connection {name!r} is a {connection.get('strategy')!r} connection, not a username/password database",
                    "set auth0.connection to a database connection (strategy auth0), or leave it unset for a new one",
                )
            return connection
        return None

    def _ensure_connection(self, section: dict[str, Any], state: LabState) -> dict[str, Any]:
        lab, api = self.lab, self.api
        record = section.get("connection")
        if record and record["name"] != p.connection_name(lab):
            raise ProviderError(
                f"lab {lab.name!r} uses the connection {record['name']!r}, but lab.yaml now names {p.connection_name(lab)!r}",
                "run `lab down` first to move the lab to another connection",
            )
        connection = api.connection(record["id"]) if record else None
        if connection is None:
            if record:
                section.pop("connection")
                state.save()
            connection = self._find_connection()
            if connection is None:
                connection = api.create_connection(p.connection_payload(lab), find=self._find_connection)
                self._fresh_connection = True
            created = p.is_ours(connection.get("metadata"), lab)
            section["connection"] = p.connection_record(connection, created=created)
            state.save()
            if not created:
                self.ui.info(f"borrowing the existing connection {connection['name']!r}; lab down leaves it in place")
        return connection

    def _ensure_enabled(self, section: dict[str, Any], state: LabState, connection: dict[str, Any], client_id: str) -> None:
        if not self._fresh_connection and client_id in self.api.enabled_clients(connection["id"]):
            return
        section["connection"]["enabled_client"] = client_id  # recorded first: lab down disables it on a borrowed connection
        state.save()
        self.api.set_enabled_clients(connection["id"], p.enable_client_payload(client_id))

    def _ensure_default_directory(self, section: dict[str, Any], state: LabState, connection: str) -> None:
        if not self.lab.auth0.set_default_directory:
            if section.get("default_directory"):
                self._restore_default_directory(section, state)
            return
        current = self.api.tenant_settings().get("default_directory")
        if current == connection:
            return
        # kept as found (unset may read as "" or be absent), so lab down puts back exactly that
        change = section.setdefault("default_directory", {"previous": current})
        change["value"] = connection
        state.save()  # the previous value is on disk before the tenant changes
        self.api.set_default_directory(connection)

    def _restore_default_directory(self, section: dict[str, Any], state: LabState) -> None:
        change = section.get("default_directory")
        if not change:
            return
        current = self.api.tenant_settings().get("default_directory") or ""
        if current == change.get("value"):
            self.api.set_default_directory(change.get("previous"))
        elif current != (change.get("previous") or ""):
            self.ui.warn(
                f"the tenant's default directory was changed to {current!r} after lab up; leaving it as it is"
            )
        section.pop("default_directory")
        state.save()

    # users -----------------------------------------------------------------------------------------
    def _ensure_users(self, section: dict[str, Any], state: LabState, secrets: LabSecrets, connection: dict[str, Any]) -> None:
        lab, api = self.lab, self.api
        records: dict[str, dict[str, Any]] = section.setdefault("users", {})
        wanted = {user.handle: user for user in lab.users}
        listed = [] if self._fresh_connection and not records else api.lab_users(p.MARK_KEY, lab.name)
        in_connection = [user for user in listed if p.user_connection(user) in (None, connection["name"])]
        by_email = {user.get("email", "").lower(): user for user in in_connection}
        stored_before = {handle: entry.get("password") for handle, entry in secrets.document.get("users", {}).items()}
        with secrets.deferred_saves():  # every password is on disk before any user is made with it
            passwords = {handle: secrets.password(handle, _fixed(user)) for handle, user in wanted.items()}
            for handle, user in wanted.items():
                secrets.set_login(handle, self.login_name(user))

        # users the lab made that lab.yaml no longer lists, or that sit in another connection
        wanted_emails = {p.login_email(user) for user in wanted.values()}
        stale = [user for user in listed if user not in in_connection or user.get("email", "").lower() not in wanted_emails]
        for handle, record in list(records.items()):
            if handle not in wanted or record["email"] != p.login_email(wanted[handle]):
                stale.append({"user_id": record["user_id"], "email": record["email"], "_handle": handle})
        self._delete_users(stale, section, state, secrets)

        existing: dict[str, dict[str, Any]] = {}
        for handle, user in wanted.items():
            email = p.login_email(user)
            found = by_email.get(email)
            if found is None and handle in records:
                found = api.user(records[handle]["user_id"])  # the search index may not show it yet
            if found is not None and p.user_connection(found) in (None, connection["name"]):
                existing[handle] = found
                if records.get(handle) != p.user_record(found):
                    records[handle] = p.user_record(found)
                    state.save()
            else:
                records.pop(handle, None)

        missing = [user for handle, user in wanted.items() if handle not in existing]
        if missing:
            if len(missing) >= lab.auth0.bulk_import_threshold:
                renew = {handle for handle in wanted if stored_before.get(handle) != passwords[handle]}
                self._import_users(missing, passwords, renew, section, state, connection)
            else:
                for index, user in enumerate(missing, 1):
                    self.ui.update(f"users: creating {index}/{len(missing)}")
                    self._create_user(user, passwords[user.handle], section, state, connection)

        for handle, found in existing.items():
            user = wanted[handle]
            patch = p.user_drift(lab, user, found)
            if stored_before.get(handle) != passwords[handle]:
                patch["password"] = passwords[handle]  # new in lab.yaml, or lost: the lab must know it
            if patch:
                api.update_user(found["user_id"], patch)

    def _find_user(self, email: str, connection: str) -> dict[str, Any] | None:
        """The user with this email in the lab's connection, if the lab made it; someone else's stops the lab."""
        for user in self.api.users_by_email(email):
            if p.user_connection(user) != connection:
                continue
            if p.is_ours(user.get("app_metadata"), self.lab):
                return user
            raise ProviderError(
                f"the connection {connection!r} already has a user {email} that lab {self.lab.name!r} did not create",
                "remove that user from lab.yaml, or delete it in the Auth0 dashboard if it is a leftover",
            )
        return None

    def _create_user(self, user: UserSpec, password: str, section: dict[str, Any], state: LabState, connection: dict[str, Any]) -> None:
        email = p.login_email(user)
        created = self.api.create_user(
            p.user_payload(self.lab, user, connection["name"], password),
            find=lambda: self._find_user(email, connection["name"]),
        )
        section["users"][user.handle] = p.user_record(created)
        state.save()

    def _import_users(
        self, users: list[UserSpec], passwords: dict[str, str], renew: set[str], section: dict[str, Any], state: LabState,
        connection: dict[str, Any],
    ) -> None:
        """Create a big roster with users-imports jobs: one request per 500 KB instead of one per user.

        `renew`: the handles whose password is new to this run (an existing user must get it)."""
        self.ui.update(f"users: hashing {len(users)} passwords")
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # bcrypt releases the GIL
            hashes = list(pool.map(lambda user: bcrypt_hash(passwords[user.handle], generated=user.password is None), users))
        rows = [p.import_row(self.lab, user, hashed) for user, hashed in zip(users, hashes)]
        # Recorded before the job starts (the ids are the lab's own), so lab down finds them even if
        # this run stops while Auth0 is still importing.
        for user in users:
            section["users"][user.handle] = {"user_id": p.user_id(self.lab, user), "email": p.login_email(user)}
        state.save()
        refused: list[tuple[str, str, str]] = []
        resent: list[bool] = []
        for users_file in p.import_files(rows):
            self.ui.update(f"users: importing {len(users)} with a bulk job")
            job = self.api.start_import(connection["id"], users_file, on_unknown=lambda: resent.append(True))
            section.setdefault("import_jobs", []).append(job["id"])
            state.save()
            job = self._await_job(job, len(users))
            if job.get("status") == "failed" or (job.get("summary") or {}).get("failed"):
                errors = self.api.job_errors(job["id"])
                if job.get("status") == "failed" and not p.import_failures(errors):
                    for user in users:
                        section["users"].pop(user.handle, None)
                    state.save()
                    raise ProviderError(
                        f"Auth0's bulk user import job {job['id']} failed as a whole ({p.job_failure(errors)})",
                        "run lab up again; with a smaller roster, or auth0.bulk_import_threshold above its size, users are made one by one",
                    )
                refused += p.import_failures(errors)
        # The ids were chosen by the lab, so nothing needs reading back (the search index lags anyway).
        # A duplicate is a user an earlier, interrupted run (or a resent job) already made with the
        # same stored password, or someone else's user (refused by _find_user).
        duplicates = {email for email, code, _ in refused if code == "DUPLICATED_USER"}
        problems = [(email, code, message) for email, code, message in refused if code != "DUPLICATED_USER"]
        failed = {email for email, _, _ in problems}
        listed: dict[str, dict[str, Any]] = {}
        if duplicates:
            listed = {u.get("email", "").lower(): u for u in self.api.lab_users(p.MARK_KEY, self.lab.name)
                      if p.user_connection(u) == connection["name"]}
        for user in users:
            email = p.login_email(user)
            if email in failed:
                section["users"].pop(user.handle, None)
            elif email in duplicates:
                found = listed.get(email) or self.api.user(p.user_id(self.lab, user)) or self._find_user(email, connection["name"])
                if found is None or not p.is_ours(found.get("app_metadata"), self.lab):
                    section["users"].pop(user.handle, None)
                    state.save()
                    self._find_user(email, connection["name"])  # raises for someone else's user
                    problems.append((email, "DUPLICATED_USER", "reported as a duplicate but not found"))
                    continue
                section["users"][user.handle] = p.user_record(found)
                if user.handle in renew and not resent:  # after a resent job, the duplicate is this run's own
                    self.api.update_user(found["user_id"], {"password": passwords[user.handle]})
        section.pop("import_jobs", None)
        state.save()
        if problems:
            shown = "; ".join(f"{email}: {message or code}" for email, code, message in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            raise ProviderError(
                f"Auth0's bulk import refused {len(problems)} user(s): {shown}{more}",
                "fix those users in lab.yaml and run lab up again; the users already imported are kept",
            )

    def _await_job(self, job: dict[str, Any], count: int) -> dict[str, Any]:
        """Poll the job, more slowly the longer it runs: each look costs a request of the budget."""
        interval = self.job_poll_interval
        while job.get("status") in ("pending", "processing"):
            self.ui.wait(interval, f"Auth0 is importing {count} users")
            job = self.api.job(job["id"])
            interval = min(interval * 1.5, 5.0)
        return job

    def _delete_users(self, users: list[dict[str, Any]], section: dict[str, Any], state: LabState, secrets: LabSecrets) -> None:
        records: dict[str, dict[str, Any]] = section.setdefault("users", {})
        done: set[str] = set()
        for index, user in enumerate(users, 1):
            if user["user_id"] in done:
                continue
            self.ui.update(f"users: deleting {index}/{len(users)}")
            self.api.delete_user(user["user_id"])
            done.add(user["user_id"])
            for handle, record in list(records.items()):
                if record["user_id"] == user["user_id"]:
                    records.pop(handle)
                    if handle not in {u.handle for u in self.lab.users}:
                        secrets.forget_user(handle)
            state.save()

    def _warn_unverified(self) -> None:
        if self.lab.oidc.username_claim != "email":
            return
        for user in self.lab.users:
            if not user.email_verified:
                self.ui.warn(f"{user.email} has email_verified: false, so kube-apiserver will refuse their tokens")

    # the plugin --------------------------------------------------------------------------------------
    def explain_login_refusal(self, error: str, description: str | None, login: str) -> Exception | None:
        connection = None if self.lab.auth0.set_default_directory else p.connection_name(self.lab)
        return login_refused(error, description or "", domain=self.domain, login=login, connection=connection)

    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        section = self._section(state)
        application = section.get("application")
        if not application or not secrets.client_secret:
            raise ProviderError("the Auth0 application of this lab is not set up yet", "run `lab up` first")
        realm = {} if self.lab.auth0.set_default_directory else {"realm": section["connection"]["name"]}
        return TokenClient(
            token_endpoint=f"https://{self.domain}/oauth/token",
            client_id=application["client_id"],
            issuer=self.issuer_url,
            client_secret=secrets.client_secret,
            # A local emulator's certificate is signed by a test CA; a real tenant uses public roots.
            grant_type=PASSWORD_GRANT if self.lab.auth0.set_default_directory else AUTH0_PASSWORD_REALM_GRANT,
            extra=realm,
        )

    # teardown ------------------------------------------------------------------------------------------
    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        section = self._section(state)
        if not section:
            return
        with self.api as api:
            lab = self.lab
            connection = section.get("connection")
            if connection is None:  # a run stopped between creating the connection and recording it
                found = self._find_connection(strict=False)
                connection = p.connection_record(found, created=True) if found else None
            application = section.get("application")
            if application is None:
                found = self._find_application(strict=False)
                application = p.client_record(found) if found else None

            # Deleting the lab's own connection deletes the users in it, one request for the whole
            # roster; users elsewhere (a borrowed connection) go one by one.
            self.ui.update("users")
            own = connection["name"] if connection and connection.get("created") else None
            marked = [user for user in api.lab_users(p.MARK_KEY, lab.name) if own is None or p.user_connection(user) != own]
            recorded = [] if own else [dict(record) for record in section.get("users", {}).values()]
            self._delete_users(recorded + marked, section, state, secrets)

            self.ui.update("tenant default directory")
            self._restore_default_directory(section, state)

            self.ui.update("database connection")
            if connection is not None:
                if connection.get("created"):
                    api.delete_connection(connection["id"])
                elif connection.get("enabled_client") and application:
                    try:  # Auth0 also forgets a deleted application, so a failure here leaves nothing behind
                        api.set_enabled_clients(connection["id"], p.enable_client_payload(application["client_id"], enabled=False))
                    except ProviderError as exc:
                        self.ui.warn(f"could not disable the application on the borrowed connection: {exc}")
            for key in ("connection", "users", "import_jobs"):
                section.pop(key, None)
            state.save()

            self.ui.update("application")
            if application is not None:
                api.delete_client(application["client_id"])
            secrets.set_client_secret(None)
            section.clear()
            state.save()

    # descriptions ------------------------------------------------------------------------------------
    def login_name(self, user: UserSpec) -> str:
        return p.login_email(user)

    def predictable_claims(self, user: UserSpec) -> dict[str, str | None]:
        """Auth0 stores emails lower-cased, and `sub` is `auth0|<the id the lab chose>`."""
        return {"email": p.login_email(user), "name": user.display_name, "nickname": user.handle,
                "sub": p.user_id(self.lab, user)}

    def status(self, state: LabState) -> dict[str, Any]:
        section = state.section(self.section)
        if not section:
            return {}
        connection = section.get("connection") or {}
        return {
            "provider": self.kind,
            "issuer": f"https://{section.get('domain')}/",
            "application": (section.get("application") or {}).get("name"),
            "client_id": (section.get("application") or {}).get("client_id"),
            "connection": connection.get("name"),
            "connection_borrowed": bool(connection) and not connection.get("created"),
            "default_directory_changed": bool(section.get("default_directory")),
            "users": len(section.get("users", {})),
        }

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

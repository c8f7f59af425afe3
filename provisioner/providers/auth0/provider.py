"""`provider: auth0`: the Auth0 recipe's manual steps, done through the Management API and undone exactly.

What `lab up` makes, in order, each looked up by name and the lab's mark before it is created and
recorded in the state the moment it exists: a Regular Web Application with the password grants
(`application`), a database connection or a borrowed one the config names, with the application
enabled on it (`connection`), the tenant's default directory pointed at that connection, previous
value recorded (`directory`), and the lab's users (`roster`, `users`, `bulk_import`). `lab down`
deletes what the state and the mark say is the lab's, in reverse, and restores the default
directory. This class only sequences those modules around one `Run`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, ClassVar, Iterator

from ...config import LabConfig, UserSpec
from ...errors import ProviderError
from ...paths import LabPaths
from ...progress import Reporter
from ...secrets import AUTH0_PASSWORD_REALM_GRANT, PASSWORD_GRANT, LabSecrets, TokenClient
from ...state import LabState
from ..base import Issuer, Provider
from . import application, connection, device_application, directory, policy, roster
from .api import ManagementApi
from .connection import connection_name
from .failures import login_refused
from .records import Auth0Record
from .run import Run
from .tenant import domain_from, management_credentials
from .users import login_email, user_id


class Auth0Provider(Provider):
    kind = "auth0"

    #: Seconds before a Management API call counts as lost (then a create is looked up, not resent).
    request_timeout: ClassVar[float] = 15.0
    #: A free tenant's Authentication API: POST /oauth/token 30 burst, 30 a second; the whole API
    #: 300 burst, 300 a minute (auth0.com/docs/troubleshoot/customer-support/operational-policies/
    #: rate-limit-policy/rate-limit-configurations/free-public). Paid tenants allow more.
    token_request_limits: ClassVar[tuple[tuple[float, int], ...]] = ((30.0, 30), (300 / 60, 300))

    def __init__(self, lab: LabConfig, paths: LabPaths, ui: Reporter) -> None:
        super().__init__(lab, paths, ui)
        self._api: ManagementApi | None = None

    # credentials and checks ----------------------------------------------------------------------
    @property
    def domain(self) -> str:
        return domain_from(self.lab.auth0.domain)

    @property
    def api(self) -> ManagementApi:
        if self._api is None:
            client_id, client_secret = management_credentials()
            self._api = ManagementApi(self.domain, client_id, client_secret, self.ui, timeout=self.request_timeout)
        return self._api

    def preflight(self) -> None:
        """Every refusal that needs no write, so nothing is made at Auth0 before one: a wrong domain,
        bad credentials or missing scopes (the management token), a same-named application or
        connection someone else owns, a password from lab.yaml the connection's policy refuses."""
        self.api.connect()
        with self.api as api:
            run = Run(self.lab, api, self.ui, LabState(self.paths, self.lab.name), self.section, Auth0Record())
            application.find(run)
            if device_application.wanted(self.lab):
                device_application.find(run)
            policy.check_passwords(self.lab, connection.find(run))

    @property
    def issuer_url(self) -> str:
        return f"https://{self.domain}/"  # Auth0's `iss` ends with a slash, and the apiserver compares exactly

    def _record(self, state: LabState) -> Auth0Record:
        record = Auth0Record.from_json(state.section(self.section))
        if record.domain and record.domain != self.domain:
            raise ProviderError(
                f"lab {self.lab.name!r} was built on the Auth0 tenant {record.domain}, but AUTH0_DOMAIN is {self.domain}",
                f"set AUTH0_DOMAIN={record.domain} (and that tenant's credentials) to work on this lab",
            )
        return record

    @contextmanager
    def _run(self, state: LabState) -> Iterator[Run]:
        """One pass over the tenant; the HTTP client is closed on the way out."""
        record = self._record(state)
        with self.api as api:
            yield Run(self.lab, api, self.ui, state, self.section, record)

    # the step ------------------------------------------------------------------------------------
    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        with self._run(state) as run:
            return [
                *application.plan(run),
                *device_application.plan(run),
                *connection.plan(run),
                *directory.plan(run, connection_name(self.lab)),
                *roster.plan(run),
            ]

    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        with self._run(state) as run:
            if run.record.domain != self.domain or run.record.kind != self.kind:
                run.record.kind, run.record.domain = self.kind, self.domain
                run.save()
            self.ui.update("application")
            client_id = application.ensure(run, secrets)
            self.ui.update("database connection")
            database = connection.ensure(run)
            connection.ensure_enabled(run, database, client_id)
            if device_application.wanted(self.lab) or run.record.device_application:
                self.ui.update("device sign-in application")
            # In a lab with device sign-in, kubectl's tokens come from the Native application (its `aud`)
            kubectl_client_id = device_application.ensure(run, database) or client_id
            self.ui.update("tenant default directory")
            directory.ensure(run, database["name"])
            roster.ensure(run, secrets, database)
            return Issuer(url=self.issuer_url, client_id=kubectl_client_id)

    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        if self._record(state).is_empty():
            return
        with self._run(state) as run:
            # looked up first: a run stopped between a create and its record left them unrecorded
            own_connection = connection.recorded_or_found(run)
            own_application = application.recorded_or_found(run)
            self.ui.update("users")
            roster.teardown(run, own_connection, secrets)
            self.ui.update("tenant default directory")
            directory.restore(run)
            self.ui.update("database connection")
            connection.teardown(run, own_connection, own_application)
            run.record.connection, run.record.users, run.record.import_jobs = None, {}, []
            run.save()
            self.ui.update("application")
            device_application.teardown(run)
            application.teardown(run, own_application, secrets)
            run.record = Auth0Record()
            run.save()

    # the plugin ------------------------------------------------------------------------------------
    def explain_login_refusal(self, error: str, description: str | None, login: str) -> Exception | None:
        realm = None if self.lab.auth0.set_default_directory else connection_name(self.lab)
        return login_refused(error, description or "", domain=self.domain, login=login, connection=realm)

    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        record = self._record(state)
        if not record.application or not secrets.client_secret:
            raise ProviderError("the Auth0 application of this lab is not set up yet", "run `lab up` first")
        extra: dict[str, str] = {}
        if not self.lab.auth0.set_default_directory:  # the password-realm grant names the connection
            if record.connection is None:
                raise ProviderError("the Auth0 connection of this lab is not set up yet", "run `lab up` first")
            extra = {"realm": record.connection.name}
        # The Native application (device sign-in) is a public client: no secret is sent for it.
        native = record.device_application
        return TokenClient(
            token_endpoint=f"https://{self.domain}/oauth/token",
            client_id=native.client_id if native else record.application.client_id,
            issuer=self.issuer_url,
            client_secret=None if native else secrets.client_secret,
            grant_type=AUTH0_PASSWORD_REALM_GRANT if extra else PASSWORD_GRANT,
            extra=extra,
            authorization_endpoint=f"https://{self.domain}/authorize",
            device_authorization_endpoint=f"https://{self.domain}/oauth/device/code",
            redirect_ports=list(self.lab.oidc.redirect_ports),
            public_client=native is not None,
        )

    # descriptions ------------------------------------------------------------------------------------
    def login_name(self, user: UserSpec) -> str:
        return login_email(user)

    def predictable_claims(self, user: UserSpec) -> dict[str, str | None]:
        """Auth0 stores emails lower-cased, and `sub` is `auth0|<the id the lab chose>`."""
        return {"email": login_email(user), "name": user.display_name, "nickname": user.handle, "sub": user_id(self.lab, user)}

    def status(self, state: LabState) -> dict[str, Any]:
        record = Auth0Record.from_json(state.section(self.section))
        if record.is_empty():
            return {}
        own_connection, own_application = record.connection, record.application
        return {
            "provider": self.kind,
            "issuer": f"https://{record.domain}/",
            "application": own_application.name if own_application else None,
            "client_id": own_application.client_id if own_application else None,
            "device_application": record.device_application.name if record.device_application else None,
            "connection": own_connection.name if own_connection else None,
            "connection_borrowed": own_connection is not None and not own_connection.created,
            "default_directory_changed": record.default_directory is not None,
            "users": len(record.users),
        }

    def close(self) -> None:
        if self._api is not None:
            self._api.close()

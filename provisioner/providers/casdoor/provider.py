"""`provider: casdoor`: the Casdoor recipe (application, users, OIDC flags) done through its API.

Order follows Casdoor's ownership: organization, then application (Casdoor adds no user to an
organization without one), groups, then users; `lab down` deletes in reverse, and only what the
state (or the lab's mark on the object) says the lab made. Each object lives in its own module
(organization.py, application.py, groups.py, users.py); this class holds the settings and the order.

Before anything is created: the issuer is read from Casdoor's discovery document and must be https,
the admin credentials must be accepted, and the `iss` of Casdoor's tokens must equal the issuer.
After the users exist, one password grant with the lab's own application proves that the tokens
kubectl will get are for the lab's client id and not already expired. Only then does the
orchestrator restart minikube, which costs minutes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...config import UserSpec
from ...errors import ConfigError, ProviderError
from ...secrets import LabSecrets, TokenClient
from ...state import LabState
from ..base import Issuer, Provider
from . import application, groups, organization, payloads, users
from .api import CasdoorApi
from .checks import check_issuer_before_changes, check_token, discover_issuer
from .common import Run
from .records import CasdoorRecords

TOKEN_PATH = "/api/login/oauth/access_token"
REFRESH_PATH = "/api/login/oauth/refresh_token"
AUTHORIZE_PATH = "/login/oauth/authorize"  # the web UI's sign-in page (discovery's authorization_endpoint)
DEVICE_AUTH_PATH = "/api/device-auth"  # controllers/auth.go, DeviceAuth (discovery's device_authorization_endpoint)


class CasdoorProvider(Provider):
    kind = "casdoor"
    #: seconds to wait for one Casdoor reply (tests shorten it)
    http_timeout: float = 15.0
    #: pause before the first retry of a failed read; doubled for the next
    http_retry_pause: float = 0.5
    #: set once preflight passed, so an ensure right after it does not check again
    _checked: bool = False

    # settings ---------------------------------------------------------------------------------------
    @property
    def names(self) -> payloads.Names:
        return payloads.names(self.lab)

    def _endpoint(self, state: LabState | None = None) -> str:
        """lab.yaml's endpoint, else CASDOOR_ENDPOINT; with `state`, the one the lab was built against first."""
        recorded = state.section(self.section).get("endpoint") if state is not None else None
        endpoint = recorded or self.lab.casdoor.endpoint or os.environ.get("CASDOOR_ENDPOINT")
        if not endpoint:
            raise ProviderError(
                "no Casdoor endpoint is configured",
                "set casdoor.endpoint in lab.yaml or CASDOOR_ENDPOINT, e.g. https://casdoor.example.com",
            )
        endpoint = endpoint.strip().rstrip("/")
        if not endpoint.startswith("https://"):
            raise ProviderError(
                f"the Casdoor endpoint {endpoint!r} is not an https URL",
                "kube-apiserver accepts only https issuers: serve Casdoor over https and use that URL",
            )
        return endpoint

    def _admin_credentials(self) -> tuple[str, str]:
        client_id = os.environ.get("CASDOOR_CLIENT_ID", "").strip()
        client_secret = os.environ.get("CASDOOR_CLIENT_SECRET", "").strip()
        missing = [n for n, v in (("CASDOOR_CLIENT_ID", client_id), ("CASDOOR_CLIENT_SECRET", client_secret)) if not v]
        if missing:
            raise ProviderError(
                f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
                "export the Client ID and Client Secret of Casdoor's admin application (app-built-in) "
                "as CASDOOR_CLIENT_ID and CASDOOR_CLIENT_SECRET",
            )
        return client_id, client_secret

    def _ca_file(self) -> str | None:
        ca_file = self.lab.casdoor.ca_file
        return str(ca_file.expanduser()) if ca_file else None

    def _ca_pem(self) -> bytes | None:
        path = self._ca_file()
        if path is None:
            return None
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ProviderError(
                f"cannot read casdoor.ca_file {path}: {exc.strerror}",
                "point casdoor.ca_file at the PEM file of the CA that signed Casdoor's certificate",
            ) from None
        if b"-----BEGIN CERTIFICATE-----" not in pem:
            raise ProviderError(
                f"casdoor.ca_file {path} holds no PEM certificate",
                "point casdoor.ca_file at the PEM file of the CA that signed Casdoor's certificate",
            )
        return pem

    def _api(self, state: LabState | None = None) -> CasdoorApi:
        endpoint = self._endpoint(state)
        client_id, client_secret = self._admin_credentials()
        return CasdoorApi(endpoint, client_id, client_secret, ca_file=self._ca_file(), timeout=self.http_timeout,
                          retry_pause=self.http_retry_pause)

    # checks -----------------------------------------------------------------------------------------
    def preflight(self) -> None:
        self._endpoint()
        self._admin_credentials()
        self._ca_pem()
        for first, second in payloads.user_name_clashes(self.lab):
            raise ConfigError(
                f"users {first!r} and {second!r} would both be Casdoor user {payloads.user_name(self.lab.user(first))!r}",
                "give one of them another username in lab.yaml (Casdoor names allow letters, digits and single '-')",
            )
        self._checked = True

    def login_name(self, user: UserSpec) -> str:
        return payloads.user_name(user)

    def predictable_claims(self, user: UserSpec) -> dict[str, str | None]:
        """Casdoor's JWT carries `name` = the Casdoor user name and `email`; other claims are not predictable."""
        return {"email": user.email, "name": payloads.user_name(user)}

    def group_claim_value(self, group: str) -> str:
        """Casdoor's tokens carry a user's groups as stored, by id: `<organization>/<group>`."""
        return payloads.group_id(self.lab, group)

    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        run = Run(self.lab, self._api(), state, secrets, self.ui)
        try:
            lines, org = organization.plan(run)
            lines += application.plan(run, org is not None)
            group_creates, group_deletes = groups.plan(run, org is not None)
            return lines + group_creates + users.plan(run, org is not None) + group_deletes
        finally:
            run.api.close()

    # the step ---------------------------------------------------------------------------------------
    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        if not self._checked:  # called without preflight (tests, scripts): nothing is made before the checks
            self.preflight()
        section = state.section(self.section)
        self._refuse_renames(section)
        run = Run(self.lab, self._api(), state, secrets, self.ui)
        try:
            # Read-only checks first: a refusal leaves nothing behind at Casdoor.
            self.ui.update("reading Casdoor's OIDC discovery document")
            issuer = discover_issuer(run.api)
            run.api.get_organization(self.names.organization)  # wrong admin credentials are refused here
            self.ui.update("comparing the issuer of Casdoor's tokens with its discovery document")
            check_issuer_before_changes(run.api, issuer)
            section["kind"] = self.kind
            section["endpoint"] = self._endpoint()
            organization.ensure(run)
            app = application.ensure(run)
            groups.ensure(run)
            for spec in self.lab.users:
                self.ui.update(f"user {spec.handle}")
                users.ensure(run, spec)  # a generated password is on disk before its create call
            users.delete_dropped(run)
            groups.delete_dropped(run)
        finally:
            run.api.close()
        section["issuer"] = issuer
        state.save()
        # Not saved as the lab's token client here: the orchestrator compares old and new to drop stale tokens.
        client = self.token_client(state, secrets)
        self.ui.update("checking a token from the lab's application")
        self._check_token(client, secrets)
        return Issuer(url=issuer, client_id=app["clientId"], ca_pem=self._ca_pem())

    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        section = state.section(self.section)
        if CasdoorRecords(section).built:
            run = Run(self.lab, self._api(state), state, secrets, self.ui)
            try:
                users.teardown(run)
                groups.teardown(run)
                application.teardown(run)
                organization.teardown(run)
            finally:
                run.api.close()
        secrets.set_client_secret(None)
        section.clear()
        state.save()

    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        """No client secret: the password grant needs only the client id, and the secret would be
        an admin credential for all of Casdoor (see application.py)."""
        records = CasdoorRecords(state.section(self.section))
        app, org = records.application, records.organization
        if app is None:
            if org is not None:
                raise ProviderError(
                    f"the lab's Casdoor organization {org.name!r} has no application for kubectl",
                    f"run `lab up` again to create application {self.names.application!r}",
                )
            raise ProviderError("the lab has no Casdoor application yet", "run `lab up` first")
        endpoint = self._endpoint(state)
        issuer = state.section(self.section).get("issuer")
        if not issuer:
            raise ProviderError("the lab has not read Casdoor's issuer yet", "run `lab up` first")
        return TokenClient(
            token_endpoint=endpoint + TOKEN_PATH,
            refresh_endpoint=endpoint + REFRESH_PATH,
            client_id=app.client_id or "",
            client_secret=None,
            issuer=issuer,
            ca_file=self._ca_file(),
            authorization_endpoint=endpoint + AUTHORIZE_PATH,
            device_authorization_endpoint=endpoint + DEVICE_AUTH_PATH,
            redirect_ports=list(self.lab.oidc.redirect_ports),
        )

    # shared -----------------------------------------------------------------------------------------
    def _refuse_renames(self, section: dict[str, Any]) -> None:
        """A lab is torn down where it was built: a changed endpoint or name would orphan its objects."""
        recorded_endpoint = section.get("endpoint")
        built = CasdoorRecords(section).built
        if built and recorded_endpoint and recorded_endpoint != self._endpoint():
            raise ProviderError(
                f"the lab was built on Casdoor at {recorded_endpoint}, but lab.yaml or CASDOOR_ENDPOINT now says {self._endpoint()}",
                "run `lab down` against the old endpoint first, or put the old endpoint back",
            )
        for kind, wanted in (("organization", self.names.organization), ("application", self.names.application)):
            recorded = (section.get(kind) or {}).get("name")
            if recorded and recorded != wanted:
                raise ProviderError(
                    f"lab.yaml now names the Casdoor {kind} {wanted!r}, but the lab was built with {recorded!r}",
                    "run `lab down` with the old lab.yaml first, or put the old name back",
                )

    def _check_token(self, client: TokenClient, secrets: LabSecrets) -> None:
        spec = self.lab.users[0]
        entry = secrets.document.get("users", {}).get(spec.handle, {})
        claims = check_token(client, spec.handle, entry.get("login") or payloads.user_name(spec),
                             entry.get("password", ""), self.names.application, self.http_timeout)
        groups_claim = self.lab.oidc.groups_claim
        if groups_claim and spec.groups and groups_claim not in claims:
            self.ui.warn(f"Casdoor's tokens carry no {groups_claim!r} claim, so group bindings will not match; "
                         "set oidc.groups_claim to the claim Casdoor fills (groups)")

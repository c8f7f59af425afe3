"""`provider: casdoor`: the Casdoor recipe (application, users, OIDC flags) done through its API.

Order follows Casdoor's ownership: organization, then application, then users; `lab down`
deletes in reverse, and only what the state (or the lab's mark on the object) says the lab made.
Before anything is created, the issuer is read from Casdoor's discovery document and must be
https; after the users exist, one password grant with the lab's own application proves that the
tokens kubectl will get are issued by that same issuer, are for the lab's client id, and are not
already expired. Only then does the orchestrator restart minikube, which costs minutes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ...config import UserSpec
from ...errors import ConfigError, ProviderError
from ...secrets import LabSecrets, TokenClient
from ...state import LabState
from ..base import Issuer, Provider
from . import payloads
from .api import CasdoorApi, CasdoorUnavailable
from .checks import check_token, discover_issuer

TOKEN_PATH = "/api/login/oauth/access_token"
REFRESH_PATH = "/api/login/oauth/refresh_token"


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

    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        names = self.names
        section = state.section(self.section)
        api = self._api()
        try:
            lines = []
            org = api.get_organization(names.organization)
            if org is None:
                if not self.lab.casdoor.create_organization:
                    raise self._missing_organization()
                lines.append(f"create organization {names.organization!r}")
            elif not section.get("organization") and not payloads.organization_is_marked(self.lab, org):
                lines.append(f"use the existing organization {names.organization!r} (borrowed, never deleted)")
            app = api.get_application(names.application) if org is not None else None
            if app is None:
                lines.append(
                    f"create application {names.application!r} in {names.organization!r} with grant types "
                    f"password and refresh_token, expireInHours {self.lab.casdoor.expire_in_hours}"
                )
            elif self._owns_application(section, app):
                drift = payloads.application_drift(self.lab, app)
                if drift:
                    lines.append(f"update application {names.application!r}: {', '.join(drift)}")
            elif not section.get("application"):
                lines.append(f"use the existing application {names.application!r} (borrowed, never deleted)")
            recorded_users = section.get("users") or {}
            for spec in self.lab.users:
                name = payloads.user_name(spec)
                found = api.get_user(names.organization, name) if org is not None else None
                groups = f", groups {', '.join(spec.groups)}" if spec.groups else ""
                if found is None:
                    lines.append(f"create user {names.organization}/{name} ({spec.email or 'no email'}{groups})")
                else:
                    drift = payloads.user_drift(self.lab, spec, found)
                    password = self._held_password(spec, secrets)
                    digest = payloads.password_digest(names.organization, name, password) if password else None
                    if digest is None or (recorded_users.get(spec.handle) or {}).get("password_sha256") != digest:
                        drift.append("password")
                    if drift:
                        lines.append(f"update user {names.organization}/{name}: {', '.join(drift)}")
            wanted = {spec.handle for spec in self.lab.users}
            for handle, record in (section.get("users") or {}).items():
                if handle not in wanted and record.get("created"):
                    lines.append(f"delete user {record['organization']}/{record['name']} (no longer in lab.yaml)")
            return lines
        finally:
            api.close()

    # the step ---------------------------------------------------------------------------------------
    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        if not self._checked:  # called without preflight (tests, scripts): nothing is made before the checks
            self.preflight()
        section = state.section(self.section)
        self._refuse_renames(section)
        section["kind"] = self.kind
        section["endpoint"] = self._endpoint()
        api = self._api()
        try:
            self.ui.update("reading Casdoor's OIDC discovery document")
            issuer = discover_issuer(api)
            self._ensure_organization(api, state)
            app = self._ensure_application(api, state, secrets)
            for spec in self.lab.users:
                self.ui.update(f"user {spec.handle}")
                self._ensure_user(api, state, secrets, spec)
            self._delete_dropped_users(api, state, secrets)
        finally:
            api.close()
        section["issuer"] = issuer
        state.save()
        # Not saved as the lab's token client here: the orchestrator compares old and new to drop stale tokens.
        client = self.token_client(state, secrets)
        self.ui.update("checking a token from the lab's application")
        self._check_token(client, secrets)
        return Issuer(url=issuer, client_id=app["clientId"], ca_pem=self._ca_pem())

    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        section = state.section(self.section)
        if not any(section.get(kind) for kind in ("users", "application", "organization")):
            section.clear()
            state.save()
            return
        api = self._api(state)
        try:
            for handle in list(section.get("users") or {}):
                self._delete_user(api, state, secrets, handle)
            app = section.get("application")
            if app:
                if app.get("created"):
                    self.ui.update(f"deleting application {app['name']}")
                    api.delete_application(app["name"])
                del section["application"]
                secrets.set_client_secret(None)
                state.save()
            org = section.get("organization")
            if org:
                if org.get("created"):
                    self._delete_organization(api, org["name"])
                del section["organization"]
                state.save()
        finally:
            api.close()
        section.clear()
        state.save()

    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        section = state.section(self.section)
        app = section.get("application")
        org = section.get("organization")
        if not app:
            if org:
                raise ProviderError(
                    f"the lab's Casdoor organization {org['name']!r} has no application for kubectl",
                    f"run `lab up` again to create application {self.names.application!r}",
                )
            raise ProviderError("the lab has no Casdoor application yet", "run `lab up` first")
        endpoint = self._endpoint(state)
        issuer = section.get("issuer")
        if not issuer:
            raise ProviderError("the lab has not read Casdoor's issuer yet", "run `lab up` first")
        return TokenClient(
            token_endpoint=endpoint + TOKEN_PATH,
            refresh_endpoint=endpoint + REFRESH_PATH,
            client_id=app["client_id"],
            client_secret=secrets.client_secret,
            issuer=issuer,
            ca_file=self._ca_file(),
        )

    # organization -----------------------------------------------------------------------------------
    def _ensure_organization(self, api: CasdoorApi, state: LabState) -> None:
        section = state.section(self.section)
        name = self.names.organization
        recorded = section.get("organization") or {}
        found = api.get_organization(name)
        if found is not None:
            created = bool(recorded.get("created")) or payloads.organization_is_marked(self.lab, found)
            if not created:
                self.ui.info(f"using the existing Casdoor organization {name!r}; lab down will keep it")
        else:
            if not self.lab.casdoor.create_organization:
                raise self._missing_organization()
            self.ui.update(f"creating organization {name}")
            self._create(
                f"organization {name!r}",
                lambda: api.add_organization(payloads.organization_payload(self.lab)),
                lambda: api.get_organization(name),
                lambda org: payloads.organization_is_marked(self.lab, org),
            )
            created = True
        section["organization"] = {"name": name, "created": created}
        state.save()

    def _missing_organization(self) -> ProviderError:
        return ProviderError(
            f"Casdoor has no organization {self.names.organization!r} and casdoor.create_organization is false",
            "create the organization in Casdoor, name an existing one in casdoor.organization, "
            "or set casdoor.create_organization: true",
        )

    def _delete_organization(self, api: CasdoorApi, name: str) -> None:
        strangers = [u["name"] for u in api.get_users(name) if not payloads.user_is_marked(self.lab, u)]
        if strangers:
            self.ui.warn(
                f"kept Casdoor organization {name!r}: it holds users the lab did not make ({', '.join(sorted(strangers))})"
            )
            return
        self.ui.update(f"deleting organization {name}")
        api.delete_organization(name)

    # application ------------------------------------------------------------------------------------
    def _owns_application(self, section: dict[str, Any], app: dict[str, Any]) -> bool:
        recorded = section.get("application") or {}
        return (recorded.get("name") == app["name"] and bool(recorded.get("created"))) or payloads.application_is_marked(
            self.lab, app
        )

    def _ensure_application(self, api: CasdoorApi, state: LabState, secrets: LabSecrets) -> dict[str, Any]:
        section = state.section(self.section)
        name, organization = self.names.application, self.names.organization
        found = api.get_application(name)
        if found is None:
            client_id, client_secret = payloads.new_client_credentials()
            secrets.set_client_secret(client_secret)
            self.ui.update(f"creating application {name}")
            found = self._create(
                f"application {name!r}",
                lambda: api.add_application(payloads.application_payload(self.lab, client_id, client_secret)),
                lambda: api.get_application(name),
                lambda app: payloads.application_is_marked(self.lab, app),
            )
            created = True
        elif (found.get("organization") or "") != organization:
            raise ProviderError(
                f"Casdoor application {name!r} belongs to organization {found.get('organization')!r}, not {organization!r}",
                "choose another casdoor.application name, or set casdoor.organization to the application's organization",
            )
        elif self._owns_application(section, found):
            created = True
            drift = payloads.application_drift(self.lab, found)
            if drift:
                self.ui.update(f"updating application {name}: {', '.join(drift)}")
                api.update_application(payloads.application_update(self.lab, found))
                found = api.get_application(name) or found
        else:
            problems = payloads.application_problems(found)
            if problems:
                raise ProviderError(
                    f"Casdoor application {name!r} existed before the lab and cannot serve kubectl: {'; '.join(problems)}",
                    "allow the password and refresh_token grants with expireInHours above 0 in Casdoor, "
                    "or name a new application in casdoor.application for the lab to create",
                )
            created = False
            self.ui.info(f"using the existing Casdoor application {name!r}; lab down will keep it")
            if "refresh_token" not in (found.get("grantTypes") or []):
                self.ui.warn(f"Casdoor application {name!r} does not allow the refresh_token grant, "
                             "so `lab token` signs in with the password whenever a token expires")
        secret = found.get("clientSecret") or ""
        if secret and set(secret) != {"*"}:
            secrets.set_client_secret(secret)
        section["application"] = payloads.application_record(found, created)
        state.save()
        return found

    # users ------------------------------------------------------------------------------------------
    def _ensure_user(self, api: CasdoorApi, state: LabState, secrets: LabSecrets, spec: UserSpec) -> None:
        section = state.section(self.section)
        users = section.setdefault("users", {})
        organization, name = self.names.organization, payloads.user_name(spec)
        fixed = spec.password.get_secret_value() if spec.password is not None else None
        password = secrets.password(spec.handle, fixed)  # saved before the create: a lost reply cannot lose it
        secrets.set_login(spec.handle, name)
        recorded = users.get(spec.handle) or {}
        digest = payloads.password_digest(organization, name, password)
        found = api.get_user(organization, name)
        if found is None:
            self._create(
                f"user {organization}/{name}",
                lambda: api.add_user(payloads.user_payload(self.lab, spec, password)),
                lambda: api.get_user(organization, name),
                lambda user: payloads.user_is_marked(self.lab, user),
            )
        else:
            ours = (recorded.get("name") == name and recorded.get("created")) or payloads.user_is_marked(self.lab, found)
            if not ours:
                raise ProviderError(
                    f"Casdoor user {organization}/{name} already exists and was not made by lab {self.lab.name!r}",
                    "delete or rename that user in Casdoor, or give the lab user another username in lab.yaml",
                )
            drift = payloads.user_drift(self.lab, spec, found)
            # Changed in lab.yaml, or lost with credentials.json and made anew: Casdoor must get it.
            new_password = password if recorded.get("password_sha256") != digest else None
            if new_password is not None:
                drift.append("password")
            if drift:
                self.ui.update(f"updating user {organization}/{name}: {', '.join(drift)}")
                api.update_user(payloads.user_update(found, self.lab, spec, new_password))
        users[spec.handle] = {"organization": organization, "name": name, "created": True, "password_sha256": digest}
        state.save()

    @staticmethod
    def _held_password(spec: UserSpec, secrets: LabSecrets) -> str | None:
        """The password `ensure` would give the user, unless it would have to make a new one."""
        if spec.password is not None:
            return spec.password.get_secret_value()
        return (secrets.document.get("users", {}).get(spec.handle) or {}).get("password") or None

    def _delete_dropped_users(self, api: CasdoorApi, state: LabState, secrets: LabSecrets) -> None:
        """Users removed from lab.yaml since the last `lab up` are deleted, as `lab down` would."""
        wanted = {spec.handle for spec in self.lab.users}
        for handle in [h for h in state.section(self.section).get("users") or {} if h not in wanted]:
            self._delete_user(api, state, secrets, handle)

    def _delete_user(self, api: CasdoorApi, state: LabState, secrets: LabSecrets, handle: str) -> None:
        """Delete a user the lab created (a borrowed one stays) and forget it, saving state at once."""
        users = state.section(self.section)["users"]
        record = users[handle]
        if record.get("created"):
            self.ui.update(f"deleting user {record['organization']}/{record['name']}")
            api.delete_user(record["organization"], record["name"])
        del users[handle]
        secrets.forget_user(handle)
        state.save()

    # shared -----------------------------------------------------------------------------------------
    def _create(
        self,
        what: str,
        add: Callable[[], bool],
        lookup: Callable[[], dict[str, Any] | None],
        is_ours: Callable[[dict[str, Any]], bool],
    ) -> dict[str, Any]:
        """Create once, even when the reply is lost: after a failure, look before trying again."""
        try:
            add()
        except CasdoorUnavailable:
            found = lookup()
            if found is not None and is_ours(found):
                return found
            if found is not None:
                raise ProviderError(
                    f"Casdoor {what} appeared while the lab was creating it, without the lab's mark",
                    "another tool or person is changing Casdoor at the same time; run the command again later",
                ) from None
            add()
        found = lookup()
        if found is None:
            raise ProviderError(
                f"Casdoor accepted creating {what} but does not return it",
                "look at Casdoor's log for the cause, then run the command again",
            )
        return found

    def _refuse_renames(self, section: dict[str, Any]) -> None:
        """A lab is torn down where it was built: a changed endpoint or name would orphan its objects."""
        recorded_endpoint = section.get("endpoint")
        built = any(section.get(kind) for kind in ("users", "application", "organization"))
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

"""The `local` provider: the tool's own OIDC issuer, for labs with no IdP account.

Where the Auth0 and Casdoor providers call an API, this one writes the issuer folder (settings,
users, keys) and keeps the issuer process running; the pure functions below turn lab.yaml into
what the folder holds, the class applies them. Everything stays idempotent: hashes are salted, so
an unchanged password keeps its old hash instead of getting a new one, and an unchanged lab
rewrites no file and restarts nothing.
"""

from __future__ import annotations

import secrets as _random
import shutil
import uuid
from dataclasses import replace
from typing import Any

from ...config import LabConfig, UserSpec
from ...errors import ProviderError
from ...fsutil import private_dir
from .issuer.files import (
    ClientRecord, IssuerFiles, IssuerSettings, UserRecord, host_address, read_settings, read_users,
    users_document, write_if_changed,
)
from .issuer.hashing import hash_generated, hash_secret, is_fast, verify_secret
from .issuer.keys import ensure_pki, plan_pki, server_hosts
from .issuer.process import IssuerProcess
from .record import LocalRecord
from ...paths import LabPaths
from ...progress import Reporter
from ...oidc.flows import redirect_uris
from ...secrets import LabSecrets, TokenClient
from ...state import LabState
from ..base import Issuer, Provider

# --- lab.yaml -> issuer folder (pure) ---------------------------------------------------------------


def issuer_url(lab: LabConfig) -> str:
    """What the apiserver reaches the issuer at, and so the exact `iss` of its tokens."""
    return f"https://{lab.local.hostname}:{lab.local.port}"


def client_id(lab: LabConfig) -> str:
    return f"oidc-lab-{lab.name}"


def subject(lab: LabConfig, handle: str) -> str:
    """A `sub` that stays the same across runs, restarts and re-created users of the same lab."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"oidc-lab:{lab.name}:{handle}"))


def login_name(user: UserSpec) -> str:
    """The password grant's username: the email when there is one, else the handle."""
    return user.email or user.handle


def issuer_settings(lab: LabConfig, secret_hash: str) -> IssuerSettings:
    return IssuerSettings(
        issuer=issuer_url(lab),
        listen=lab.local.listen,
        port=lab.local.port,
        id_token_ttl_seconds=lab.local.token_ttl_seconds,
        refresh_token_ttl_seconds=lab.local.refresh_ttl_seconds,
        client=ClientRecord(client_id(lab), secret_hash, tuple(redirect_uris(lab.oidc.redirect_ports)) + (
            # the issuer's own self-service page (`/me`), as this host and as the issuer URL reach it
            f"https://{host_address(lab.local.listen)}:{lab.local.port}/me", f"{issuer_url(lab)}/me",
            lab.serve.callback),  # and `lab serve`'s page
            public=lab.room is not None),
        lab=lab.name,
    )


def user_record(lab: LabConfig, user: UserSpec, password_hash: str) -> UserRecord:
    return UserRecord(
        sub=subject(lab, user.handle),
        username=user.handle,
        password_hash=password_hash,
        email=user.email,
        name=user.display_name,
        groups=tuple(user.groups),
        email_verified=user.email_verified,
    )


def kept_hash(secret: str, existing_hash: str | None, generated: bool = False) -> str:
    """The existing hash while it still matches `secret` (files stay untouched), else a new one.

    A `generated` secret gets the fast hash; one a lab hashed with scrypt before is moved to it once
    (same secret, so tokens and sign-ins are unaffected) and checks in microseconds from then on.
    """
    if existing_hash and verify_secret(secret, existing_hash) and (is_fast(existing_hash) or not generated):
        return existing_hash
    return hash_generated(secret) if generated else hash_secret(secret)


def user_changes(current: UserRecord, wanted: UserRecord) -> list[str]:
    """Which of a user's facts differ, in words (the hash is compared by the caller)."""
    fields = {"email": "email", "name": "name", "groups": "groups", "email_verified": "email_verified"}
    return [label for attr, label in fields.items() if getattr(current, attr) != getattr(wanted, attr)]


def with_listen_address(lab: LabConfig, paths: LabPaths, ui: Reporter) -> LabConfig:
    """`lab` with the issuer's listen address settled: lab.yaml's `local.listen`, else the one
    address the cluster's node reaches this machine by, else every address."""
    if lab.local.listen:
        return lab
    from ...cluster import cluster_for

    listen = cluster_for(lab, paths, ui).node_host_address() or "0.0.0.0"
    return lab.model_copy(update={"local": lab.local.model_copy(update={"listen": listen})})


# --- the provider ------------------------------------------------------------------------------------


class LocalProvider(Provider):
    kind = "local"

    def __init__(self, lab: LabConfig, paths: LabPaths, ui: Reporter) -> None:
        super().__init__(with_listen_address(lab, paths, ui), paths, ui)
        self.files = IssuerFiles(paths.issuer)
        self.process = IssuerProcess(paths.issuer)
        self._checked = False  # preflight passed: an ensure right after it does not probe the port again

    @property
    def issuer_url(self) -> str:
        return issuer_url(self.lab)

    @property
    def client_id(self) -> str:
        return client_id(self.lab)

    @property
    def _hosts(self) -> list[str]:
        return server_hosts(self.lab.local.hostname, self.lab.local.listen)

    def login_name(self, user: UserSpec) -> str:
        return login_name(user)

    def predictable_claims(self, user: UserSpec) -> dict[str, str | None]:
        """As the base class, plus `sub`: this issuer derives it from the lab and handle, so it is known early."""
        return {**super().predictable_claims(user), "sub": subject(self.lab, user.handle)}

    # checks ------------------------------------------------------------------------------------
    def preflight(self) -> None:
        self.process.check_port(self.lab.local.listen, self.lab.local.port)
        self._checked = True

    def plan(self, state: LabState, secrets: LabSecrets) -> list[str]:
        lab = self.lab
        current = read_settings(self.files) if self.files.settings.exists() else None
        if current is None:
            changes = [f"start the built-in issuer {self.issuer_url} with client {self.client_id}"]
        else:
            key_changes = plan_pki(self.files, self._hosts)
            changes = key_changes + self._settings_changes(current, secrets)
            if key_changes or not self.process.up_to_date(issuer_settings(lab, current.client.secret_hash)):
                verb = "restart" if self.process.running() else "start"
                changes.append(f"{verb} the built-in issuer on port {lab.local.port}")
        changes += self._user_changes(secrets)
        return changes

    def _settings_changes(self, current: IssuerSettings, secrets: LabSecrets) -> list[str]:
        wanted = issuer_settings(self.lab, current.client.secret_hash)
        changes = []
        for attr, label in (("issuer", "issuer URL"), ("listen", "listen address"), ("port", "port"),
                            ("id_token_ttl_seconds", "id_token lifetime"),
                            ("refresh_token_ttl_seconds", "refresh token lifetime")):
            before, after = getattr(current, attr), getattr(wanted, attr)
            if before != after:
                changes.append(f"change the issuer's {label} from {before} to {after}")
        if current.client.redirect_uris != wanted.client.redirect_uris:
            changes.append(f"let the issuer's client redirect to {', '.join(wanted.client.redirect_uris)}")
        if current.client.client_id != wanted.client.client_id:
            changes.append(f"rename the issuer's client from {current.client.client_id} to {wanted.client.client_id}")
        secret = secrets.client_secret
        if not secret or not verify_secret(secret, current.client.secret_hash):
            changes.append("give the issuer's client a new secret")
        return changes

    def _user_changes(self, secrets: LabSecrets) -> list[str]:
        existing = {user.username: user for user in read_users(self.files)}
        stored = secrets.document.get("users", {})
        changes = []
        for user in self.lab.users:
            current = existing.pop(user.handle, None)
            if current is None:
                changes.append(f"add user {login_name(user)} to the built-in issuer")
                continue
            differs = user_changes(current, user_record(self.lab, user, current.password_hash))
            password = user.password.get_secret_value() if user.password else stored.get(user.handle, {}).get("password")
            if not password or not verify_secret(password, current.password_hash):
                differs.append("password")
            if differs:
                changes.append(f"update user {login_name(user)} in the built-in issuer ({', '.join(differs)})")
        changes += [f"remove user {user.email or user.username} from the built-in issuer" for user in existing.values()]
        return changes

    # the step ----------------------------------------------------------------------------------
    def ensure(self, state: LabState, secrets: LabSecrets) -> Issuer:
        lab = self.lab
        if not self._checked:  # called without preflight: a taken port must still leave no trace
            self.preflight()
        private_dir(self.paths.issuer)
        self.ui.update("preparing the built-in issuer's keys")
        keys_changed = ensure_pki(self.files, self._hosts, ca_name=f"oidc-lab {lab.name} issuer CA")

        secret = secrets.client_secret
        if not secret:
            secret = _random.token_urlsafe(32)
            secrets.set_client_secret(secret)
        current = read_settings(self.files) if self.files.settings.exists() else None
        settings = issuer_settings(lab, kept_hash(secret, current.client.secret_hash if current else None, generated=True))
        write_if_changed(self.files.settings, settings.document())

        handles = self._write_users(state, secrets)

        self._record(state, issuer_url=settings.issuer, client_id=settings.client.client_id,
                     port=settings.port, users=handles)
        pid, _ = self.process.ensure(settings, restart=keys_changed, progress=self.ui.update)
        self._record(state, pid=pid)
        return Issuer(settings.issuer, settings.client.client_id, self.files.ca_cert.read_bytes())

    def _write_users(self, state: LabState, secrets: LabSecrets) -> list[str]:
        existing = {user.username: user for user in read_users(self.files)}
        records = []
        with secrets.deferred_saves():  # one write of credentials.json, before the issuer knows any password
            for index, user in enumerate(self.lab.users, 1):
                self.ui.update(f"user {index}/{len(self.lab.users)}: {login_name(user)}")
                fixed = user.password.get_secret_value() if user.password else None
                password = secrets.password(user.handle, fixed)
                secrets.set_login(user.handle, login_name(user))
                current = existing.get(user.handle)
                existing_hash = current.password_hash if current else None
                generated = secrets.password_is_generated(user.handle)
                records.append(user_record(self.lab, user, kept_hash(password, existing_hash, generated=generated)))
        write_if_changed(self.files.users, users_document(records))
        handles = [user.handle for user in self.lab.users]
        for gone in set(self.recorded(state).users) - set(handles):
            secrets.forget_user(gone)
        return handles

    def recorded(self, state: LabState) -> LocalRecord:
        return LocalRecord.from_dict(state.section(self.section))

    def _record(self, state: LabState, **facts: Any) -> None:
        before = self.recorded(state)
        after = replace(before, **facts)
        if after != before:
            section = state.section(self.section)
            section.clear()
            section.update(after.to_dict())
            state.save()

    def teardown(self, state: LabState, secrets: LabSecrets) -> None:
        self.ui.update("stopping the built-in issuer")
        self.process.adopt(host_address(self.lab.local.listen), self.lab.local.port)  # one its starter never recorded
        self.process.stop()
        shutil.rmtree(self.paths.issuer, ignore_errors=True)
        for handle in self.recorded(state).users:
            secrets.forget_user(handle)
        secrets.set_client_secret(None)
        state.drop(self.section)
        state.save()

    def token_client(self, state: LabState, secrets: LabSecrets) -> TokenClient:
        secret = secrets.client_secret
        if not secret or not self.files.ca_cert.exists():
            raise ProviderError("the built-in issuer has not been set up for this lab yet", "run `lab up` first")
        # The host reaches the same process on loopback (a SAN of its certificate); `iss` stays the same.
        base = f"https://{host_address(self.lab.local.listen)}:{self.lab.local.port}"
        return TokenClient(
            token_endpoint=f"{base}/token",
            authorization_endpoint=f"{base}/authorize",
            device_authorization_endpoint=f"{base}/device/code",
            redirect_ports=list(self.lab.oidc.redirect_ports),
            client_id=self.client_id,
            issuer=self.issuer_url,
            client_secret=secret,
            ca_file=str(self.files.ca_cert),
        )

    def status(self, state: LabState) -> dict[str, Any]:
        recorded = self.recorded(state)
        pid = self.process.find(host_address(self.lab.local.listen), self.lab.local.port)
        return {
            "issuer_url": recorded.issuer_url or self.issuer_url,
            "client_id": recorded.client_id or self.client_id,
            "port": recorded.port or self.lab.local.port,
            "running": pid is not None,
            "pid": pid,
            "users": list(recorded.users),
        }


PROVIDER = LocalProvider

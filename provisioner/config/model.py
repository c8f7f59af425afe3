"""The lab as typed, validated objects: which IdP, which cluster, how tokens are read, who the users are."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from ..handles import is_lab_name, user_handle
from .oidc import OidcSpec, SignInFlow
from .strict import _Strict
from .values import is_host, validate_auth0_domain, validate_issuer_url

#: ClusterRoles every Kubernetes cluster has (user-facing ones, see "Default roles and role bindings").
BUILTIN_CLUSTER_ROLES = ("cluster-admin", "admin", "edit", "view")
#: ClusterRoles the lab renders from templates/ (the Auth0 recipe's `admin-role`).
LAB_CLUSTER_ROLES = ("admin-role",)
ALLOWED_ROLES = LAB_CLUSTER_ROLES + BUILTIN_CLUSTER_ROLES


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HANDLE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ClusterSpec(_Strict):
    """The cluster whose kube-apiserver is taught to trust the issuer."""

    driver: Literal["minikube"] = "minikube"
    profile: str = "minikube"
    wait_seconds: int = Field(600, ge=10, le=3600, description="how long to wait for the apiserver after a restart")
    authentication: Literal["auto", "config", "flags"] = Field(
        "auto", description="how the apiserver is told about the issuer: the structured AuthenticationConfiguration "
                            "file (`config`, Kubernetes 1.30+), the --oidc-* flags, or `auto` (config from 1.30 on)")

    @field_validator("profile")
    @classmethod
    def _profile(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9_.]*", value):
            raise ValueError("must be a minikube profile name (letters, digits, '-', '_', '.')")
        return value


class LocalSpec(_Strict):
    """The built-in issuer: a real HTTPS OIDC provider run by the tool itself."""

    port: int = Field(9443, ge=1, le=65535)
    #: Unset: the gateway of the profile's docker/podman network on Linux (where the node reaches
    #: this machine), else every address (0.0.0.0).
    listen: str | None = None
    hostname: str = Field("host.minikube.internal", description="the name the apiserver reaches the issuer by")

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str) -> str:
        # It becomes the issuer URL https://<hostname>:<port>, so it must be a bare host, nothing more.
        if not is_host(value):
            raise ValueError("must be a bare host name or IP address such as host.minikube.internal "
                             "(no scheme, port, path or user info: the issuer URL is built from it)")
        return value
    token_ttl_seconds: int = Field(3600, ge=60, le=86400)
    refresh_ttl_seconds: int = Field(7 * 86400, ge=300, le=90 * 86400)


class Auth0Spec(_Strict):
    """An Auth0 tenant driven through the Management API (credentials come from the environment)."""

    domain: str | None = Field(None, description="tenant domain, e.g. dev-abc123.us.auth0.com; else $AUTH0_DOMAIN")
    application: str | None = Field(None, description="application name; default 'oidc-lab <lab>'")
    connection: str | None = Field(None, description="database connection name; default '<lab>-users'")
    set_default_directory: bool = True
    bulk_import_threshold: int = Field(20, ge=1, description="rosters at least this big use the bulk import job")

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return value
        return validate_auth0_domain(value)


class CasdoorSpec(_Strict):
    """A Casdoor server driven through its REST API (admin credentials come from the environment)."""

    endpoint: str | None = Field(None, description="https URL of Casdoor; else $CASDOOR_ENDPOINT")
    organization: str | None = Field(None, description="organization to use; default '<lab>'")
    create_organization: bool = True
    application: str | None = Field(None, description="application name; default '<lab>-kubernetes'")
    ca_file: Path | None = Field(None, description="CA that signed Casdoor's certificate, if private")
    expire_in_hours: int = Field(24, ge=1, le=24 * 30)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        return None if value is None else validate_issuer_url(value).rstrip("/")


class UserSpec(_Strict):
    """A lab user: an identity at the IdP, a kubeconfig context, and a role in the cluster."""

    email: str | None = None
    name: str | None = Field(None, description="display name; default the email's local part")
    username: str | None = Field(None, description="short handle for contexts; default the email's local part")
    groups: list[str] = Field(default_factory=list)
    role: str | None = Field("admin-role", description="ClusterRole bound to the user, or null for none")
    email_verified: bool = True
    password: SecretStr | None = Field(None, description="fixed password; default a generated one")
    flow: SignInFlow | None = Field(None, description="how `lab token` signs this user in; default oidc.flow")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError("is not an e-mail address")
        return value

    @field_validator("role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and value not in ALLOWED_ROLES:
            raise ValueError(f"is not a known role; allowed: {', '.join(ALLOWED_ROLES)}")
        return value

    @model_validator(mode="after")
    def _has_a_handle(self) -> "UserSpec":
        if not self.email and not self.username:
            raise ValueError("a user needs an email or a username")
        handle = self.handle
        if not _HANDLE.match(handle):
            raise ValueError(
                f"username {handle!r} must be lower-case letters, digits, '-' or '.', as it names a kubeconfig context"
            )
        return self

    @property
    def handle(self) -> str:
        """The short name used for kubeconfig contexts, token caches and logins that need no email."""
        return user_handle(self.email, self.username)

    @property
    def display_name(self) -> str:
        return self.name or self.handle


class GroupBinding(_Strict):
    """A ClusterRole bound to an IdP group (the groups claim, prefix applied)."""

    name: str
    role: str

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ALLOWED_ROLES:
            raise ValueError(f"is not a known role; allowed: {', '.join(ALLOWED_ROLES)}")
        return value


class NamespacesSpec(_Strict):
    """A namespace of their own for each user (`<lab>-<user>`), with a RoleBinding there: the
    workshop's sandbox, where attendees can work without stepping on each other."""

    per_user: bool = False
    role: Literal["admin", "edit", "view"] = "edit"


class KubeconfigSpec(_Strict):
    """What the lab's kubeconfig users run to get a token."""

    plugin: Literal["lab", "kubelogin"] = Field(
        "lab", description="`lab token` (the default), or kubelogin (`kubectl oidc-login get-token`)")


# --- the room (issue 14): attendees on their own laptops -------------------------------------------
ROSTER_MAX_ROWS = 500


class RoomSpec(_Strict):
    """The lab served to a room: `address` is the instructor's machine as the attendees' laptops
    reach it. The built-in issuer's URL and the cluster's API both use it."""

    address: str = Field(description="IP address or DNS name of this machine on the room's network")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not is_host(value):
            raise ValueError("must be a bare IP address or DNS name such as 192.168.1.20 (no scheme, port or path)")
        return value


def _room_defaults(document: object) -> object:
    """With a room, the built-in issuer and `lab serve`'s page are named by and listen on the room's
    address (unless set)."""
    if not isinstance(document, dict) or not isinstance(document.get("room"), dict):
        return document
    address = document["room"].get("address")
    if not isinstance(address, str):
        return document
    local = dict(document.get("local") or {})
    local.setdefault("hostname", address)
    local.setdefault("listen", address)
    if isinstance(document.get("serve"), dict):
        return {**document, "local": local, "serve": {"host": address, **document["serve"]}}
    return {**document, "local": local}


def _default_users() -> list[UserSpec]:
    return [UserSpec(email="learner@example.com", name="Learner", role="admin-role")]


class ServeSpec(_Strict):
    """`lab serve`: the self-service page where lab users sign in and download their kubeconfig."""

    host: str = Field("127.0.0.1", description="the name or address attendees open the page at (in its certificate)")
    port: int = Field(8443, ge=1, le=65535)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not is_host(value):
            raise ValueError("must be a bare host name or IP address (the page is https://<host>:<port>/me)")
        return value

    @property
    def callback(self) -> str:
        """Where the IdP sends a browser back after a sign-in on the page (registered by `lab up`)."""
        return f"https://{self.host}:{self.port}/me"


class LabConfig(_Strict):
    """A whole lab: which IdP, which cluster, how the apiserver reads tokens, and who the users are."""

    name: str = "oidc-lab"
    provider: Literal["local", "auth0", "casdoor"] = "local"
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    oidc: OidcSpec = Field(default_factory=OidcSpec)
    local: LocalSpec = Field(default_factory=LocalSpec)
    auth0: Auth0Spec = Field(default_factory=Auth0Spec)
    casdoor: CasdoorSpec = Field(default_factory=CasdoorSpec)
    users: list[UserSpec] = Field(default_factory=_default_users, min_length=1)
    groups: list[GroupBinding] = Field(default_factory=list)
    namespaces: NamespacesSpec = Field(default_factory=NamespacesSpec)
    kubeconfig: KubeconfigSpec = Field(default_factory=KubeconfigSpec)
    users_file: Path | None = Field(None, description="CSV roster (email,name,groups,role) read next to `users:`")
    room: RoomSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _room(cls, document: object) -> object:
        return _room_defaults(document)

    @field_validator("users")
    @classmethod
    def _not_too_many(cls, value: list[UserSpec]) -> list[UserSpec]:
        if len(value) > ROSTER_MAX_ROWS:
            raise ValueError(f"has {len(value)} users; a lab takes at most {ROSTER_MAX_ROWS}")
        return value
    serve: ServeSpec = Field(default_factory=ServeSpec)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not is_lab_name(value):
            raise ValueError("must be a DNS label: lower-case letters, digits and '-', at most 40 characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "LabConfig":
        seen_handles: dict[str, int] = {}
        seen_emails: dict[str, int] = {}
        if self.cluster.authentication == "flags" and self.oidc.config_only_keys:
            raise ValueError(f"oidc.{self.oidc.config_only_keys[0]} needs cluster.authentication: config "
                             "(the --oidc-* flags cannot express it)")
        for index, user in enumerate(self.users):
            if self.oidc.username_claim == "email" and not self.oidc.username_expression and not user.email:
                raise ValueError(
                    f"users[{index}] has no email, but oidc.username_claim is 'email': "
                    "give the user an email or choose another username claim"
                )
            if user.handle in seen_handles:
                raise ValueError(
                    f"users[{index}] and users[{seen_handles[user.handle]}] share the username {user.handle!r}; "
                    "set a distinct 'username' for one of them"
                )
            seen_handles[user.handle] = index
            if user.email:
                key = user.email.lower()
                if key in seen_emails:
                    raise ValueError(f"users[{index}] repeats the email of users[{seen_emails[key]}]")
                seen_emails[key] = index
        if self.namespaces.per_user:
            for index, user in enumerate(self.users):
                namespace = self.namespace_for(user)
                if len(namespace) > 63:
                    raise ValueError(f"users[{index}]'s namespace {namespace!r} is longer than 63 characters; "
                                     "shorten the lab name or set a shorter 'username'")
            names = [self.namespace_for(u) for u in self.users]
            if len(set(names)) != len(names):
                raise ValueError("two users would share a namespace; give them distinct 'username's without dots")
        if self.groups and not (self.oidc.groups_claim or self.oidc.groups_expression):
            raise ValueError("groups are bound to roles, but oidc.groups_claim is not set")
        if self.room is not None and self.provider == "local" and self.local.hostname != self.room.address:
            raise ValueError(f"local.hostname {self.local.hostname!r} differs from room.address {self.room.address!r}: "
                             "attendees and the apiserver must see one issuer URL; remove local.hostname")
        return self

    def namespace_for(self, user: UserSpec) -> str | None:
        """The user's own namespace (a DNS label) when `namespaces.per_user` is on."""
        if not self.namespaces.per_user:
            return None
        return f"{self.name}-{user.handle.replace('.', '-')}"

    def flow_for(self, user: UserSpec) -> str:
        """How `lab token` signs `user` in: the user's own flow, else the lab's."""
        return user.flow or self.oidc.flow

    def user(self, handle: str) -> UserSpec:
        for user in self.users:
            if user.handle == handle:
                return user
        raise KeyError(handle)

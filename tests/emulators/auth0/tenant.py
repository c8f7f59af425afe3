"""An Auth0 tenant's data and the rules the Management API v2 applies to it.

Everything here is plain data and Auth0's semantics (defaults, merges, uniqueness, password
policies, what a read hides); HTTP, tokens and rate limits live in `server.py`. Shapes, defaults
and status codes follow the recorded traffic in /work/shared/reference/auth0/recordings.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import secrets
import string
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable

import bcrypt

from . import schema
from .errors import ManagementError, not_found, payload_error

DATABASE_STRATEGY = "auth0"
UPA = "Username-Password-Authentication"

_ALNUM = string.ascii_letters + string.digits

DEFAULT_JWT_CONFIGURATION = {"secret_encoded": False, "lifetime_in_seconds": 36000}
DEFAULT_REFRESH_TOKEN = {
    "rotation_type": "non-rotating",
    "expiration_type": "non-expiring",
    "leeway": 0,
    "token_lifetime": 2592000,
    "infinite_token_lifetime": True,
    "infinite_idle_token_lifetime": True,
    "idle_token_lifetime": 1296000,
}
#: What a new database connection's options are when the request gives none (recorded).
DEFAULT_DATABASE_OPTIONS = {
    "mfa": {"active": True, "return_enroll_settings": True},
    "passwordPolicy": "good",
    "strategy_version": 2,
    "authentication_methods": {"password": {"enabled": True, "api_behavior": "required"}, "passkey": {"enabled": False}},
    "passkey_options": {"challenge_ui": "both", "progressive_enrollment_enabled": True, "local_enrollment_enabled": True},
    "brute_force_protection": True,
}
_STICKY_OPTIONS = ("authentication_methods", "passkey_options")
#: Flags Auth0 shows in the answer to a settings PATCH but never in a GET (recorded).
_PATCH_ONLY_FLAGS = {
    "cannot_change_enforce_client_authentication_on_passwordless_start": True,
    "enforce_client_authentication_on_passwordless_start": True,
}
APP_TYPES = {
    "native", "spa", "regular_web", "non_interactive", "resource_server", "express_configuration",
    "rms", "box", "cloudbees", "concur", "dropbox", "mscrm", "echosign", "egnyte", "newrelic", "office365",
    "salesforce", "sentry", "sharepoint", "slack", "springcm", "zendesk", "zoom", "sso_integration", "oag",
}
TOKEN_ENDPOINT_AUTH_METHODS = {"none", "client_secret_post", "client_secret_basic"}
ID_TOKEN_ALGS = {"HS256", "RS256", "PS256"}
PASSWORD_POLICIES = {"none", "low", "fair", "good", "excellent"}
HASH_ALGORITHMS = {"argon2", "bcrypt", "hmac", "ldap", "md4", "md5", "sha1", "sha256", "sha512", "pbkdf2", "scrypt"}
MAX_PAGED_RESULTS = 1000


def now_iso(clock: Callable[[], float] = time.time) -> str:
    moment = _dt.datetime.fromtimestamp(clock(), _dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def random_id(length: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _merge_metadata(current: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any]:
    """Auth0's metadata merge: top-level keys replace, `null` deletes."""
    merged = dict(current or {})
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def password_problem(password: str, options: dict[str, Any]) -> str | None:
    """Why a connection's password policy refuses `password`, or None (Auth0's five policies)."""
    policy = options.get("passwordPolicy") or "none"
    lengths = {"none": 1, "low": 6, "fair": 8, "good": 8, "excellent": 10}
    minimum = (options.get("password_complexity_options") or {}).get("min_length") or lengths.get(policy, 1)
    if len(password) < minimum:
        return "Password is too weak"
    kinds = [any(c.islower() for c in password), any(c.isupper() for c in password),
             any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    if policy == "fair" and not all(kinds[:3]):
        return "Password is too weak"
    if policy in ("good", "excellent") and sum(kinds) < 3:
        return "Password is too weak"
    if policy == "excellent" and any(password[i] == password[i + 1] == password[i + 2] for i in range(len(password) - 2)):
        return "Password contains more than 2 identical characters in a row"
    dictionary = options.get("password_dictionary") or {}
    if dictionary.get("enable") and password.lower() in {w.lower() for w in dictionary.get("dictionary", [])}:
        return "Password is too common"
    return None


def gravatar(email: str) -> str:
    digest = hashlib.md5(email.encode()).hexdigest()
    initials = urllib.parse.quote(f"https://cdn.auth0.com/avatars/{email[:2].lower()}.png", safe="")
    return f"https://s.gravatar.com/avatar/{digest}?s=480&r=pg&d={initials}"


def hash_password(password: str) -> bytes:
    # Low cost on purpose: the emulator checks the policy and the match, not brute-force resistance.
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4))


@dataclass
class StoredUser:
    """A user as Auth0 returns it, plus what only the tenant knows."""

    profile: dict[str, Any]
    connection: str
    password_hash: bytes | None = None
    indexed_at: float = 0.0  # when user search (`GET /users?q=`) starts seeing this version

    def check_password(self, password: str) -> bool:
        if not self.password_hash:
            return False
        try:
            return bcrypt.checkpw(password.encode(), self.password_hash)
        except ValueError:
            return False


@dataclass
class ImportJob:
    record: dict[str, Any]
    connection_id: str
    users: list[Any]
    upsert: bool
    due_at: float
    errors: list[dict[str, Any]] = field(default_factory=list)


class Tenant:
    """One tenant: clients, connections, users, resource servers, settings and import jobs."""

    def __init__(
        self,
        domain: str,
        *,
        clock: Callable[[], float] = time.time,
        search_lag: float = 0.0,
        job_delay: float = 0.2,
        require_enabled_connection_for_users: bool = False,
    ) -> None:
        self.domain = domain
        self.clock = clock
        self.search_lag = search_lag
        self.job_delay = job_delay
        self.require_enabled_connection_for_users = require_enabled_connection_for_users
        self.clients: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.users: dict[str, StoredUser] = {}
        self.resource_servers: dict[str, dict[str, Any]] = {}
        self.settings: dict[str, Any] = {}
        self.jobs: dict[str, ImportJob] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}

    # snapshot ----------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the tenant's configuration and users, comparable with `==`."""
        return copy.deepcopy({
            "clients": self.clients,
            "connections": self.connections,
            "enabled_clients": {c["name"]: list(c["enabled_clients"]) for c in self.connections.values()},
            "users": {uid: {"connection": u.connection, **u.profile} for uid, u in self.users.items()},
            "resource_servers": self.resource_servers,
            "tenant_settings": self.settings,
        })

    # clients -----------------------------------------------------------------------------------
    def _check_client_body(self, body: dict[str, Any]) -> None:
        if "name" in body and not schema.CLIENT_NAME.match(body["name"] or ""):
            raise payload_error(f"String does not match pattern ^[^<>]+$: {body['name']}", "name",
                                "The name of the client. Must contain at least one character. Does not allow '<' or '>'")
        if "app_type" in body and body["app_type"] not in APP_TYPES:
            raise payload_error(f"No enum match for: \"{body['app_type']}\"", "app_type")
        method = body.get("token_endpoint_auth_method")
        if method is not None and method not in TOKEN_ENDPOINT_AUTH_METHODS:
            raise payload_error(f"No enum match for: \"{method}\"", "token_endpoint_auth_method")
        alg = (body.get("jwt_configuration") or {}).get("alg")
        if alg is not None and alg not in ID_TOKEN_ALGS:
            raise payload_error(f"No enum match for: \"{alg}\"", "jwt_configuration.alg")
        if "client_metadata" in body:
            schema.check_metadata(body["client_metadata"], "client_metadata", "client")

    def create_client(self, body: Any, client_id: str | None = None, client_secret: str | None = None) -> dict[str, Any]:
        schema.check_body(body, schema.CLIENT_CREATE, required=("name",))
        self._check_client_body(body)
        app_type = body.get("app_type")
        grants = ["authorization_code", "implicit", "refresh_token"]
        if app_type not in ("spa", "native"):
            grants.append("client_credentials")
        record: dict[str, Any] = {"name": body["name"]}
        if "description" in body:
            record["description"] = body["description"]
        record["client_id"] = client_id or random_id(32)
        record["client_secret"] = client_secret or random_id(64, _ALNUM + "-_")
        record.update({
            "is_first_party": True,
            "is_token_endpoint_ip_header_trusted": False,
            "oidc_conformant": False,
            "jwt_configuration": dict(DEFAULT_JWT_CONFIGURATION),
            "signing_keys": [{"cert": "-----BEGIN CERTIFICATE-----\n(emulated)\n-----END CERTIFICATE-----\n"}],
            "sso_disabled": False,
            "cross_origin_authentication": False,
            "grant_types": grants,
            "custom_login_page_on": True,
            "refresh_token": dict(DEFAULT_REFRESH_TOKEN),
        })
        if app_type is not None and app_type != "spa":
            # Recorded: a typed, non-SPA application gets a one-year refresh token, 30 days idle.
            record["refresh_token"].update(token_lifetime=31557600, idle_token_lifetime=2592000)
        self._apply_client_fields(record, {k: v for k, v in body.items() if k not in ("name", "description")})
        self.clients[record["client_id"]] = record
        return record

    def _apply_client_fields(self, record: dict[str, Any], body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key == "client_metadata":
                merged = _merge_metadata(record.get("client_metadata"), value)
                record["client_metadata"] = merged
            elif key == "jwt_configuration":
                record["jwt_configuration"] = {**record.get("jwt_configuration", {}), **value}
            elif value is None or (key == "initiate_login_uri" and value == ""):
                # Recorded: Auth0 drops a cleared initiate_login_uri instead of keeping "".
                record.pop(key, None)
            else:
                record[key] = copy.deepcopy(value)

    def client(self, client_id: str) -> dict[str, Any]:
        try:
            return self.clients[client_id]
        except KeyError:
            raise not_found("client") from None

    def update_client(self, client_id: str, body: Any) -> dict[str, Any]:
        record = self.client(client_id)
        schema.check_body(body, schema.CLIENT_UPDATE)
        self._check_client_body(body)
        self._apply_client_fields(record, body)
        return record

    def delete_client(self, client_id: str) -> None:
        self.client(client_id)
        del self.clients[client_id]
        for connection in self.connections.values():
            if client_id in connection["enabled_clients"]:
                connection["enabled_clients"].remove(client_id)
        for token, grant in list(self.refresh_tokens.items()):
            if grant["client_id"] == client_id:
                del self.refresh_tokens[token]

    # connections -------------------------------------------------------------------------------
    def connection(self, connection_id: str) -> dict[str, Any]:
        try:
            return self.connections[connection_id]
        except KeyError:
            raise not_found("connection") from None

    def connection_by_name(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.connections.values() if c["name"] == name), None)

    def _check_connection_body(self, body: dict[str, Any]) -> None:
        if "metadata" in body:
            schema.check_metadata(body["metadata"], "metadata", "connection")
        for client_id in body.get("enabled_clients") or []:
            if client_id not in self.clients:
                raise not_found("client")
        policy = (body.get("options") or {}).get("passwordPolicy")
        if policy is not None and policy not in PASSWORD_POLICIES:
            raise payload_error(f"No enum match for: \"{policy}\"", "options.passwordPolicy")

    @staticmethod
    def _stored_options(options: dict[str, Any]) -> dict[str, Any]:
        """Auth0 never returns a connection's `configuration` values in clear text."""
        stored = copy.deepcopy(options)
        if isinstance(stored.get("configuration"), dict):
            stored["configuration"] = {
                key: base64.b64encode(hashlib.sha256(f"{key}={value}".encode() + secrets.token_bytes(8)).digest() * 3).decode()
                for key, value in stored["configuration"].items()
            }
        return stored

    def create_connection(self, body: Any) -> dict[str, Any]:
        schema.check_body(body, schema.CONNECTION_CREATE, required=("name", "strategy"))
        name = body["name"]
        if len(name) > 128 or not schema.CONNECTION_NAME.match(name):
            raise payload_error(f"String does not match pattern ^[a-zA-Z0-9](?:[a-zA-Z0-9\\-]*[a-zA-Z0-9])?$: {name}",
                                "name", schema.CONNECTION_NAME_ABOUT)
        self._check_connection_body(body)
        if self.connection_by_name(name) is not None:
            raise ManagementError(409, "A connection with the same name already exists", "connection_conflict")
        strategy = body["strategy"]
        if "options" in body:
            options = self._stored_options(body["options"])
            if strategy == DATABASE_STRATEGY:
                methods = options.get("authentication_methods")
                if isinstance(methods, dict):
                    # Recorded: explicit authentication methods come back completed with Auth0's defaults.
                    password = methods.setdefault("password", {"enabled": True})
                    password.setdefault("api_behavior", "required")
                    password.setdefault("signup_behavior", "allow")
                    methods.setdefault("email_otp", {"enabled": False})
                    methods.setdefault("phone_otp", {"enabled": False})
                for key in _STICKY_OPTIONS:
                    options.setdefault(key, copy.deepcopy(DEFAULT_DATABASE_OPTIONS[key]))
        else:
            options = copy.deepcopy(DEFAULT_DATABASE_OPTIONS) if strategy == DATABASE_STRATEGY else {}
        record: dict[str, Any] = {
            "id": "con_" + random_id(16),
            "options": options,
            "strategy": strategy,
            "name": name,
        }
        if "display_name" in body:
            record["display_name"] = body["display_name"]
        record.update({
            "is_domain_connection": body.get("is_domain_connection", False),
            "authentication": body.get("authentication", {"active": True}),
            "connected_accounts": body.get("connected_accounts", {"active": False}),
            "enabled_clients": list(body.get("enabled_clients") or []),
            "realms": list(body.get("realms") or [name]),
        })
        if "show_as_button" in body:
            record["show_as_button"] = body["show_as_button"]
        if body.get("metadata"):
            record["metadata"] = {k: v for k, v in body["metadata"].items() if v is not None}
        self.connections[record["id"]] = record
        return record

    def update_connection(self, connection_id: str, body: Any) -> dict[str, Any]:
        record = self.connection(connection_id)
        schema.check_body(body, schema.CONNECTION_UPDATE)
        self._check_connection_body(body)
        for key, value in body.items():
            if key == "options":
                # Auth0 replaces the whole options object on PATCH, except what it always keeps.
                options = self._stored_options(value or {})
                for sticky in _STICKY_OPTIONS:
                    if sticky in record["options"]:
                        options.setdefault(sticky, record["options"][sticky])
                record["options"] = options
            elif key == "metadata":
                record["metadata"] = {k: v for k, v in (value or {}).items() if v is not None}
            elif key == "enabled_clients":
                record["enabled_clients"] = list(value)
            else:
                record[key] = copy.deepcopy(value)
        return record

    def delete_connection(self, connection_id: str) -> dict[str, Any]:
        record = self.connection(connection_id)
        del self.connections[connection_id]
        for user_id, user in list(self.users.items()):
            if user.connection == record["name"]:
                del self.users[user_id]
        return {"deleted_at": now_iso(self.clock)}

    def update_connection_clients(self, connection_id: str, body: Any) -> None:
        record = self.connection(connection_id)
        if not isinstance(body, list):
            raise payload_error(f"Expected type array but found type {schema.type_of(body)}")
        if len(body) > 50:
            raise payload_error(f"Array is too long ({len(body)}), maximum 50")
        for item in body:
            schema.check_body(item, schema.CONNECTION_CLIENT_ITEM, required=("client_id", "status"))
            if item["client_id"] not in self.clients:
                raise not_found("client")
        enabled = record["enabled_clients"]
        for item in body:
            if item["status"] and item["client_id"] not in enabled:
                enabled.append(item["client_id"])
            elif not item["status"] and item["client_id"] in enabled:
                enabled.remove(item["client_id"])

    # tenant settings -----------------------------------------------------------------------------
    def settings_view(self) -> dict[str, Any]:
        """What `GET /tenants/settings` shows (a few fields differ from a PATCH answer, as recorded)."""
        view = copy.deepcopy(self.settings)
        for flag in _PATCH_ONLY_FLAGS:
            view.get("flags", {}).pop(flag, None)
        view.setdefault("client_id_metadata_document_supported", False)
        view["sandbox_versions_available"] = ["22", "18"]
        return view

    def update_settings(self, body: Any) -> dict[str, Any]:
        schema.check_body(body, schema.TENANT_SETTINGS)
        for key, value in body.items():
            if value is None or (key == "default_redirection_uri" and value == ""):
                # Recorded: a cleared default_redirection_uri disappears; a cleared default_directory stays "".
                self.settings.pop(key, None)
            elif key == "flags":
                self.settings["flags"] = {**self.settings.get("flags", {}), **value}
            else:
                self.settings[key] = copy.deepcopy(value)
        answer = copy.deepcopy(self.settings)
        if "flags" in answer:
            answer["flags"].update(_PATCH_ONLY_FLAGS)
        return answer

    # users --------------------------------------------------------------------------------------
    def user(self, user_id: str) -> StoredUser:
        try:
            return self.users[user_id]
        except KeyError:
            raise not_found("user") from None

    def find_user(self, connection: str, login: str) -> StoredUser | None:
        """The user of `connection` whose email (or username) is `login`, as a login form finds it."""
        wanted = login.lower()
        for user in self.users.values():
            if user.connection != connection:
                continue
            if user.profile.get("email") == wanted or (user.profile.get("username") or "").lower() == wanted:
                return user
        return None

    def _database_connection(self, name: str) -> dict[str, Any]:
        connection = self.connection_by_name(name)
        if connection is None:
            raise ManagementError(400, "The connection does not exist.", "inexistent_connection")
        if connection["strategy"] != DATABASE_STRATEGY:
            raise ManagementError(400, f"Connection \"{name}\" is not a database connection", "operation_not_supported")
        return connection

    def _check_password(self, password: str, connection: dict[str, Any]) -> None:
        problem = password_problem(password, connection["options"])
        if problem:
            raise ManagementError(400, f"PasswordStrengthError: {problem}", "invalid_body")

    def _check_unique(self, connection: str, email: str | None, username: str | None, except_id: str | None = None) -> None:
        for user_id, user in self.users.items():
            if user_id == except_id or user.connection != connection:
                continue
            if email and user.profile.get("email") == email:
                raise ManagementError(409, "The user already exists.", "auth0_idp_error")
            if username and (user.profile.get("username") or "").lower() == username.lower():
                raise ManagementError(409, "The username provided is in use already.", "auth0_idp_error")

    def create_user(self, body: Any, caller_client_id: str | None = None) -> dict[str, Any]:
        schema.check_body(body, schema.USER_CREATE, required=("connection",))
        connection = self._database_connection(body["connection"])
        if (self.require_enabled_connection_for_users and caller_client_id
                and caller_client_id not in connection["enabled_clients"]):
            raise ManagementError(
                400,
                "Connection must be enabled for this client to perform single user creation and signup operations "
                f"(client_id: {caller_client_id} - connection: {connection['name']})",
                "operation_not_supported",
            )
        options = connection["options"]
        if "email" not in body:
            raise payload_error("Missing required property: email")
        if options.get("requires_username") and "username" not in body:
            raise payload_error("Missing required property: username")
        if "username" in body and not options.get("requires_username"):
            raise ManagementError(400, "Cannot set username for connection without requires_username", "invalid_body")
        if "password" not in body:
            raise payload_error("Missing required property: password")
        email = body["email"].lower()
        if "@" not in email:
            raise payload_error(f"Object didn't pass validation for format email: {body['email']}", "email")
        self._check_password(body["password"], connection)
        local_id = body.get("user_id") or secrets.token_hex(12)
        user_id = f"auth0|{local_id}"
        if user_id in self.users:
            raise ManagementError(409, "The user already exists.", "auth0_idp_error")
        self._check_unique(connection["name"], email, body.get("username"))
        stamp = now_iso(self.clock)
        profile: dict[str, Any] = {
            "created_at": stamp,
            "email": email,
            "email_verified": bool(body.get("email_verified", False)),
            "identities": [{"user_id": local_id, "connection": connection["name"], "provider": "auth0", "isSocial": False}],
            "name": body.get("name", email),
            "nickname": body.get("nickname", email.split("@", 1)[0]),
            "picture": body.get("picture", gravatar(email)),
            "updated_at": stamp,
            "user_id": user_id,
        }
        if "username" in body:
            profile["username"] = body["username"]
        for key in ("given_name", "family_name", "phone_number", "phone_verified", "blocked"):
            if key in body:
                profile[key] = body[key]
        if body.get("user_metadata") is not None:
            profile["user_metadata"] = _merge_metadata({}, body["user_metadata"])
        if body.get("app_metadata"):
            profile["app_metadata"] = _merge_metadata({}, body["app_metadata"])
        self.users[user_id] = StoredUser(profile, connection["name"], hash_password(body["password"]),
                                         indexed_at=self.clock() + self.search_lag)
        return profile

    def update_user(self, user_id: str, body: Any) -> dict[str, Any]:
        user = self.user(user_id)
        schema.check_body(body, schema.USER_UPDATE)
        connection = self.connection_by_name(user.connection)
        profile = user.profile
        if "password" in body:
            if connection is not None:
                self._check_password(body["password"], connection)
            user.password_hash = hash_password(body["password"])
        if "email" in body:
            email = body["email"].lower()
            self._check_unique(user.connection, email, None, except_id=user_id)
            profile["email"] = email
        if "username" in body:
            self._check_unique(user.connection, None, body["username"], except_id=user_id)
            profile["username"] = body["username"]
        for key in ("blocked", "email_verified", "phone_number", "phone_verified", "given_name", "family_name",
                    "name", "nickname", "picture"):
            if key in body:
                profile[key] = body[key]
        for key in ("user_metadata", "app_metadata"):
            if key not in body:
                continue
            if not body[key]:
                # `{}` clears; Auth0 then keeps an empty user_metadata but drops app_metadata.
                if key == "user_metadata":
                    profile[key] = {}
                else:
                    profile.pop(key, None)
                continue
            merged = _merge_metadata(profile.get(key), body[key])
            if merged or key == "user_metadata":
                profile[key] = merged
            else:
                profile.pop(key, None)
        profile["updated_at"] = now_iso(self.clock)
        user.indexed_at = self.clock() + self.search_lag
        return profile

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        del self.users[user_id]
        for token, grant in list(self.refresh_tokens.items()):
            if grant["user_id"] == user_id:
                del self.refresh_tokens[token]

    def searchable_users(self) -> list[dict[str, Any]]:
        """What the (lagging) search index holds right now."""
        moment = self.clock()
        return [u.profile for u in self.users.values() if u.indexed_at <= moment]

    def users_by_email(self, email: str) -> list[dict[str, Any]]:
        wanted = email.lower()
        return [u.profile for u in self.users.values() if u.profile.get("email") == wanted]

    def record_login(self, user: StoredUser) -> None:
        profile = user.profile
        profile["last_login"] = now_iso(self.clock)
        profile["last_ip"] = "127.0.0.1"
        profile["logins_count"] = profile.get("logins_count", 0) + 1

    # resource servers ------------------------------------------------------------------------------
    def resource_server(self, id_or_identifier: str) -> dict[str, Any]:
        if id_or_identifier in self.resource_servers:
            return self.resource_servers[id_or_identifier]
        for record in self.resource_servers.values():
            if record["identifier"] == id_or_identifier:
                return record
        raise not_found("resource_server")

    def create_resource_server(self, body: Any, system: bool = False) -> dict[str, Any]:
        schema.check_body(body, schema.RESOURCE_SERVER_CREATE, required=("identifier",))
        if any(r["identifier"] == body["identifier"] for r in self.resource_servers.values()):
            raise ManagementError(409, "A resource server with the same identifier already exists", "conflict")
        record: dict[str, Any] = {"id": secrets.token_hex(12), "name": body.get("name", body["identifier"]),
                                  "identifier": body["identifier"]}
        if system:
            record["is_system"] = True
        for key in ("allow_offline_access", "skip_consent_for_verifiable_first_party_clients"):
            if key in body:
                record[key] = body[key]
        record.update({
            "subject_type_authorization": {"client": {"policy": "require_client_grant"}, "user": {"policy": "allow_all"}},
            "token_lifetime": 86400,
            "token_lifetime_for_web": 7200,
            "signing_alg": "RS256",
        })
        for key, value in body.items():
            if key not in record or key in ("subject_type_authorization", "token_lifetime", "token_lifetime_for_web", "signing_alg"):
                record[key] = copy.deepcopy(value)
        self.resource_servers[record["id"]] = record
        return record

    def update_resource_server(self, id_or_identifier: str, body: Any) -> dict[str, Any]:
        record = self.resource_server(id_or_identifier)
        schema.check_body(body, schema.RESOURCE_SERVER_UPDATE)
        for key, value in body.items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = copy.deepcopy(value)
        return record

    def delete_resource_server(self, id_or_identifier: str) -> None:
        record = self.resource_server(id_or_identifier)
        if record.get("is_system"):
            raise ManagementError(400, "You cannot delete a system resource server", "operation_not_supported")
        del self.resource_servers[record["id"]]

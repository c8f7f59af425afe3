"""What a Casdoor server knows: organizations, applications, groups, users, and its tokens.

Kept apart from HTTP so the rules Casdoor applies read in one place, each beside the Go function
of casdoor/casdoor (v3.x) it follows. Replies follow Casdoor's controllers
(controllers/base.go, wrapActionResponse): `{"status": "ok"|"error", "msg", "data", "data2"}`,
"Affected"/"Unaffected" for writes (a write whose keys match no row is Unaffected, not an error),
`data: null` for a missing object, and OAuth `TokenError` bodies for the token endpoints.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

BUILT_IN = "built-in"
ADMIN_APPLICATION = "app-built-in"
CERT_NAME = "cert-built-in"


def ok(data: Any = None, data2: Any = None) -> dict[str, Any]:
    return {"status": "ok", "msg": "", "data": data, "data2": data2}


def error(msg: str) -> dict[str, Any]:
    return {"status": "error", "msg": msg, "data": None, "data2": None}


def affected(changed: bool) -> dict[str, Any]:
    return ok("Affected" if changed else "Unaffected")


@dataclass
class TokenError(Exception):
    """An OAuth error reply of the token endpoints, with the HTTP status Casdoor gives it."""

    error: str
    description: str
    status: int = 400

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Directory:
    """The objects of one Casdoor server, with the checks Casdoor makes on each write."""

    signing_key_pem: bytes
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    applications: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    users: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # token -> (app, owner, user)
    clock_offset_seconds: int = 0  # a server whose clock runs behind (negative) mints tokens that look expired

    def __post_init__(self) -> None:
        # Loading an RSA key checks it, which costs tens of milliseconds: do it once, not per token.
        self.signing_key = serialization.load_pem_private_key(self.signing_key_pem, password=None)

    # seed ---------------------------------------------------------------------------------------
    def seed(self) -> dict[str, Any]:
        """Casdoor's first start: the built-in organization, its admin user and admin application."""
        self.organizations[BUILT_IN] = {
            "owner": "admin", "name": BUILT_IN, "createdTime": _now_text(), "displayName": "Built-in Organization",
            "websiteUrl": "https://example.com", "passwordType": "plain", "defaultApplication": ADMIN_APPLICATION,
        }
        app = self._application_defaults({
            "owner": "admin", "name": ADMIN_APPLICATION, "displayName": "Casdoor", "organization": BUILT_IN,
            "grantTypes": ["authorization_code", "password", "client_credentials", "token", "id_token", "refresh_token"],
            "expireInHours": 168, "enablePassword": True,
        })
        self.applications[ADMIN_APPLICATION] = app
        self.users[(BUILT_IN, "admin")] = self._user_defaults({
            "owner": BUILT_IN, "name": "admin", "displayName": "Admin", "email": "admin@example.com",
            "password": "123", "isAdmin": True, "signupApplication": ADMIN_APPLICATION,
        })
        return app

    # admin authentication -------------------------------------------------------------------------
    def api_application(self, client_id: str | None, client_secret: str | None) -> dict[str, Any] | None:
        """The application whose credentials sign an API call (Casdoor's `app/<name>` subject)."""
        if not client_id or not client_secret:
            return None
        app = self._by_client_id(client_id)
        if app is None or app["clientSecret"] != client_secret:
            return None
        return app

    # organizations --------------------------------------------------------------------------------
    def get_organization(self, id_: str) -> dict[str, Any]:
        _, name = _split_id(id_)
        return ok(copy.deepcopy(self.organizations.get(name)))

    def get_organizations(self, owner: str) -> dict[str, Any]:
        return ok([copy.deepcopy(o) for o in self.organizations.values()])

    def add_organization(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name") or ""
        if not name:
            return error("The name cannot be empty")
        if name in self.organizations:
            return error(f"The organization: admin/{name} already exists")
        org = dict(body)
        org["owner"] = "admin"
        org.setdefault("createdTime", _now_text())
        org["createdTime"] = org["createdTime"] or _now_text()
        self.organizations[name] = org
        return affected(True)

    def update_organization(self, id_: str, body: dict[str, Any]) -> dict[str, Any]:
        _, name = _split_id(id_)
        if name not in self.organizations:
            return affected(False)
        self.organizations[name] = {**self.organizations[name], **body, "owner": "admin", "name": name}
        return affected(True)

    def delete_organization(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name")
        if name == BUILT_IN:
            return error("Unauthorized operation")
        return affected(self.organizations.pop(name, None) is not None)

    # applications ---------------------------------------------------------------------------------
    def get_application(self, id_: str) -> dict[str, Any]:
        _, name = _split_id(id_)
        return ok(copy.deepcopy(self.applications.get(name)))

    def get_applications(self, owner: str, organization: str | None = None) -> dict[str, Any]:
        apps = [copy.deepcopy(a) for a in self.applications.values()
                if organization is None or a.get("organization") == organization]
        return ok(apps)

    def add_application(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name") or ""
        if not name:
            return error("The name cannot be empty")
        organization = body.get("organization") or ""
        if organization not in self.organizations:
            return error(f"The organization: {organization} does not exist")
        if name in self.applications:
            return error(f"Error 1062 (23000): Duplicate entry 'admin-{name}' for key 'application.PRIMARY'")
        client_id = body.get("clientId") or ""
        if client_id and self._by_client_id(client_id) is not None:
            return error(f"The client ID: {client_id} is already used by another application")
        app = self._application_defaults(dict(body))
        app["owner"] = "admin"
        self.applications[name] = app
        return affected(True)

    def update_application(self, id_: str, body: dict[str, Any]) -> dict[str, Any]:
        _, name = _split_id(id_)
        if name not in self.applications:
            return affected(False)
        updated = {**self.applications[name], **body, "owner": "admin", "name": name}
        if not updated.get("clientId"):
            updated["clientId"] = self.applications[name]["clientId"]
        if not updated.get("clientSecret"):
            updated["clientSecret"] = self.applications[name]["clientSecret"]
        self.applications[name] = updated
        return affected(True)

    def delete_application(self, body: dict[str, Any]) -> dict[str, Any]:
        # object/application.go, DeleteApplication: app-built-in is never deleted (Unaffected), and
        # deleteApplication matches owner, name AND organization: a body without the organization
        # matches no row and is answered Unaffected, deleting nothing.
        name = body.get("name")
        app = self.applications.get(name or "")
        if name == ADMIN_APPLICATION or app is None or (body.get("owner") or "") != app.get("owner"):
            return affected(False)
        if (body.get("organization") or "") != app.get("organization"):
            return affected(False)
        del self.applications[name]
        return affected(True)

    # users ----------------------------------------------------------------------------------------
    def get_user(self, id_: str) -> dict[str, Any]:
        owner, name = _split_id(id_)
        user = self.users.get((owner, name))
        return ok(_masked_user(user) if user else None)

    def get_users(self, owner: str) -> dict[str, Any]:
        return ok([_masked_user(u) for (o, _), u in self.users.items() if o == owner])

    def add_user(self, body: dict[str, Any]) -> dict[str, Any]:
        owner, name = body.get("owner") or "", body.get("name") or ""
        if owner not in self.organizations:
            return error(f"The organization: {owner} does not exist")
        if not name:
            return error("Empty username.")
        if not _USERNAME.match(name):
            return error("The username may only contain alphanumeric characters, underlines or hyphens, "
                         "cannot have consecutive hyphens or underlines, and cannot begin or end with a hyphen or underline.")
        if (owner, name) in self.users:
            return error("Username already exists")
        # controllers/user.go, AddUser: a user is added through its organization's application;
        # an organization without one is refused.
        if not any(a.get("organization") == owner for a in self.applications.values()):
            return error(f"The application for organization: {owner} does not exist")
        email = (body.get("email") or "").lower()
        if email and any(u.get("email", "").lower() == email for (o, _), u in self.users.items() if o == owner):
            return error("Email already exists")
        self.users[(owner, name)] = self._user_defaults(dict(body))
        return affected(True)

    def update_user(self, id_: str, body: dict[str, Any], columns: str = "", is_admin: bool = True) -> dict[str, Any]:
        # controllers/user.go, UpdateUser: the user must exist and keep a display name; `columns`
        # (comma-separated DB columns) picks what is written. object/user.go, UpdateUser: without
        # it a fixed list is written that holds neither `password` nor `email_verified`; an admin
        # caller (an application's credentials count as one) adds name, email, phone, country_code, type.
        owner, name = _split_id(id_)
        old = self.users.get((owner, name))
        if old is None:
            return error(f"The user: {owner}/{name} doesn't exist")
        if not body.get("displayName"):
            return error("Display name cannot be empty")
        chosen = [c for c in columns.split(",") if c] if columns else list(DEFAULT_USER_COLUMNS)
        if is_admin:
            chosen += ["name", "email", "phone", "country_code", "type"]
        updated = dict(old)
        for column in chosen:
            key = _json_key(column)
            if key == "password" and body.get("password") in (None, "***"):
                continue  # "***" stands for the old password (UpdateUser)
            if key in body:
                updated[key] = copy.deepcopy(body[key])
        updated["owner"], updated["name"] = owner, name
        self.users[(owner, name)] = updated
        return affected(True)

    # groups (object/group.go) ----------------------------------------------------------------------
    def get_group(self, id_: str) -> dict[str, Any]:
        owner, name = _split_id(id_)
        return ok(copy.deepcopy(self.groups.get((owner, name))))

    def get_groups(self, owner: str) -> dict[str, Any]:
        return ok([copy.deepcopy(g) for (o, _), g in self.groups.items() if o == owner])

    def add_group(self, body: dict[str, Any]) -> dict[str, Any]:
        # AddGroup inserts by the (owner, name) key; checkGroupName refuses an empty name.
        owner, name = body.get("owner") or "", body.get("name") or ""
        if not name:
            return error("group name can't be empty")
        if (owner, name) in self.groups:
            return error(f"Error 1062 (23000): Duplicate entry '{owner}-{name}' for key 'group.PRIMARY'")
        group = dict(body)
        group["createdTime"] = group.get("createdTime") or _now_text()
        group.pop("users", None)  # membership lives in user.groups, not in the group row
        self.groups[(owner, name)] = group
        return affected(True)

    def delete_group(self, body: dict[str, Any]) -> dict[str, Any]:
        # DeleteGroup: refused while a child group or a user is in it ("group has users").
        key = (body.get("owner") or "", body.get("name") or "")
        if key not in self.groups:
            return affected(False)
        group_id = f"{key[0]}/{key[1]}"
        if any(g.get("parentId") == key[1] for k, g in self.groups.items() if k != key and k[0] == key[0]):
            return error("group has children group")
        if any(group_id in (u.get("groups") or []) for u in self.users.values()):
            return error("group has users")
        del self.groups[key]
        return affected(True)

    def delete_user(self, body: dict[str, Any]) -> dict[str, Any]:
        key = (body.get("owner") or "", body.get("name") or "")
        if key == (BUILT_IN, "admin"):
            return error("Unauthorized operation")
        return affected(self.users.pop(key, None) is not None)

    # tokens ---------------------------------------------------------------------------------------
    def password_token(self, issuer: str, params: dict[str, str]) -> dict[str, Any]:
        # object/token_oauth.go, GetPasswordToken: only the client id is checked, never a secret.
        app = self._token_application(params.get("client_id", ""), "password")
        user = self.users.get((app["organization"], params.get("username", "")))
        if user is None:
            raise TokenError("invalid_grant", "the user does not exist")
        if not user.get("password"):
            raise TokenError("invalid_grant", "OAuth users cannot use password grant type, please use authorization code flow")
        if user["password"] != params.get("password", ""):
            raise TokenError("invalid_grant", "invalid username or password: password or code is incorrect")
        if user.get("isForbidden"):
            raise TokenError("invalid_grant", "The user is forbidden to sign in, please contact the administrator")
        return self._mint(issuer, app, user, params.get("scope", ""))

    def refresh(self, issuer: str, params: dict[str, str]) -> dict[str, Any]:
        app = self._token_application(params.get("client_id", ""), "refresh_token")
        secret = params.get("client_secret")
        if secret and secret != app["clientSecret"]:
            raise TokenError("invalid_client", "client_secret is invalid", 401)
        # object/token_oauth.go, RefreshToken: a refresh token is used once; the old token is deleted.
        issued = self.refresh_tokens.pop(params.get("refresh_token", ""), None)
        if issued is None:
            raise TokenError("invalid_grant", "refresh token is invalid, expired or revoked")
        app_name, owner, name = issued
        if app_name != app["name"]:
            raise TokenError("invalid_client", "the token is for wrong application (client_id)", 401)
        user = self.users.get((owner, name))
        if user is None:
            raise TokenError("invalid_grant", "The user: %s/%s doesn't exist" % (owner, name))
        return self._mint(issuer, app, user, params.get("scope", ""))

    def client_credentials(self, issuer: str, params: dict[str, str]) -> dict[str, Any]:
        """object/token_oauth.go, GetClientCredentialsToken: the application itself, checked by its
        secret, gets an access token (no refresh token) whose subject is the application."""
        app = self._token_application(params.get("client_id", ""), "client_credentials")
        if params.get("client_secret") != app["clientSecret"]:
            raise TokenError("invalid_client", "client_secret is invalid", 401)
        now = int(time.time()) + self.clock_offset_seconds
        expires_in = int(float(app.get("expireInHours") or 0) * 3600)
        claims = {"owner": app["owner"], "name": app["name"], "type": "application", "tokenType": "access-token",
                  "iss": issuer, "sub": app["clientId"], "aud": [app["clientId"]], "azp": app["clientId"],
                  "exp": now + expires_in, "nbf": now, "iat": now, "jti": f"admin/{uuid.uuid4()}",
                  "scope": params.get("scope", "")}
        access = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": CERT_NAME})
        return {"access_token": access, "id_token": "", "refresh_token": "", "token_type": "Bearer",
                "expires_in": expires_in, "scope": params.get("scope", "")}

    def _token_application(self, client_id: str, grant_type: str) -> dict[str, Any]:
        app = self._by_client_id(client_id)
        if app is None:
            raise TokenError("invalid_client", "client_id is invalid", 401)
        if grant_type not in (app.get("grantTypes") or []):
            raise TokenError("unsupported_grant_type", f"grant_type: {grant_type} is not supported in this application")
        return app

    def _mint(self, issuer: str, app: dict[str, Any], user: dict[str, Any], scope: str, nonce: str = "") -> dict[str, Any]:
        now = int(time.time()) + self.clock_offset_seconds
        expires_in = int(float(app.get("expireInHours") or 0) * 3600)
        claims = {
            "owner": user["owner"],
            "name": user["name"],
            "displayName": user.get("displayName", ""),
            "email": user.get("email", ""),
            "email_verified": bool(user.get("emailVerified")),
            "groups": list(user.get("groups") or []),  # token_jwt.go: user.groups as stored (ids)
            "tokenType": "access-token",
            "iss": issuer,
            "sub": user["id"],
            "aud": [app["clientId"]],
            "azp": app["clientId"],
            "exp": now + expires_in,
            "nbf": now,
            "iat": now,
            "jti": f"admin/{uuid.uuid4()}",
            "scope": scope,
        }
        if nonce:  # object/token_jwt.go, Claims.Nonce (`json:"nonce,omitempty"`): the authorization request's
            claims["nonce"] = nonce
        access = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": CERT_NAME})
        refresh_claims = {**claims, "tokenType": "refresh-token",
                          "exp": now + int(float(app.get("refreshExpireInHours") or 0) * 3600 or 7 * 86400)}
        refresh = jwt.encode(refresh_claims, self.signing_key, algorithm="RS256", headers={"kid": CERT_NAME})
        self.refresh_tokens[refresh] = (app["name"], user["owner"], user["name"])
        # Casdoor hands out one JWT as both the access token and the id_token.
        return {"access_token": access, "id_token": access, "refresh_token": refresh,
                "token_type": "Bearer", "expires_in": expires_in, "scope": scope}

    # snapshots --------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy({
            "organizations": self.organizations,
            "applications": self.applications,
            "groups": {f"{o}/{n}": g for (o, n), g in self.groups.items()},
            "users": {f"{o}/{n}": u for (o, n), u in self.users.items()},
        })

    # helpers --------------------------------------------------------------------------------------
    def _by_client_id(self, client_id: str) -> dict[str, Any] | None:
        for app in self.applications.values():
            if app.get("clientId") == client_id:
                return app
        return None

    def _application_defaults(self, app: dict[str, Any]) -> dict[str, Any]:
        app.setdefault("createdTime", "")
        app["createdTime"] = app["createdTime"] or _now_text()
        app["clientId"] = app.get("clientId") or secrets.token_hex(10)
        app["clientSecret"] = app.get("clientSecret") or secrets.token_hex(20)
        app.setdefault("cert", CERT_NAME)
        app.setdefault("grantTypes", [])
        app.setdefault("expireInHours", 0)
        return app

    def _user_defaults(self, user: dict[str, Any]) -> dict[str, Any]:
        user["id"] = user.get("id") or str(uuid.uuid4())
        user["createdTime"] = user.get("createdTime") or _now_text()
        user.setdefault("type", "normal-user")
        user.setdefault("groups", [])
        user.setdefault("emailVerified", False)
        return user


#: object/user.go, UpdateUser: the columns written when the request names none (JSON keys below).
DEFAULT_USER_COLUMNS = (
    "owner", "display_name", "avatar", "location", "address", "country_code", "region", "language", "affiliation",
    "title", "homepage", "bio", "tag", "gender", "birthday", "education", "score", "karma", "ranking",
    "signup_application", "is_admin", "is_forbidden", "is_deleted", "password_change_time", "hash",
    "is_default_avatar", "properties", "webauthnCredentials", "managedAccounts", "signin_wrong_times",
    "last_signin_wrong_time", "groups", "access_key", "access_secret",
)


def _json_key(column: str) -> str:
    """A DB column (`email_verified`) as the JSON key of the User struct (`emailVerified`)."""
    head, *rest = column.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_USERNAME = re.compile(r"^[a-zA-Z0-9]+((?:-[a-zA-Z0-9]+)|(?:_[a-zA-Z0-9]+))*$")


def _split_id(id_: str) -> tuple[str, str]:
    owner, _, name = (id_ or "").partition("/")
    return owner, name


def _masked_user(user: dict[str, Any]) -> dict[str, Any]:
    shown = copy.deepcopy(user)
    if shown.get("password"):
        shown["password"] = "***"
    return shown


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

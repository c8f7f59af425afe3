"""Auth0's Authentication API: `/oauth/token` grants, discovery, JWKS and `/userinfo`.

The rules that make a lab work or fail are the ones enforced here: the client must allow the
grant (`grant_types`), `password` needs the tenant's `default_directory`, `password-realm` needs
the connection enabled for the client, a refresh token comes only with `offline_access` and the
`refresh_token` grant, and a client without `jwt_configuration.alg` gets HS256 id_tokens signed
with its secret (which kube-apiserver refuses). Error bodies and status codes follow Auth0.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from typing import Any, Callable

from .errors import OAuthError
from .interactive import AUTHORIZATION_CODE, DEVICE_CODE, Interactive
from .tenant import DATABASE_STRATEGY, StoredUser, Tenant
from .tokens import SigningKey, sign_hs256

PASSWORD = "password"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"
KNOWN_GRANTS = {
    "authorization_code", "implicit", REFRESH_TOKEN, CLIENT_CREDENTIALS, PASSWORD, PASSWORD_REALM,
    "urn:ietf:params:oauth:grant-type:device_code", "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob", "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    "http://auth0.com/oauth/grant-type/passwordless/otp", "urn:ietf:params:oauth:grant-type:token-exchange",
}
OIDC_SCOPES = ("openid", "profile", "email", "offline_access", "address", "phone")
ACCESS_TOKEN_LIFETIME = 86400

#: Extra id_token claims, as a tenant's post-login Action would add them: (user profile, client) -> claims.
ClaimsHook = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]

_UNAUTHORIZED = (401, "access_denied", "Unauthorized")


class AuthenticationApi:
    def __init__(
        self,
        tenant: Tenant,
        key: SigningKey,
        *,
        management_scopes: dict[str, set[str]],
        management_token_ttl: int,
        extra_claims: ClaimsHook | None = None,
    ) -> None:
        self.tenant = tenant
        self.key = key
        self.management_scopes = management_scopes  # client id -> scopes granted on the Management API
        self.management_token_ttl = management_token_ttl
        self.extra_claims = extra_claims
        self.access_tokens: dict[str, str] = {}  # userinfo access token -> user id
        self.management_tokens_issued = 0  # the `jti` of the next Management API token is this + 1
        self.interactive = Interactive(tenant)  # /authorize, its login page, and the device flow

    @property
    def issuer(self) -> str:
        return f"https://{self.tenant.domain}/"

    @property
    def management_audience(self) -> str:
        return f"https://{self.tenant.domain}/api/v2/"

    # discovery ----------------------------------------------------------------------------------
    def openid_configuration(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}authorize",
            "token_endpoint": f"{base}oauth/token",
            "device_authorization_endpoint": f"{base}oauth/device/code",
            "userinfo_endpoint": f"{base}userinfo",
            "mfa_challenge_endpoint": f"{base}mfa/challenge",
            "jwks_uri": f"{base}.well-known/jwks.json",
            "registration_endpoint": f"{base}oidc/register",
            "revocation_endpoint": f"{base}oauth/revoke",
            "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name",
                                 "nickname", "email", "email_verified", "picture", "created_at", "identities",
                                 "phone", "address"],
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                                         "token id_token", "code token id_token"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
            "claims_supported": ["aud", "auth_time", "created_at", "email", "email_verified", "exp", "family_name",
                                 "given_name", "iat", "identities", "iss", "name", "nickname", "phone_number",
                                 "picture", "sub"],
            "request_uri_parameter_supported": False,
            "request_parameter_supported": False,
            "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
            "end_session_endpoint": f"{base}oidc/logout",
        }

    # the token endpoint --------------------------------------------------------------------------
    def token(self, params: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None and v != ""}
        grant_type = params.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
        if grant_type not in KNOWN_GRANTS:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        client = self._authenticate_client(params, authorization)
        if grant_type not in client.get("grant_types", []):
            raise OAuthError(403, "unauthorized_client", f"Grant type '{grant_type}' not allowed for the client.",
                             error_uri="https://auth0.com/docs/clients/client-grant-types")
        if grant_type == CLIENT_CREDENTIALS:
            return self._client_credentials(client, params)
        if grant_type in (PASSWORD, PASSWORD_REALM):
            return self._password(client, params, grant_type)
        if grant_type == REFRESH_TOKEN:
            return self._refresh(client, params)
        if grant_type == AUTHORIZATION_CODE:
            user, scopes, nonce = self.interactive.redeem_code(client, params)
            return self._interactive_tokens(client, user, scopes, nonce)
        if grant_type == DEVICE_CODE:
            user, scopes = self.interactive.redeem_device_code(client, params)
            return self._interactive_tokens(client, user, scopes, "")
        raise OAuthError(400, "unsupported_grant_type", f"The emulator does not implement grant type: {grant_type}")

    def _authenticate_client(self, params: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        client_id, secret = params.get("client_id"), params.get("client_secret")
        basic = None
        if authorization and authorization.lower().startswith("basic "):
            try:
                basic = base64.b64decode(authorization[6:]).decode().split(":", 1)
            except (ValueError, UnicodeDecodeError):
                raise OAuthError(*_UNAUTHORIZED) from None
            client_id = client_id or basic[0]
        if not client_id:
            raise OAuthError(400, "invalid_request", "Missing required parameter: client_id")
        client = self.tenant.clients.get(client_id)
        if client is None:
            raise OAuthError(*_UNAUTHORIZED)
        method = client.get("token_endpoint_auth_method") or (
            "none" if client.get("app_type") in ("spa", "native") else "client_secret_post")
        if method == "none":
            return client
        presented = basic[1] if (method == "client_secret_basic" and basic and len(basic) == 2) else secret
        if not presented or not hmac.compare_digest(presented, client["client_secret"]):
            raise OAuthError(*_UNAUTHORIZED)
        return client

    def _client_credentials(self, client: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        audience = params.get("audience") or self.tenant.settings.get("default_audience")
        if not audience:
            raise OAuthError(403, "access_denied",
                             "No audience parameter was provided, and no default audience has been configured")
        if audience != self.management_audience:
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")
        granted = self.management_scopes.get(client["client_id"])
        if granted is None:
            raise OAuthError(
                403, "access_denied",
                f'Client is not authorized to access "{audience}". You need to create a "client-grant" associated '
                "to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants")
        wanted = set(params["scope"].split()) if params.get("scope") else set(granted)
        scopes = sorted(wanted & granted)
        moment = int(self.tenant.clock())
        self.management_tokens_issued += 1
        claims = {
            "jti": str(self.management_tokens_issued),
            "iss": self.issuer,
            "sub": f"{client['client_id']}@clients",
            "aud": audience,
            "iat": moment,
            "exp": moment + self.management_token_ttl,
            "scope": " ".join(scopes),
            "gty": "client-credentials",
            "azp": client["client_id"],
        }
        return {"access_token": self.key.sign(claims), "scope": claims["scope"],
                "expires_in": self.management_token_ttl, "token_type": "Bearer"}

    def _password(self, client: dict[str, Any], params: dict[str, Any], grant_type: str) -> dict[str, Any]:
        for name in ("username", "password"):
            if name not in params:
                raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")
        if grant_type == PASSWORD:
            realm = self.tenant.settings.get("default_directory")
            connection = self.tenant.connection_by_name(realm) if realm else None
            if connection is None:
                raise OAuthError(500, "server_error", "Authorization server not configured with default connection.")
        else:
            if "realm" not in params:
                raise OAuthError(400, "invalid_request", "Missing required parameter: realm")
            connection = self.tenant.connection_by_name(params["realm"])
            if connection is None:
                raise OAuthError(400, "invalid_request", "Connection does not exist")
        if client["client_id"] not in connection["enabled_clients"]:
            # Auth0 documents this wording for a connection that is off for the application.
            raise OAuthError(400, "invalid_request", "the connection was disabled")
        if connection["strategy"] != DATABASE_STRATEGY:
            raise OAuthError(400, "invalid_request", "specified strategy does not support requested operation")
        user = self.tenant.find_user(connection["name"], params["username"])
        if user is None or not user.check_password(params["password"]):
            raise OAuthError(403, "invalid_grant", "Wrong email or password.")
        if user.profile.get("blocked"):
            raise OAuthError(401, "unauthorized", "user is blocked")
        self._check_audience(params)
        scopes = [s for s in params.get("scope", "").split() if s in OIDC_SCOPES]
        self.tenant.record_login(user)
        answer = self._user_tokens(client, user, scopes, params.get("audience"))
        if "offline_access" in scopes and REFRESH_TOKEN in client.get("grant_types", []):
            token = secrets.token_urlsafe(48)
            self.tenant.refresh_tokens[token] = {"client_id": client["client_id"], "user_id": user.profile["user_id"],
                                                 "scopes": scopes, "audience": params.get("audience")}
            answer["refresh_token"] = token
        return answer

    def _interactive_tokens(self, client: dict[str, Any], user: StoredUser, scopes: list[str], nonce: str) -> dict[str, Any]:
        scopes = [s for s in scopes if s in OIDC_SCOPES]
        answer = self._user_tokens(client, user, scopes, None, nonce)
        if "offline_access" in scopes and REFRESH_TOKEN in client.get("grant_types", []):
            token = secrets.token_urlsafe(48)
            self.tenant.refresh_tokens[token] = {"client_id": client["client_id"], "user_id": user.profile["user_id"],
                                                 "scopes": scopes, "audience": None}
            answer["refresh_token"] = token
        return answer

    def _refresh(self, client: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("refresh_token")
        if not token:
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        grant = self.tenant.refresh_tokens.get(token)
        if grant is None or grant["client_id"] != client["client_id"] or grant["user_id"] not in self.tenant.users:
            raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
        user = self.tenant.users[grant["user_id"]]
        if user.profile.get("blocked"):
            raise OAuthError(401, "unauthorized", "user is blocked")
        scopes = grant["scopes"]
        if params.get("scope"):
            asked = params["scope"].split()
            if any(s not in scopes for s in asked):
                raise OAuthError(403, "access_denied", "Scope is not allowed by the refresh token")
            scopes = asked
        return self._user_tokens(client, user, scopes, grant["audience"])

    def _check_audience(self, params: dict[str, Any]) -> None:
        audience = params.get("audience")
        if audience and not any(r["identifier"] == audience for r in self.tenant.resource_servers.values()):
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")

    def _user_tokens(self, client: dict[str, Any], user: StoredUser, scopes: list[str], audience: str | None,
                     nonce: str = "") -> dict[str, Any]:
        moment = int(self.tenant.clock())
        profile = user.profile
        access_claims = {
            "iss": self.issuer,
            "sub": profile["user_id"],
            "aud": [audience, f"{self.issuer}userinfo"] if audience else f"{self.issuer}userinfo",
            "iat": moment,
            "exp": moment + ACCESS_TOKEN_LIFETIME,
            "scope": " ".join(scopes),
            "azp": client["client_id"],
        }
        access_token = self.key.sign(access_claims)
        self.access_tokens[access_token] = profile["user_id"]
        answer: dict[str, Any] = {"access_token": access_token}
        if "openid" in scopes:
            answer["id_token"] = self.id_token(client, profile, scopes, moment, nonce)
        answer.update({"scope": " ".join(scopes), "expires_in": ACCESS_TOKEN_LIFETIME, "token_type": "Bearer"})
        return answer

    def id_token(self, client: dict[str, Any], profile: dict[str, Any], scopes: list[str], moment: int,
                 nonce: str = "") -> str:
        claims: dict[str, Any] = {}
        if nonce:  # the /authorize request's nonce ("The nonce value is included in the ID Token")
            claims["nonce"] = nonce
        if "profile" in scopes:
            for key in ("given_name", "family_name", "nickname", "name", "picture", "updated_at"):
                if key in profile:
                    claims[key] = profile[key]
        if "email" in scopes:
            claims["email"] = profile.get("email")
            claims["email_verified"] = bool(profile.get("email_verified", False))
        if self.extra_claims is not None:
            claims.update(self.extra_claims(profile, client))
        jwt_configuration = client.get("jwt_configuration") or {}
        claims.update({
            "iss": self.issuer,
            "aud": client["client_id"],
            "sub": profile["user_id"],
            "iat": moment,
            "exp": moment + int(jwt_configuration.get("lifetime_in_seconds", 36000)),
        })
        if jwt_configuration.get("alg") in ("RS256", "PS256"):
            return self.key.sign(claims, jwt_configuration["alg"])
        return sign_hs256(claims, client["client_secret"])

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        token = (authorization or "")[7:] if (authorization or "").lower().startswith("bearer ") else ""
        user_id = self.access_tokens.get(token)
        user = self.tenant.users.get(user_id) if user_id else None
        if user is None:
            raise OAuthError(401, "invalid_token", "Unauthorized")
        profile = user.profile
        info = {"sub": profile["user_id"]}
        for key in ("given_name", "family_name", "nickname", "name", "picture", "updated_at", "email", "email_verified"):
            if key in profile:
                info[key] = profile[key]
        return info

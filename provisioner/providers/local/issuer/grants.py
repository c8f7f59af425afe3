"""The token endpoint's OAuth 2 work: the lab's client, the password and refresh_token grants.

Authlib does the protocol (grant selection, client authentication, error bodies); this module
supplies what it leaves to an application: where the client and users are (`Directory`), where
refresh tokens live (`RefreshTokens`), what a token response holds (an RS256 id_token with the
claims the kube-apiserver reads), and the brute-force rule in front of password checks (`guard`).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant, ResourceOwnerPasswordCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list

from .directory import Directory
from .discovery import CLIENT_AUTH_METHODS, DEFAULT_SCOPE, GRANT_TYPES, SCOPES, id_token_claims
from .files import IssuerFiles, UserRecord
from .guard import SignInGuard, TooManyFailures
from .hashing import VerifiedSecrets
from .keys import SigningKey
from .refresh_tokens import RefreshRecord, RefreshTokens


class Client(ClientMixin):
    """The lab's one confidential client: password and refresh_token grants, secret by basic or post."""

    def __init__(self, client_id: str, secret_hash: str, verifier: VerifiedSecrets, public: bool = False) -> None:
        self.client_id = client_id
        self.secret_hash = secret_hash
        self.verifier = verifier
        self.public = public

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or DEFAULT_SCOPE

    def check_client_secret(self, client_secret: str) -> bool:
        return self.verifier.verify(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in CLIENT_AUTH_METHODS or (self.public and method == "none")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def get_default_redirect_uri(self) -> None:
        return None


class PasswordGrant(ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS + ["none"]  # `none` only for a room's public client

    def authenticate_user(self, username: str, password: str) -> UserRecord:
        authority: Authority = self.server
        address = self.request.client_address
        try:
            authority.guard.admit(username, address)
        except TooManyFailures as held_back:
            raise InvalidGrantError(str(held_back)) from None
        user = authority.directory.user_by_login(username)
        # An unknown login is checked against a decoy hash: as slow as a real user's wrong password.
        password_hash = user.password_hash if user else authority.directory.decoy_password_hash
        if not authority.verifier.verify(password, password_hash) or user is None:
            authority.guard.failed(username, address)
            # One answer for an unknown login and a wrong password: nothing to probe logins with.
            raise InvalidGrantError("Wrong username or password.")
        authority.guard.succeeded(username, address)
        return user


class RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS + ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: each refresh token works once

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshRecord | None:
        return self.server.tokens.find(refresh_token)

    def authenticate_user(self, refresh_token: RefreshRecord) -> UserRecord:
        user = self.server.directory.user_by_sub(refresh_token.sub)
        if user is None:
            raise InvalidGrantError("The user of this refresh token no longer exists.")
        return user

    def revoke_old_credential(self, refresh_token: RefreshRecord) -> None:
        self.server.tokens.revoke(refresh_token)


class FormRequest(OAuth2Request):
    """A token request as Authlib reads it, built from an already-parsed form body."""

    def __init__(self, uri: str, headers: Any, form: dict[str, str], client_address: str) -> None:
        super().__init__("POST", uri, headers=headers)
        self._form = form
        self.payload = BasicOAuth2Payload(form)
        self.client_address = client_address  # what the brute-force rule counts per address

    @property
    def form(self) -> dict[str, str]:
        return self._form

    @property
    def args(self) -> dict[str, str]:
        return {}


class Authority(AuthorizationServer):
    """Authlib's authorization server, bound to the issuer folder and the signing key."""

    def __init__(self, files: IssuerFiles) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.directory = Directory(files)
        self.tokens = RefreshTokens(files.refresh_tokens)
        self.signer = SigningKey.load(files)
        self.verifier = VerifiedSecrets()
        self.guard = SignInGuard()
        self.register_grant(PasswordGrant)
        self.register_grant(RefreshGrant)
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> Client | None:
        record = self.directory.settings.client
        if client_id != record.client_id:
            return None
        return Client(record.client_id, record.secret_hash, self.verifier, public=record.public)

    def validate_requested_scope(self, scope: str | None) -> None:
        super().validate_requested_scope(scope)
        if scope and "openid" not in scope_to_list(scope):
            raise InvalidScopeError("This issuer only issues id_tokens: include 'openid' in the scope.")

    def _generate_token(self, grant_type: str, client: Client, user: UserRecord | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        assert user is not None
        settings = self.directory.settings
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "id_token": self.signer.sign(id_token_claims(settings, user, int(time.time()))),
            "expires_in": settings.id_token_ttl_seconds,
            "scope": client.get_allowed_scope(scope),
        }
        if include_refresh_token:
            token["refresh_token"] = secrets.token_urlsafe(48)
        return token

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        if "refresh_token" in token:
            self.tokens.add(token["refresh_token"], request.user.sub, request.client.get_client_id(),
                            token["scope"], self.directory.settings.refresh_token_ttl_seconds)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]):
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """Authlib's hook for framework signals; the issuer has no listeners."""

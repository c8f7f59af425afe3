"""The issuer's OAuth 2 work: the lab's client, its grants, and the one password check they share.

Authlib does the protocol (grant selection, client authentication, error bodies); this module
supplies what it leaves to an application: where the client and users are (`Directory`), where
refresh tokens live (`RefreshTokens`), what a token response holds (an RS256 id_token with the
claims the kube-apiserver reads), and the brute-force rule in front of every password check
(`guard`), whether it comes through the password grant or a sign-in page. The grants a person
completes in a browser (authorization code, device code) are in `interactive`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant, ResourceOwnerPasswordCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6749.util import scope_to_list

from .directory import Directory
from .discovery import CLIENT_AUTH_METHODS, DEFAULT_SCOPE, GRANT_TYPES, SCOPES, id_token_claims
from .files import IssuerFiles, UserRecord
from .guard import SignInGuard, TooManyFailures
from .hashing import VerifiedSecrets
from .interactive import CodeGrant, DeviceEndpoint, DeviceGrant, PendingCodes, S256Challenge
from .keys import SigningKey
from .refresh_tokens import RefreshRecord, RefreshTokens


class Client(ClientMixin):
    """The lab's one client: its secret by basic or post; without it (a public client such as
    kubelogin) only for the grants that allow "none", and always with PKCE."""

    def __init__(self, client_id: str, secret_hash: str, verifier: VerifiedSecrets,
                 redirect_uris: tuple[str, ...] = (), public: bool = False) -> None:
        self.client_id = client_id
        self.secret_hash = secret_hash
        self.verifier = verifier
        self.redirect_uris = redirect_uris
        self.public = public  # a room's client: its attendees' laptops never hold the secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str | None) -> str:
        return scope or DEFAULT_SCOPE

    def check_client_secret(self, client_secret: str) -> bool:
        return self.verifier.verify(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Each grant lists the methods it takes; only the code and device grants list "none".
        return method in CLIENT_AUTH_METHODS or method == "none"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris  # exact match (OAuth 2.1): no prefixes, no wildcards

    def get_default_redirect_uri(self) -> None:
        return None


class PasswordGrant(ResourceOwnerPasswordCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS + ["none"]  # `none` only for a room's public client

    def authenticate_token_endpoint_client(self) -> Client:
        client = super().authenticate_token_endpoint_client()
        if self.request.auth_method == "none" and not client.public:
            # Outside a room the password grant is the lab's own, confidential client's.
            raise InvalidClientError(description="The password grant needs the client's secret.")
        return client

    def authenticate_user(self, username: str, password: str) -> UserRecord:
        try:
            return self.server.sign_in(username, password, self.request.client_address)
        except SignInRefused as refused:
            raise InvalidGrantError(str(refused)) from None


class RefreshGrant(RefreshTokenGrant):
    # A public client (kubelogin) refreshes without a secret; rotation keeps a stolen token to one use.
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


class SignInRefused(Exception):
    """A password check failed or was held back; the message is safe to show to anyone."""


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
        self.pending = PendingCodes()
        self.register_grant(PasswordGrant)
        self.register_grant(RefreshGrant)
        self.register_grant(CodeGrant, [S256Challenge(required=True)])
        self.register_grant(DeviceGrant)
        self.register_endpoint(DeviceEndpoint)
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> Client | None:
        record = self.directory.settings.client
        if client_id != record.client_id:
            return None
        return Client(record.client_id, record.secret_hash, self.verifier, record.redirect_uris,
                      public=record.public)

    def sign_in(self, login: str, password: str, address: str) -> UserRecord:
        """The user whose login and password these are; raises SignInRefused, never saying which was wrong."""
        try:
            self.guard.admit(login, address)
        except TooManyFailures as held_back:
            raise SignInRefused(str(held_back)) from None
        user = self.directory.user_by_login(login)
        # An unknown login is checked against a decoy hash: as slow as a real user's wrong password.
        password_hash = user.password_hash if user else self.directory.decoy_password_hash
        if not self.verifier.verify(password, password_hash) or user is None:
            self.guard.failed(login, address)
            # One answer for an unknown login and a wrong password: nothing to probe logins with.
            raise SignInRefused("Wrong username or password.")
        self.guard.succeeded(login, address)
        return user

    def validate_requested_scope(self, scope: str | None) -> None:
        super().validate_requested_scope(scope)
        if scope and "openid" not in scope_to_list(scope):
            raise InvalidScopeError("This issuer only issues id_tokens: include 'openid' in the scope.")

    def _generate_token(self, grant_type: str, client: Client, user: UserRecord | None = None,
                        scope: str | None = None, expires_in: int | None = None,
                        include_refresh_token: bool = True) -> dict[str, Any]:
        return self.issue(client, user, scope, include_refresh_token)

    def issue(self, client: Client, user: UserRecord | None, scope: str | None, include_refresh_token: bool,
              nonce: str | None = None) -> dict[str, Any]:
        """A token response for `user`: its id_token carries `nonce` when the authorization request had one."""
        assert user is not None
        settings = self.directory.settings
        token = {
            "token_type": "Bearer",
            "access_token": secrets.token_urlsafe(32),
            "id_token": self.signer.sign(id_token_claims(settings, user, int(time.time()), nonce)),
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

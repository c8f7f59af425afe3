"""Get a token for kubectl: the cache first, then the refresh grant, then the user's password.

Written against three small parts that tests replace: the token cache, the IdP client (made only
on a miss, because making it reads the lab's secrets and imports the HTTP stack), and the clock.
"""

from __future__ import annotations

import time

from ..errors import CredentialError
from .cache import Tokens

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    from .cache import TokenCache

    class IdpClient(Protocol):
        def sign_in(self) -> dict[str, Any]: ...  # the password grant
        def refresh(self, refresh_token: str) -> dict[str, Any]: ...  # raises GrantRefused


class GrantRefused(Exception):
    """The IdP answered a grant with an OAuth error (RFC 6749 section 5.2), e.g. invalid_grant."""

    def __init__(self, error: str, description: str | None = None, status: int = 400) -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description
        self.status = status


class LoginRefused(CredentialError):
    """The IdP refused a user's password grant. Keeps the OAuth error, so `lab up` and `lab doctor`
    can have the provider explain it in terms of its own settings."""

    def __init__(self, user: str, error: str, description: str | None) -> None:
        said = f"{error}: {description}" if description else error
        super().__init__(
            f"the identity provider refused the password of user {user!r} ({said})",
            "run `lab up` again to reset the lab's users, and check the IdP's connection and grant settings",
        )
        self.user = user
        self.error = error
        self.description = description


# A token reused this close to its expiry could expire between kubectl's request and the
# apiserver's check, which has no leeway; kubectl would then see a 401 for that command.
EXPIRY_MARGIN_SECONDS = 60


def get_token(
    cache: TokenCache,
    connect: Callable[[], IdpClient],
    user: str,
    now: Callable[[], float] = time.time,
    use_cache: bool = True,
) -> Tokens:
    """Tokens whose id_token kubectl can send now, fetched at most once across parallel runs."""
    if use_cache:
        cached = cache.load()
        if cached is not None and cached.valid_for_more_than(EXPIRY_MARGIN_SECONDS, now()):
            return cached
    client = connect()  # before the lock: a lab or user that does not exist leaves no trace
    with cache.lock():
        cached = cache.load() if use_cache else None
        if cached is not None and cached.valid_for_more_than(EXPIRY_MARGIN_SECONDS, now()):
            return cached  # another kubectl fetched it while this one waited for the lock
        tokens = _fetch(client, cached, user, now)
        cache.save(tokens)
        return tokens


def fresh_tokens(client: IdpClient, user: str, now: Callable[[], float] = time.time) -> Tokens:
    """A new sign-in's tokens, checked as `get_token` checks them and not cached: `lab up` signs
    users in before their cache may be written (steps/sign_ins.py)."""
    return _fetch(client, None, user, now)


def _fetch(client: IdpClient, cached: Tokens | None, user: str, now: Callable[[], float]) -> Tokens:
    if cached is not None and cached.refresh_token:
        try:
            return _accept(client.refresh(cached.refresh_token), cached.refresh_token, now)
        except GrantRefused:
            pass  # expired, revoked or rotated away (invalid_grant): the password still works
    try:
        answer = client.sign_in()
    except GrantRefused as refused:
        raise LoginRefused(user, refused.error, refused.description) from None
    return _accept(answer, None, now)


def _accept(answer: dict[str, Any], previous_refresh_token: str | None, now: Callable[[], float]) -> Tokens:
    from ..oidc.jwt import MalformedToken, expiry_of  # a cache hit reads the expiry from the cache

    id_token = answer.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise CredentialError(
            "the identity provider answered without an id_token",
            "check that the token client's scope includes openid (credentials.json, client.scope)",
        )
    try:
        expiry = expiry_of(id_token)
    except MalformedToken as problem:
        raise CredentialError(
            f"the identity provider's id_token is not a readable JWT ({problem})",
            "check that the token endpoint in credentials.json belongs to an OpenID Connect provider",
        ) from None
    late = now() - expiry
    if late >= 0:
        raise CredentialError(
            f"the identity provider issued an id_token that was already expired on arrival (exp {late:.0f} s ago)",
            "check this machine's clock and the IdP's token lifetime (Casdoor: the application's expireInHours must be above 0)",
        )
    refresh_token = answer.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        refresh_token = previous_refresh_token  # Auth0 rotates refresh tokens only when asked to
    return Tokens(id_token, expiry, refresh_token)

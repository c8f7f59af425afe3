"""The verify step's sign-ins, begun as soon as the users exist, while the cluster restarts.

A sign-in needs the IdP and the user's password, not the cluster: so after the provider step the
users without a valid cached token are signed in in the background (paced like every sign-in of
the lab), while the cluster, RBAC and kubeconfig steps run. The tokens are held in memory and
written to the token cache only when verify runs: the kubeconfig step rewrites the lab's
credentials file, and a cache written before that file is void (credential/plugin.py). Verify
then reviews exactly these tokens, which are the ones kubectl will send first. On a hosted IdP
that paces sign-ins (Auth0's free tenant: 30 a second), the restart is hidden behind the wait.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import LabError
from .context import LabContext

if TYPE_CHECKING:
    from ..config import UserSpec
    from ..credential.cache import Tokens

SIGN_INS_AT_ONCE = 8  # as many at once as verify asks the cluster about


def begin(ctx: LabContext, pace) -> dict[str, Future]:
    """Start signing in every user whose cached token would not do; {handle: future of Tokens}."""
    from ..credential import has_usable_token

    try:
        waiting = [user for user in ctx.lab.users
                   if not has_usable_token(ctx.lab.name, user.handle, ctx.paths, _password_grant(ctx, user))]
        settings = ctx.provider.token_client(ctx.state, ctx.secrets) if waiting else None
    except LabError:  # not ready for it after all: verify signs them in itself, and says why
        return {}
    if settings is None:
        return {}
    if settings.client_secret is None and ctx.secrets.client_secret:
        settings = replace(settings, client_secret=ctx.secrets.client_secret)
    logins = {user.handle: (ctx.provider.login_name(user), ctx.secrets.password(user.handle)) for user in waiting}
    pool = ThreadPoolExecutor(max_workers=min(SIGN_INS_AT_ONCE, len(waiting)), thread_name_prefix="sign-in")
    ctx.background.append(pool)  # cancelled with the context if `lab up` stops before verify
    return {handle: pool.submit(_sign_in, settings, handle, login, password, pace)
            for handle, (login, password) in logins.items()}


def _sign_in(settings, handle: str, login: str, password: str, pace) -> Tokens:
    from ..credential.client import HttpTokenClient
    from ..credential.flow import fresh_tokens

    pace.wait()
    return fresh_tokens(HttpTokenClient(settings, login, password, flow="password"), handle)


def kept(ctx: LabContext, user: UserSpec, early: Future) -> str:
    """The id_token of an early sign-in, now written to the user's cache (the credentials file is
    final by now); raises what the sign-in raised."""
    from ..credential import token_cache

    tokens = early.result()
    cache = token_cache(ctx.lab.name, user.handle, ctx.paths, _password_grant(ctx, user))
    with cache.lock():
        cache.save(tokens)
    return tokens.id_token


def _password_grant(ctx: LabContext, user: UserSpec) -> bool:
    # verify signs everyone in with the password grant; other flows' tokens are cached apart
    return ctx.lab.flow_for(user) != "password"

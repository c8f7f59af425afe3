"""Step 5: ask the cluster who each user is, with the very token kubectl would send.

One SelfSubjectReview per user (what `kubectl auth whoami` posts). A refusal the token rules
predict (an unverified e-mail, say) is expected and explained; any other refusal fails `lab up`.
Right after a restart the apiserver's OIDC authenticator needs its discovery retry (10 s) before
it accepts anyone, so a token the rules accept is given some patience.

Users are asked about a few at a time: each answer waits mostly on the IdP's password grant and
the apiserver, so a room of 500 would otherwise take minutes. The bound keeps the IdP's token
endpoint (and a hosted IdP's rate limit) from seeing a burst of the whole room at once.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import UserSpec
from ..errors import ClusterError
from ..https import trust
from ..oidc.rules import refusal_reasons
from . import sign_ins
from .base import Change, Step
from .context import LabContext

VERIFY_PATIENCE_SECONDS = 45  # the apiserver's OIDC authenticator retries discovery every 10 s
SIGN_INS_AT_ONCE = 8  # users signed in and reviewed concurrently


@dataclass
class Verdict:
    """What the cluster made of one user's token."""

    context: str
    user: str
    accepted: bool
    expected: bool  # the token rules predicted the refusal
    username: str | None = None
    groups: list[str] = field(default_factory=list)
    reason: str | None = None


def token_for(ctx: LabContext, user: UserSpec) -> str:
    """The id_token kubectl would send for `user`; a refused login is explained by the provider."""
    from ..credential import fetch_token

    # A user who signs in by browser or device code is checked with the password grant (nobody
    # is at a browser during `lab up`), cached apart so their first kubectl shows them the flow.
    return _explained(ctx, user, lambda: fetch_token(ctx.lab.name, user.handle, paths=ctx.paths,
                                                     password_grant=ctx.lab.flow_for(user) != "password"))


def _explained(ctx: LabContext, user: UserSpec, sign_in: Callable[[], str]) -> str:
    """`sign_in()`, with a refused login explained by the provider."""
    from ..credential.flow import LoginRefused

    try:
        return sign_in()
    except LoginRefused as refused:
        explained = ctx.provider.explain_login_refusal(refused.error, refused.description,
                                                       ctx.provider.login_name(user))
        raise (explained or refused) from None


def apiserver_http(ctx: LabContext):
    """An HTTP client for the apiserver: its URL and CA come from the profile's kubeconfig entry
    (a file or inline `certificate-authority-data`: the kubernetes client resolves both). One for
    many reviews: a TLS context and connection each would cost more than the review itself."""
    import httpx

    configuration = ctx.api_client.configuration
    verify = trust(configuration.ssl_ca_cert, configuration.verify_ssl)
    return httpx.Client(verify=verify, trust_env=False, timeout=10,
                        limits=httpx.Limits(max_connections=SIGN_INS_AT_ONCE))


def who_is(ctx: LabContext, token: str, patient: bool = False, http=None) -> dict[str, Any] | None:
    """Who the cluster says the bearer of `token` is (None if it refuses the token).

    `http` is an `apiserver_http` client to reuse; without one, this call makes its own.
    """
    if http is None:
        with apiserver_http(ctx) as own:
            return who_is(ctx, token, patient, own)
    import httpx

    server = ctx.api_client.configuration.host
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    url = server.rstrip("/") + "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    deadline = time.monotonic() + (VERIFY_PATIENCE_SECONDS if patient else 0)
    while True:
        try:
            reply = http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise ClusterError(f"cannot reach the apiserver at {server} ({type(exc).__name__})",
                               f"check `minikube status -p {ctx.lab.cluster.profile}`") from None
        if reply.status_code in (200, 201):
            return reply.json().get("status", {}).get("userInfo", {})
        if reply.status_code != 401 or time.monotonic() >= deadline:
            if reply.status_code not in (401, 403):
                raise ClusterError(f"the apiserver answered {reply.status_code} to a SelfSubjectReview",
                                   "see `minikube logs` for the apiserver's reason")
            return None
        # The OIDC authenticator starts only after discovery succeeds; give it its retry period.
        ctx.ui.update("waiting for the apiserver's OIDC authenticator to initialise")
        time.sleep(1)


class SignInPace:
    """Holds each sign-in until every one of the IdP's token-request buckets has a request to spare.

    Buckets start one request short of full and refill a little slower than the IdP's, so the
    management token `lab up` fetched earlier, or a clock a hair apart, costs no 429.
    """

    def __init__(self, limits: tuple[tuple[float, int], ...], clock=time.monotonic, sleep=time.sleep) -> None:
        self._buckets = [[rate * 0.98, max(1, burst - 1), float(max(1, burst - 1))] for rate, burst in limits]
        self._clock, self._sleep = clock, sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self._buckets:
            return
        with self._lock:  # one waiter at a time: the others queue behind it in order
            while True:
                now = self._clock()
                for bucket in self._buckets:
                    rate, burst, _ = bucket
                    bucket[2] = min(float(burst), bucket[2] + (now - self._stamp) * rate)
                self._stamp = now
                short = max((1.0 - tokens) / rate for rate, _, tokens in self._buckets)
                if short <= 1e-6:  # float dust is not a wait (nor an endless loop of tiny sleeps)
                    for bucket in self._buckets:
                        bucket[2] -= 1.0
                    return
                self._sleep(short)


class VerifyStep(Step):
    name = "verify"
    head_start_after = "provider"  # sign-ins need the users, not the cluster (steps/sign_ins.py)

    def title(self, ctx: LabContext) -> str:
        return "Verify"

    def plan(self, ctx: LabContext) -> list[Change]:
        return []

    def head_start(self, ctx: LabContext) -> None:
        # one pace for every sign-in of the run, begun early or not: they share the IdP's buckets
        pace = SignInPace(ctx.provider.token_request_limits)
        ctx.head_starts[self.name] = (pace, sign_ins.begin(ctx, pace))

    def ensure(self, ctx: LabContext) -> str:
        assert ctx.settings is not None, "the provider step runs first"
        users = ctx.lab.users
        pace, _ = ctx.head_starts.get(self.name) or (SignInPace(ctx.provider.token_request_limits), {})
        with apiserver_http(ctx) as http:
            if len(users) <= 1:
                ctx.verdicts = [self._verdict(ctx, user, pace, http) for user in users]
            else:
                with ThreadPoolExecutor(max_workers=min(SIGN_INS_AT_ONCE, len(users)),
                                        thread_name_prefix="verify") as pool:
                    ctx.verdicts = list(pool.map(lambda user: self._verdict(ctx, user, pace, http), users))
        accepted = sum(1 for v in ctx.verdicts if v.accepted)
        return f"{accepted} of {len(ctx.verdicts)} user(s) accepted by the cluster"

    def _verdict(self, ctx: LabContext, user: UserSpec, pace: SignInPace, http) -> Verdict:
        context = ctx.context_name(user.handle)
        ctx.ui.update(f"asking the cluster who {context} is")
        early = (ctx.head_starts.get(self.name) or (None, {}))[1].get(user.handle)
        if early is not None:
            token = _explained(ctx, user, lambda: sign_ins.kept(ctx, user, early))
        else:
            pace.wait()  # a cached token spends a request it does not make: only ever early, never late
            token = token_for(ctx, user)
        reasons = refusal_reasons(token, ctx.settings)
        answer = who_is(ctx, token, patient=not reasons, http=http)
        if answer is not None:
            return Verdict(context, user.handle, True, bool(reasons), answer.get("username"), answer.get("groups", []))
        reason = "; ".join(reasons) if reasons else "401 Unauthorized (see `minikube logs` for the apiserver's reason)"
        return Verdict(context, user.handle, False, bool(reasons), reason=reason)

    def report(self, ctx: LabContext) -> None:
        for verdict in ctx.verdicts:
            if verdict.accepted:
                ctx.ui.info(f"{verdict.context}: the cluster sees {verdict.username} (groups: {', '.join(verdict.groups)})")
            else:
                ctx.ui.warn(f"{verdict.context}: refused by the cluster: {verdict.reason}")
        unexpected = [v for v in ctx.verdicts if not v.accepted and not v.expected]
        if unexpected:
            raise ClusterError(f"the cluster refused the token of {unexpected[0].context}: {unexpected[0].reason}",
                               "run `lab doctor` for the details; `minikube logs` shows the apiserver's reason")

    def has_teardown(self, ctx: LabContext) -> bool:
        return False  # it asks, it makes nothing

    def teardown(self, ctx: LabContext) -> str:
        return "nothing to undo"

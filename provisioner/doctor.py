"""`lab doctor`: check, link by link, the chain the kube-apiserver walks to trust a token.

For a learner, "Unauthorized" says nothing. The doctor walks the same chain as the apiserver
(DESIGN.md section 6) from this machine: the cluster and its flags, the issuer URL, discovery and
the `issuer` it states, the JWKS, then each user's token (signature, iss, aud, exp, email_verified)
and finally the cluster's own answer, and says which link is broken and how to mend it.
What the steps know (the issuer, the settings, the cluster's facts, each user's token and the
cluster's answer) it asks them through the lab's context; the links between are its own checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import LabError
from .https import trust
from .kuberc import plugin_policy_problem
from .oidc.rules import decode_unverified, discovery_problem, refusal_reasons
from .steps import LabContext
from .steps.cluster import ClusterStep
from .steps.kubeconfig import plugin_command
from .steps.verify import token_for, who_is


@dataclass
class Finding:
    ok: bool
    subject: str
    detail: str
    hint: str | None = None


class Doctor:
    def __init__(self, ctx: LabContext) -> None:
        self.ctx = ctx
        self.lab = ctx.lab
        self.findings: list[Finding] = []
        self.loopback: str | None = None

    def _say(self, ok: bool, subject: str, detail: str, hint: str | None = None) -> bool:
        self.findings.append(Finding(ok, subject, detail, hint))
        return ok

    def run(self) -> list[Finding]:
        settings = self.ctx.settings
        if settings is None:
            self._say(False, "lab", f"lab {self.lab.name!r} is not up", "run `lab up`")
            return self.findings
        client = self.ctx.secrets.client
        self._check_cluster()
        if not self._say(settings.issuer_url.startswith("https://"), "issuer URL",
                         f"{settings.issuer_url} {'is' if settings.issuer_url.startswith('https://') else 'is not'} https",
                         "kube-apiserver accepts only https issuers"):
            return self.findings
        ca_file = client.ca_file if client else None
        discovery = self._check_discovery(settings.issuer_url, client.token_endpoint if client else None, ca_file)
        keys = self._check_jwks(discovery, ca_file) if discovery else None
        for user in self.lab.users:
            self._check_user(user.handle, settings, keys)
        self._check_plugin_policy()
        return self.findings

    def _check_plugin_policy(self) -> None:
        """kubectl's kuberc may refuse to run the plugin before any token is asked for."""
        command = self._plugin_command()
        problem = plugin_policy_problem(command)
        if problem is None:
            self._say(True, "kubectl plugin policy", f"kubectl may run the lab's plugin {command}")
        else:
            self._say(False, "kubectl plugin policy", *problem)

    def _plugin_command(self) -> str:
        """The plugin command the lab's contexts run, as the kubeconfig holds it."""
        try:
            kubeconfig = self.ctx.open_kubeconfig()
        except LabError:
            kubeconfig = None
        for user in self.lab.users if kubeconfig else ():
            entry = kubeconfig.get("users", self.ctx.context_name(user.handle))
            command = (((entry or {}).get("user") or {}).get("exec") or {}).get("command")
            if command:
                return str(command)
        return plugin_command()[0]

    # links ---------------------------------------------------------------------------------------
    def _check_cluster(self) -> None:
        facts = ClusterStep().status(self.ctx)["cluster"]
        if "error" in facts:
            self._say(False, "cluster", facts["error"], f"check `minikube status -p {self.lab.cluster.profile}`")
            return
        self._say(facts.get("running", False), "cluster",
                  f"minikube profile {self.lab.cluster.profile!r} is {'running' if facts.get('running') else 'not running'}",
                  f"start it with `minikube start -p {self.lab.cluster.profile}`")
        self._say(facts.get("oidc_flags_in_place", False), "apiserver flags",
                  ", ".join(facts.get("apiserver_options", [])) or "no OIDC flags",
                  "run `lab up` to put the lab's flags back (the profile was restarted with others)")
        if facts.get("authentication") == "config" and facts.get("running") and self.ctx.settings is not None:
            from .cluster.authcheck import check_structured  # the structured file, entry by entry (issue 11)

            for check in check_structured(self.ctx.cluster.structured, self.ctx.settings):
                self._say(*check)

    def _get(self, url: str, ca_file: str | None) -> Any:
        import httpx

        reply = httpx.get(url, verify=trust(ca_file), timeout=10)
        reply.raise_for_status()
        return reply.json()

    def _candidates(self, url: str) -> list[str]:
        """`url`, and the same on the address this machine reaches the issuer by, if that differs.

        The built-in issuer is named for the node (host.minikube.internal) and reached from the
        host on loopback; its documents name the node's address.
        """
        candidates = [url]
        if self.loopback and urlsplit(url).netloc != self.loopback:
            candidates.append(urlsplit(url)._replace(netloc=self.loopback).geturl())
        return candidates

    def _fetch(self, url: str, ca_file: str | None) -> tuple[str, Any]:
        import httpx

        problem = ""
        for candidate in self._candidates(url):
            try:
                return candidate, self._get(candidate, ca_file)
            except (httpx.HTTPError, ValueError) as exc:
                problem = f"{candidate}: {type(exc).__name__}"
        raise LookupError(problem)

    def _check_discovery(self, issuer: str, token_endpoint: str | None, ca_file: str | None) -> dict[str, Any] | None:
        self.loopback = urlsplit(token_endpoint).netloc if token_endpoint else None
        try:
            url, document = self._fetch(issuer.rstrip("/") + "/.well-known/openid-configuration", ca_file)
        except LookupError as problem:
            self._say(False, "discovery", f"cannot read the discovery document ({problem})",
                      "check that the issuer is running (`lab status`) and reachable")
            return None
        problem = discovery_problem(document, self.ctx.settings)
        if problem:
            self._say(False, "discovery", f"{url}: {problem}",
                      "the apiserver requires the stated issuer to match its issuer URL character for character "
                      "(trailing slash included) and a jwks_uri: fix the issuer or the lab's settings, then `lab up`")
            return None
        self._say(True, "discovery", f"{url} answers and states the same issuer")
        return document

    def _check_jwks(self, discovery: dict[str, Any], ca_file: str | None) -> Any:
        from joserfc.jwk import KeySet

        try:
            url, document = self._fetch(discovery.get("jwks_uri", ""), ca_file)
            keys = KeySet.import_key_set(document)
        except (LookupError, ValueError, KeyError, TypeError) as problem:
            self._say(False, "jwks", f"cannot read usable keys from {discovery.get('jwks_uri')} ({problem})",
                      "check the issuer's jwks_uri")
            return None
        kids = [key.get("kid") for key in document["keys"]]
        self._say(bool(kids) and all(kids), "jwks", f"{len(kids)} key(s) at {url}, kid {', '.join(str(k) for k in kids)}",
                  "every key needs a kid for the apiserver to pick it")
        return keys

    def _check_user(self, handle: str, settings, keys: Any) -> None:
        context = self.ctx.context_name(handle)
        try:
            token = token_for(self.ctx, self.lab.user(handle))
        except LabError as exc:
            self._say(False, context, f"no token: {exc.message}", exc.hint)
            return
        if keys is not None:
            from joserfc import jwt
            from joserfc.errors import JoseError

            try:
                jwt.decode(token, keys, algorithms=list(settings.signing_algs))
            except (JoseError, ValueError) as exc:
                header, _ = decode_unverified(token)
                self._say(False, context, f"the token's signature does not verify with the issuer's keys "
                                          f"(alg {header.get('alg')}, kid {header.get('kid')}: {exc})",
                          "an HS256 token means the IdP application was created without RS256 signing")
                return
        reasons = refusal_reasons(token, settings)
        if reasons:
            self._say(False, context, "; ".join(reasons), "fix the user or the lab's oidc settings, then `lab up`")
            return
        try:
            answer = who_is(self.ctx, token)
        except LabError as exc:
            self._say(False, context, f"the token looks right, but the cluster cannot be asked: {exc.message}", exc.hint)
            return
        if answer is None:
            self._say(False, context, "the token looks right, but the cluster answers 401",
                      f"see `minikube logs -p {self.lab.cluster.profile}` for the apiserver's reason")
            return
        from .steps.rbac import username_of  # the bindings' name for the user, after any CEL mapping

        bound = username_of(self.ctx, settings, self.lab.user(handle))
        self._say(answer.get("username") == bound, context,
                  f"the cluster sees {answer.get('username')} [{', '.join(answer.get('groups', []))}]"
                  + ("" if answer.get("username") == bound else f", but the bindings name {bound}"),
                  "run `lab up` so the bindings follow the apiserver's mapping")

"""The kube-apiserver's structured AuthenticationConfiguration, one file per minikube profile that
every lab on the profile shares, one `jwt` entry per lab (DESIGN.md section 8).

Pure half: `jwt_authenticator` turns a lab's OIDC settings into its entry, `check_settings` refuses
what the apiserver would refuse (its validation.go rules and CEL compilation) before anything is
written, `render` gives the file's bytes. Shared half: `AuthenticationFile` keeps, beside the file
minikube copies into the node, which lab owns which entry and the profile's options before the
first lab switched it, and serialises writers with a lock in the same folder of MINIKUBE_HOME, so
two labs writing at the same moment never lose an entry. The file itself carries nothing but the
API's fields: the apiserver decodes it strictly and refuses unknown ones.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from ..errors import ClusterError, ConfigError
from ..fsutil import write_private
from ..oidc.settings import OidcSettings
from .options import ExtraOption

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "AuthenticationConfiguration"
#: validation.go `ValidateAuthenticationConfiguration`: at most 64 JWT authenticators.
MAX_JWT = 64
#: The apiserver static pod mounts this folder; `$MINIKUBE_HOME/files/<it>` is copied in on start.
NODE_DIR = "/var/lib/minikube/certs"
LOCK_SECONDS = 900  # a writer may hold it through one restart of the profile


def node_path(profile: str) -> str:
    return f"{NODE_DIR}/oidc-lab-{profile}-authentication.yaml"


# the lab's entry (pure) ---------------------------------------------------------------------------
def _username_mapping(settings: OidcSettings) -> dict[str, Any]:
    if settings.username_expression:
        return {"expression": settings.username_expression}
    # The file has no defaults (types.go: "The claim and prefix must be set explicitly"); these
    # are the prefixes the --oidc-* flags would have applied, so usernames do not change with the mode.
    prefix = settings.username_prefix
    if prefix == "-" or (prefix is None and settings.username_claim == "email"):
        prefix = ""
    elif prefix is None:
        prefix = f"{settings.issuer_url}#"
    return {"claim": settings.username_claim, "prefix": prefix}


def jwt_authenticator(settings: OidcSettings) -> dict[str, Any]:
    """One `jwt` entry: the issuer (its CA inline), audiences, claim mappings and rules."""
    audiences = list(settings.all_audiences)
    issuer: dict[str, Any] = {"url": settings.issuer_url, "audiences": audiences}
    if len(audiences) > 1:
        issuer["audienceMatchPolicy"] = "MatchAny"  # validation.go: required for several audiences
    if settings.ca_pem:
        issuer["certificateAuthority"] = settings.ca_pem.decode()
    mappings: dict[str, Any] = {"username": _username_mapping(settings)}
    if settings.groups_expression:
        mappings["groups"] = {"expression": settings.groups_expression}
    elif settings.groups_claim:
        mappings["groups"] = {"claim": settings.groups_claim, "prefix": settings.groups_prefix or ""}
    entry: dict[str, Any] = {"issuer": issuer}
    rules = [{"claim": k, "requiredValue": v} for k, v in settings.required_claims]
    for claim, required, expression, message in settings.claim_validation_rules:
        rule = {"claim": claim, "requiredValue": required} if claim else {"expression": expression}
        if expression and message:
            rule["message"] = message
        rules.append({k: v for k, v in rule.items() if v is not None})
    if rules:
        entry["claimValidationRules"] = rules
    entry["claimMappings"] = mappings
    if settings.user_validation_rules:
        entry["userValidationRules"] = [{"expression": e, **({"message": m} if m else {})}
                                        for e, m in settings.user_validation_rules]
    return entry


def check_settings(settings: OidcSettings) -> None:
    """Refuse, with the lab.yaml key, what the apiserver would refuse when it reloads the file
    (and would then silently keep the previous configuration)."""
    from ..oidc.cel import USER_VARIABLE, compile_expression, uses_claim

    claims_expressions = []
    if settings.username_expression:
        compile_expression(settings.username_expression, "oidc.username_expression")
        claims_expressions.append(settings.username_expression)
    if settings.groups_expression:
        compile_expression(settings.groups_expression, "oidc.groups_expression")
    for index, (_, _, expression, _) in enumerate(settings.claim_validation_rules):
        if expression:
            compile_expression(expression, f"oidc.claim_validation_rules[{index}].expression")
            claims_expressions.append(expression)
    for index, (expression, _) in enumerate(settings.user_validation_rules):
        compile_expression(expression, f"oidc.user_validation_rules[{index}].expression", USER_VARIABLE)
    if settings.username_expression and uses_claim(settings.username_expression, "email") \
            and not any(uses_claim(e, "email_verified") for e in claims_expressions):
        # validation.go validateClaimMappings: the apiserver refuses the whole file otherwise.
        raise ConfigError("oidc.username_expression uses claims.email, so the apiserver requires claims.email_verified "
                          "in it or in a claim validation rule",
                          "add to oidc.claim_validation_rules: {expression: 'claims.email_verified == true', "
                          "message: 'email not verified'}")
    if len(set(settings.all_audiences)) != len(settings.all_audiences) or not all(settings.all_audiences):
        raise ConfigError("oidc.audiences repeats the client id or another audience, or has an empty one",
                          "list each extra audience once")


def render(entries: list[dict[str, Any]]) -> bytes:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # CA certificates as readable literal blocks, as one would write them by hand.
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    document = {"apiVersion": API_VERSION, "kind": KIND, "jwt": entries}
    header = "# Written by oidc-lab: one jwt entry per lab on this profile. `lab down` removes its own.\n"
    return (header + yaml.dump(document, Dumper=Dumper, sort_keys=False, default_flow_style=False)).encode()


def config_hash(text: bytes) -> str:
    """What the apiserver reports for the configuration it runs (metrics.go `getHash`)."""
    return "sha256:" + hashlib.sha256(text).hexdigest()


# the profile's shared file -------------------------------------------------------------------------
@dataclass
class Registry:
    """Who owns which entry, and the profile's options before the first lab switched it."""

    labs: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous_options: tuple[ExtraOption, ...] | None = None

    def entries(self) -> list[dict[str, Any]]:
        return [self.labs[name] for name in sorted(self.labs)]

    def text(self) -> bytes:
        return render(self.entries())

    def check(self) -> None:
        if len(self.labs) > MAX_JWT:
            raise ClusterError(f"the profile would have {len(self.labs)} issuers; kube-apiserver accepts at most {MAX_JWT}",
                               "run `lab down` for a lab you no longer need")
        seen: dict[str, str] = {}
        for name in sorted(self.labs):
            url = self.labs[name]["issuer"]["url"]
            if url in seen:  # validation.go: field.Duplicate(jwt[i].issuer.url)
                raise ClusterError(f"labs {seen[url]!r} and {name!r} use the same issuer {url} on one profile, "
                                   "which kube-apiserver refuses (one jwt entry per issuer)",
                                   "use another tenant or server for one of them, or another minikube profile")
            seen[url] = name


class AuthenticationFile:
    """The profile's AuthenticationConfiguration on the host, and its owners, under one lock."""

    def __init__(self, minikube_home: Path, profile: str) -> None:
        self.profile = profile
        self.node_path = node_path(profile)
        self.host_path = minikube_home / "files" / self.node_path.lstrip("/")
        folder = minikube_home / "oidc-lab"
        self.registry_path = folder / f"authentication-{profile}.json"
        self.lock_path = folder / f"authentication-{profile}.lock"

    def read(self) -> Registry:
        try:
            raw = json.loads(self.registry_path.read_text())
        except FileNotFoundError:
            return Registry()
        previous = raw.get("previous_options")
        return Registry(dict(raw.get("labs") or {}),
                        None if previous is None else tuple(ExtraOption.from_json(o) for o in previous))

    def host_text(self) -> bytes | None:
        try:
            return self.host_path.read_bytes()
        except FileNotFoundError:
            return None

    @contextmanager
    def locked(self, ui: Any = None) -> Iterator[None]:
        """Hold the profile's lock (another lab's `lab up` may be writing: wait for it)."""
        from filelock import FileLock, Timeout

        self.lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = FileLock(str(self.lock_path))
        try:
            lock.acquire(timeout=0.5)
        except Timeout:
            if ui is not None:
                ui.update(f"waiting for another lab writing the authentication configuration of {self.profile!r}")
            try:
                lock.acquire(timeout=LOCK_SECONDS)
            except Timeout:
                raise ClusterError(f"another lab held the authentication configuration of profile {self.profile!r} "
                                   f"for {LOCK_SECONDS} s", f"wait for it to finish, or remove {self.lock_path}") from None
        try:
            yield
        finally:
            lock.release()

    def save(self, registry: Registry) -> bytes | None:
        """Write the registry and the file minikube copies into the node (both removed when empty)."""
        if not registry.labs:
            self.host_path.unlink(missing_ok=True)
            self.registry_path.unlink(missing_ok=True)
            return None
        registry.check()
        text = registry.text()
        raw = {"labs": registry.labs,
               "previous_options": None if registry.previous_options is None
               else [o.to_json() for o in registry.previous_options]}
        write_private(self.registry_path, json.dumps(raw, indent=2))
        # No secret in it (issuer URLs, client ids, CA certificates); the node reads it as root.
        write_private(self.host_path, text, mode=0o644)
        return text

"""kube-apiserver's `--authentication-config` (structured authentication configuration), for the double.

Read from the node's mounted folders (the snapshot minikube copied at start, updated by `minikube
cp`), decoded strictly and validated with the real error texts, re-read every
`$FAKE_APISERVER_AUTHCONFIG_RELOAD_SECONDS` (the real one watches the file and polls once a
minute), the last valid configuration kept when a new one is invalid, tokens routed to the entry
whose issuer matches their `iss`, claim mappings and validation rules evaluated in CEL. CEL here is
cel-python (celpy), another implementation than the product's cel-rust bindings, so the two must
agree for a test to pass. Sources (kubernetes/kubernetes):
- pkg/kubeapiserver/options/authentication.go: `loadAuthenticationConfigFromData` ("empty config
  data", strict decoding), the reload loop (`klog "failed to validate authentication config"`,
  "reloaded authentication config", metrics on success and failure), the mutual exclusion with
  the --oidc-* flags;
- staging/src/k8s.io/apiserver/pkg/apis/apiserver/validation/validation.go: every `field.Error`
  below, in its order;
- staging/src/k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go: `AuthenticateToken`
  (issuer routing, MatchAny audiences, `getUsername`, `getGroups`, required claims, claim and user
  validation rules and their error texts);
- staging/src/k8s.io/apiserver/pkg/authentication/.../metrics.go: the config hash `sha256:<hex>`.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

from .apiserver_oidc import OidcAuthenticator, OidcOptions, Refused, Skipped, StartupError, _cannot_unmarshal
from .apiserver_rbac import UserInfo

RELOAD_ENV = "FAKE_APISERVER_AUTHCONFIG_RELOAD_SECONDS"
API_VERSIONS = ("apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1beta1", "apiserver.config.k8s.io/v1alpha1")
#: The structured authenticator accepts every asymmetric algorithm (oidc.go `allowedSigningAlgs`).
SIGNING_ALGS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512")
#: The fields of types.go (AuthenticationConfiguration, JWTAuthenticator and below), for strict decoding.
_FIELDS: dict[str, set[str]] = {
    "": {"apiVersion", "kind", "jwt", "anonymous"},
    "jwt[]": {"issuer", "claimValidationRules", "claimMappings", "userValidationRules"},
    "issuer": {"url", "discoveryURL", "certificateAuthority", "audiences", "audienceMatchPolicy", "egressSelectorType"},
    "claimValidationRules[]": {"claim", "requiredValue", "expression", "message"},
    "claimMappings": {"username", "groups", "uid", "extra"},
    "mapping": {"claim", "prefix", "expression"},
    "userValidationRules[]": {"expression", "message"},
}


def config_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# decoding and validation ----------------------------------------------------------------------------
def _strict(obj: Any, kind: str, path: str, errors: list[str]) -> None:
    if isinstance(obj, dict):
        for key in obj:
            if key not in _FIELDS[kind]:
                errors.append(f'unknown field "{path}{"." if path else ""}{key}"')


def decode(data: bytes) -> dict[str, Any]:
    """`loadAuthenticationConfigFromData`: YAML or JSON, the right kind, no unknown field."""
    if not data:
        raise ValueError("empty config data")
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as exc:
        raise ValueError(f"error converting YAML to JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != "AuthenticationConfiguration" \
            or document.get("apiVersion") not in API_VERSIONS:
        raise ValueError(f"no kind \"{(document or {}).get('kind')}\" is registered for version "
                         f"\"{(document or {}).get('apiVersion')}\" in scheme")
    unknown: list[str] = []
    _strict(document, "", "", unknown)
    for i, entry in enumerate(document.get("jwt") or []):
        _strict(entry, "jwt[]", f"jwt[{i}]", unknown)
        _strict(entry.get("issuer"), "issuer", f"jwt[{i}].issuer", unknown)
        _strict(entry.get("claimMappings"), "claimMappings", f"jwt[{i}].claimMappings", unknown)
        for name in ("username", "groups", "uid"):
            _strict((entry.get("claimMappings") or {}).get(name), "mapping", f"jwt[{i}].claimMappings.{name}", unknown)
        for j, rule in enumerate(entry.get("claimValidationRules") or []):
            _strict(rule, "claimValidationRules[]", f"jwt[{i}].claimValidationRules[{j}]", unknown)
        for j, rule in enumerate(entry.get("userValidationRules") or []):
            _strict(rule, "userValidationRules[]", f"jwt[{i}].userValidationRules[{j}]", unknown)
    if unknown:
        raise ValueError("strict decoding error: " + ", ".join(unknown))
    return document


def _compile(expression: str, path: str, errors: list[str]) -> Any:
    import celpy

    try:
        return celpy.Environment().compile(expression)
    except Exception as exc:  # celpy's CELParseError: the apiserver answers "compilation failed"
        errors.append(f'{path}: Invalid value: "{expression}": compilation failed: {str(exc).splitlines()[0]}')
        return None


def _uses(expression: str, claim: str) -> bool:
    """validation.go `hasSelectExp(claims, <claim>)`, by the expression's text."""
    import re

    text = re.sub(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""", "''", expression)
    return re.search(rf"\bclaims\s*\.\s*\??\s*{claim}\b", text) is not None


def validate(document: dict[str, Any]) -> list[str]:
    """validation.go `ValidateAuthenticationConfiguration`, in its order and words."""
    from urllib.parse import urlsplit

    errors: list[str] = []
    entries = document.get("jwt") or []
    if len(entries) > 64:
        return [f"jwt: Too many: {len(entries)}: must have at most 64 items"]
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        at = f"jwt[{i}]"
        issuer = entry.get("issuer") or {}
        url = issuer.get("url") or ""
        if not url:
            errors.append(f"{at}.issuer.url: Required value")
        else:
            parts = urlsplit(url)
            if parts.scheme != "https":
                errors.append(f'{at}.issuer.url: Invalid value: "{url}": URL scheme must be https')
            if parts.username or parts.password:
                errors.append(f'{at}.issuer.url: Invalid value: "{url}": URL must not contain a username or password')
            if parts.query:
                errors.append(f'{at}.issuer.url: Invalid value: "{url}": URL must not contain a query')
            if parts.fragment:
                errors.append(f'{at}.issuer.url: Invalid value: "{url}": URL must not contain a fragment')
        discovery = issuer.get("discoveryURL") or ""
        if discovery and url and discovery.rstrip("/") == url.rstrip("/"):
            errors.append(f'{at}.issuer.discoveryURL: Invalid value: "{discovery}": discoveryURL must be different from URL')
        audiences = issuer.get("audiences") or []
        policy = issuer.get("audienceMatchPolicy") or ""
        if not audiences:
            errors.append(f"{at}.issuer.audiences: Required value: at least one {at}.issuer.audiences is required")
        else:
            for j, audience in enumerate(audiences):
                if not audience:
                    errors.append(f"{at}.issuer.audiences[{j}]: Required value")
                if audience in audiences[:j]:
                    errors.append(f'{at}.issuer.audiences[{j}]: Duplicate value: "{audience}"')
            if len(audiences) > 1 and policy != "MatchAny":
                errors.append(f'{at}.issuer.audienceMatchPolicy: Invalid value: "{policy}": '
                              "audienceMatchPolicy must be MatchAny for multiple audiences")
        ca = issuer.get("certificateAuthority") or ""
        if ca:
            try:
                ssl.create_default_context(cadata=ca)
            except (ssl.SSLError, ValueError):
                errors.append(f'{at}.issuer.certificateAuthority: Invalid value: "<omitted>": '
                              "data does not contain any valid RSA or ECDSA certificates")
        uses_email_verified = False
        for j, rule in enumerate(entry.get("claimValidationRules") or []):
            rat = f"{at}.claimValidationRules[{j}]"
            if rule.get("claim") and rule.get("expression"):
                errors.append(f'{rat}: Invalid value: "{rule["claim"]}": claim and expression can\'t both be set')
            elif not rule.get("claim") and not rule.get("expression"):
                errors.append(f"{rat}: Required value: claim or expression is required")
            elif rule.get("claim") and rule.get("message"):
                errors.append(f'{rat}.message: Invalid value: "{rule["message"]}": may not be specified when claim is set')
            elif rule.get("expression"):
                if rule.get("requiredValue"):
                    errors.append(f'{rat}.requiredValue: Invalid value: "{rule["requiredValue"]}": '
                                  "may not be specified when expression is set")
                _compile(rule["expression"], f"{rat}.expression", errors)
                uses_email_verified |= _uses(rule["expression"], "email_verified")
        mappings = entry.get("claimMappings") or {}
        uses_email = False
        for name, required in (("username", True), ("groups", False)):
            mapping = mappings.get(name) or {}
            mat = f"{at}.claimMappings.{name}"
            if mapping.get("claim") and mapping.get("expression"):
                errors.append(f'{mat}: Invalid value: "": claim and expression can\'t both be set')
            elif not mapping.get("claim") and not mapping.get("expression") and required:
                errors.append(f"{mat}: Required value: claim or expression is required")
            elif mapping.get("expression"):
                if "prefix" in mapping:
                    errors.append(f'{mat}.prefix: Invalid value: "{mapping["prefix"]}": may not be specified when expression is set')
                if _compile(mapping["expression"], f"{mat}.expression", errors) is not None and name == "username":
                    uses_email = _uses(mapping["expression"], "email")
                    uses_email_verified |= _uses(mapping["expression"], "email_verified")
            elif mapping.get("claim") and "prefix" not in mapping:
                errors.append(f"{mat}.prefix: Required value: prefix is required when claim is set. "
                              "It can be set to an empty string to disable prefixing")
        if uses_email and not uses_email_verified:
            errors.append(f'{at}.claimMappings.username.expression: Invalid value: "{mappings["username"]["expression"]}": '
                          "claims.email_verified must be used in claimMappings.username.expression or "
                          "claimMappings.extra[*].valueExpression or claimValidationRules[*].expression when "
                          "claims.email is used in claimMappings.username.expression")
        for j, rule in enumerate(entry.get("userValidationRules") or []):
            if not rule.get("expression"):
                errors.append(f"{at}.userValidationRules[{j}].expression: Required value")
            else:
                _compile(rule["expression"], f"{at}.userValidationRules[{j}].expression", errors)
        if url in seen:
            errors.append(f'{at}.issuer.url: Duplicate value: "{url}"')
        seen.add(url)
    return errors


def aggregate(errors: list[str]) -> str:
    """`field.ErrorList.ToAggregate().Error()`: one message, or several in brackets."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# one jwt entry ----------------------------------------------------------------------------------------
def _evaluate(expression: str, name: str, value: Any) -> Any:
    import celpy

    environment = celpy.Environment()
    result = environment.program(environment.compile(expression)).evaluate({name: celpy.json_to_cel(value)})
    if isinstance(result, celpy.CELEvalError):
        raise ValueError(result.args[0] if result.args else str(result))
    return result


class JwtAuthenticator(OidcAuthenticator):
    """One `jwt` entry: go-oidc verification as for the flags, then the entry's mappings and rules."""

    def __init__(self, entry: dict[str, Any], log: Callable[[str], None], retry_seconds: float) -> None:
        issuer = entry["issuer"]
        self.entry = entry
        self.audiences = list(issuer["audiences"])
        options = OidcOptions(issuer_url=issuer["url"], client_id=self.audiences[0], signing_algs=SIGNING_ALGS)
        super().__init__(options, log, retry_seconds)
        if issuer.get("certificateAuthority"):
            self.context = ssl.create_default_context(cadata=issuer["certificateAuthority"])

    def authenticate(self, token: str) -> UserInfo:
        if not self._has_correct_issuer(token):
            raise Skipped("no authenticator claimed the token")
        if not self.initialized:
            raise Refused("oidc: authenticator not initialized")
        claims = self._verify(token)
        aud = claims.get("aud")
        if not set([aud] if isinstance(aud, str) else aud or []) & set(self.audiences):  # MatchAny
            raise Refused(f"oidc: verify token: oidc: expected audience in {sorted(self.audiences)} got {aud}")
        username = self._mapped_username(claims)
        groups = self._mapped_groups(claims)
        for rule in self.entry.get("claimValidationRules") or []:
            self._check_claim_rule(rule, claims)
        user = {"username": username, "uid": "", "groups": groups, "extra": {}}
        for rule in self.entry.get("userValidationRules") or []:
            try:
                ok = _evaluate(rule["expression"], "user", user)
            except ValueError as exc:
                raise Refused(f"oidc: error evaluating user info validation rule: {exc}") from None
            if ok is not True and str(ok) != "True":
                raise Refused(f"oidc: error evaluating user info validation rule: validation expression "
                              f"'{rule['expression']}' failed: {rule.get('message', '')}")
        return UserInfo(name=username, groups=tuple(groups) + ("system:authenticated",))

    def _mapped_username(self, claims: dict[str, Any]) -> str:
        mapping = self.entry["claimMappings"]["username"]
        if mapping.get("expression"):
            try:
                value = _evaluate(mapping["expression"], "claims", claims)
            except ValueError as exc:
                raise Refused(f"oidc: error evaluating username claim expression: {exc}") from None
            if not isinstance(value, str):
                raise Refused("oidc: error evaluating username claim expression: username claim expression must return a string")
            if not value:
                raise Refused("oidc: empty username via CEL expression is not allowed")
            return str(value)
        claim = mapping["claim"]
        if claim not in claims:
            raise Refused(f'oidc: parse username claims "{claim}": claim not present')
        value = claims[claim]
        if value is not None and not isinstance(value, str):
            raise Refused(f'oidc: parse username claims "{claim}": {_cannot_unmarshal(value, "string")}')
        if claim == "email" and "email_verified" in claims:
            verified = claims["email_verified"]
            if verified is not None and not isinstance(verified, bool):
                raise Refused(f"oidc: parse 'email_verified' claim: {_cannot_unmarshal(verified, 'bool')}")
            if not verified:
                raise Refused("oidc: email not verified")
        return (mapping.get("prefix") or "") + (value or "")

    def _mapped_groups(self, claims: dict[str, Any]) -> list[str]:
        mapping = self.entry["claimMappings"].get("groups") or {}
        claim = mapping.get("claim")
        if claim and claim in claims:
            value = claims[claim]
            if isinstance(value, str):
                groups = [value]
            elif isinstance(value, list) and all(isinstance(g, str) for g in value):
                groups = list(value)
            else:
                raise Refused(f'oidc: parse groups claim "{claim}": {_cannot_unmarshal(value, "string")}')
            return [(mapping.get("prefix") or "") + g for g in groups]
        if not mapping.get("expression"):
            return []
        try:
            value = _evaluate(mapping["expression"], "claims", claims)
        except ValueError as exc:
            raise Refused(f"oidc: error evaluating group claim expression: {exc}") from None
        if isinstance(value, str):
            return [str(value)] if value else []
        if isinstance(value, list) and all(isinstance(g, str) for g in value):
            return [str(g) for g in value if g]
        raise Refused("oidc: error evaluating group claim expression: expression must return a string or a list of strings")

    def _check_claim_rule(self, rule: dict[str, Any], claims: dict[str, Any]) -> None:
        if rule.get("claim"):
            key, want = rule["claim"], rule.get("requiredValue", "")
            if key not in claims:
                raise Refused(f"oidc: required claim {key} not present in ID token")
            if (claims[key] or "") != want:
                raise Refused(f"oidc: required claim {key} value does not match. Got = {claims[key]}, want = {want}")
            return
        try:
            ok = _evaluate(rule["expression"], "claims", claims)
        except ValueError as exc:
            raise Refused(f"oidc: error evaluating claim validation expression: {exc}") from None
        if ok is not True and str(ok) != "True":
            raise Refused(f"oidc: error evaluating claim validation expression: validation expression "
                          f"'{rule['expression']}' failed: {rule.get('message', '')}")


# the whole configuration, reloaded ---------------------------------------------------------------------
@dataclass
class Loaded:
    data: bytes
    authenticators: list[JwtAuthenticator]


class StructuredAuthentication:
    """The file's authenticators; a token goes to the one whose issuer equals its `iss`."""

    def __init__(self, node_file: Path, node_path: str, log: Callable[[str, str, str], None],
                 retry_seconds: float) -> None:
        self.node_file = node_file
        self.node_path = node_path
        self.log = log
        self.retry_seconds = retry_seconds
        self.reload_seconds = float(os.environ.get(RELOAD_ENV, "60"))
        self.reloads = {"success": 0, "failure": 0}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        try:
            data = node_file.read_bytes()
        except FileNotFoundError:
            raise StartupError(f"failed to load authentication configuration from file \"{node_path}\": "
                               f"open {node_path}: no such file or directory") from None
        self.current = self._load(data, startup=True)
        self._tracked = data

    def _load(self, data: bytes, startup: bool = False) -> Loaded:
        try:
            document = decode(data)
        except ValueError as exc:
            if startup:
                raise StartupError(f"failed to load authentication configuration from file \"{self.node_path}\": {exc}") from None
            raise
        errors = validate(document)
        if errors:
            if startup:
                raise StartupError(aggregate(errors))
            raise ValueError(aggregate(errors))
        log = lambda message: self.log("E" if "err=" in message else "I", "jwt.go:288", message)  # noqa: E731
        authenticators = [JwtAuthenticator(entry, log, self.retry_seconds) for entry in document.get("jwt") or []]
        return Loaded(data, authenticators)

    def start(self) -> None:
        for authenticator in self.current.authenticators:
            authenticator.start()
        threading.Thread(target=self._watch, name="authentication-config-watch", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        for authenticator in self.current.authenticators:
            authenticator.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.reload_seconds):
            try:
                data = self.node_file.read_bytes()
            except OSError as exc:
                self.log("E", "authentication.go:790", f'"failed to read authentication config file" err="{exc}"')
                self.reloads["failure"] += 1
                continue
            if data == self._tracked:
                continue
            self._tracked = data  # an invalid file is not retried until it changes again
            try:
                loaded = self._load(data)
            except ValueError as exc:
                self.log("E", "authentication.go:808", f'"failed to validate authentication config" err="{exc}"')
                self.reloads["failure"] += 1
                continue
            for authenticator in loaded.authenticators:
                authenticator.start()
            with self._lock:
                old, self.current = self.current, loaded
            for authenticator in old.authenticators:
                authenticator.close()
            self.reloads["success"] += 1
            self.log("I", "authentication.go:818", '"reloaded authentication config"')

    def authenticate(self, token: str) -> UserInfo:
        with self._lock:
            authenticators = list(self.current.authenticators)
        for authenticator in authenticators:
            if authenticator._has_correct_issuer(token):
                return authenticator.authenticate(token)
        raise Skipped("no authenticator claimed the token")

    def metrics(self) -> str:
        """The lines of /metrics the product reads to know which configuration runs."""
        server = "sha256:" + hashlib.sha256(b"apiserver-double").hexdigest()
        lines = [
            "# HELP apiserver_authentication_config_controller_last_config_info [ALPHA] Information about the last "
            "applied authentication configuration with hash as label, split by apiserver identity.",
            "# TYPE apiserver_authentication_config_controller_last_config_info gauge",
            f'apiserver_authentication_config_controller_last_config_info{{apiserver_id_hash="{server}",'
            f'hash="{config_hash(self.current.data)}"}} 1',
            "# TYPE apiserver_authentication_config_controller_automatic_reloads_total counter",
        ]
        for status, count in self.reloads.items():
            if count:
                lines.append(f'apiserver_authentication_config_controller_automatic_reloads_total'
                             f'{{apiserver_id_hash="{server}",status="{status}"}} {count}')
        return "\n".join(lines) + "\n"


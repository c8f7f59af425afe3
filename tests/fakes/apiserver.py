"""An HTTPS kube-apiserver double, started by the fake `minikube start` as its own process.

It is configured from the profile's `apiserver.*` ExtraOptions (unknown flags and invalid OIDC
settings make it exit at start, as the real apiserver does, so `minikube start` fails), serves
with a certificate from the minikube CA, and authenticates like kube-apiserver: a verified client
certificate first (CN user, O groups), then a bearer token through the OIDC rules, then anonymous.
Authorization follows `authorization-mode`. Objects live in the profile folder (`etcd.json`) and
survive stop/start. Refusals are logged in klog style to stderr, which `minikube logs` prints.

    python -m tests.fakes.apiserver --profile-dir DIR --minikube-home MK --port PORT
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from provisioner.fsutil import write_private

from .apiserver_authconfig import StructuredAuthentication
from .apiserver_oidc import OidcAuthenticator, OidcOptions, Refused, Skipped, StartupError
from .apiserver_rbac import Attributes, UserInfo, authorize, forbidden, rules_review, seed_default_policy
from .apiserver_store import (
    NAMESPACES, RESOURCES, ApiError, Resource, Store, bad_request, find_resource, group_versions,
)
from .apiserver_tables import to_table, wants_table
from .minikube_home import Profile
from .protobuf_bodies import ProtobufError, decode_object

RETRY_ENV = "FAKE_APISERVER_OIDC_RETRY_SECONDS"
#: The pid of the test run that owns this double; when it is gone (killed, timed out) the double exits.
WATCH_PID_ENV = "FAKE_APISERVER_WATCH_PID"
#: Flags accepted as `--extra-config=apiserver.<flag>`; anything else stops the apiserver at start.
KNOWN_FLAGS = {
    "oidc-issuer-url", "oidc-client-id", "oidc-username-claim", "oidc-username-prefix", "oidc-groups-claim",
    "oidc-groups-prefix", "oidc-ca-file", "oidc-signing-algs", "oidc-required-claim",
    "authorization-mode", "anonymous-auth", "authentication-config", "authorization-config",
    "enable-admission-plugins", "disable-admission-plugins", "admission-control-config-file",
    "audit-log-path", "audit-policy-file", "audit-log-maxage", "audit-log-maxbackup", "audit-log-maxsize",
    "audit-log-format", "audit-webhook-config-file", "service-node-port-range", "feature-gates", "v",
    "runtime-config", "service-account-issuer", "service-account-key-file", "service-account-signing-key-file",
    "service-account-max-token-expiration", "api-audiences", "advertise-address", "bind-address", "secure-port",
    "enable-aggregator-routing", "max-requests-inflight", "max-mutating-requests-inflight", "event-ttl",
    "cors-allowed-origins", "profiling", "request-timeout", "watch-cache", "default-not-ready-toleration-seconds",
    "default-unreachable-toleration-seconds", "tls-cipher-suites", "tls-min-version", "token-auth-file",
    "encryption-provider-config", "allow-privileged", "storage-backend", "etcd-servers",
}
ALL_MODES = {"AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"}


# logging -----------------------------------------------------------------------------------------
_log_lock = threading.Lock()


def klog(severity: str, source: str, message: str) -> None:
    """One klog line (`E1122 06:50:00.123456       1 authentication.go:73] ...`), as `minikube logs` shows."""
    now = _dt.datetime.now(_dt.timezone.utc)
    line = f"{severity}{now:%m%d %H:%M:%S.%f}       1 {source}] {message}\n"
    with _log_lock:
        sys.stderr.write(line)
        sys.stderr.flush()


# configuration -----------------------------------------------------------------------------------
class Config:
    def __init__(self, profile: Profile) -> None:
        flags = profile.apiserver_flags()
        unknown = sorted(set(flags) - KNOWN_FLAGS)
        if unknown:
            raise StartupError(f"unknown flag: --{unknown[0]}")
        self.flags = flags
        self.modes = [m.strip() for m in flags.get("authorization-mode", "Node,RBAC").split(",") if m.strip()]
        for mode in self.modes:
            if mode not in ALL_MODES:
                raise StartupError(f'authorization-mode "{mode}" is not a valid mode')
        self.anonymous = flags.get("anonymous-auth", "true").lower() != "false"
        self.verbosity = int(flags["v"]) if flags.get("v", "").isdigit() else 0
        self.authentication_config: tuple[Path, str] | None = None
        if "authentication-config" in flags:
            # pkg/kubeapiserver/options/authentication.go validateOIDCOptions
            if any(key.startswith("oidc-") for key in flags):
                raise StartupError("authentication-config file and oidc-* flags are mutually exclusive")
            node_path = flags["authentication-config"]
            self.authentication_config = (profile.node_root / node_path.lstrip("/"), node_path)
        self.oidc = OidcOptions.from_flags(flags, profile.node_root)
        config = profile.load()
        self.kubernetes_version = config["KubernetesConfig"]["KubernetesVersion"]


# the server --------------------------------------------------------------------------------------
class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, config: Config, store: Store,
                 oidc: OidcAuthenticator | None) -> None:
        super().__init__(address, Handler)
        self.ssl_context = context
        self.config = config
        self.store = store
        self.oidc = oidc

    def get_request(self):
        sock, address = self.socket.accept()
        # the handshake happens in the request's thread, so a slow client cannot stall the others
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ssl.SSLError):
            klog("I", "server.go:3215", f'"http: TLS handshake error from {client_address[0]}:{client_address[1]}: {error}"')
        elif not isinstance(error, (ConnectionError, TimeoutError)):
            klog("E", "wrap.go:53", f'"Unhandled error" err="{error!r}"')


def _read_version(obj: dict[str, Any]) -> str:
    return obj["metadata"]["resourceVersion"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Go's net package turns Nagle's algorithm off on every TCP connection (net.TCPConn.SetNoDelay:
    # "The default is true (no delay)"), so the real apiserver's small answers are not held for a
    # delayed ACK (about 40 ms a response here on a kept-alive connection).
    disable_nagle_algorithm = True
    server: ApiServer

    def setup(self) -> None:
        self.request.settimeout(30)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # plumbing ------------------------------------------------------------------------------------
    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.response_code = code
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)

    def _read_raw_body(self) -> bytes:
        """Read the whole body before anything else, so a refused request leaves the connection usable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _body(self) -> Any:
        raw = self.raw_body
        if not raw:
            raise bad_request("the body of the request was in an unknown format - accepted media types include: "
                              "application/json, application/yaml, application/vnd.kubernetes.protobuf")
        content_type = self.headers.get("Content-Type", "application/json")
        if content_type.startswith("application/vnd.kubernetes.protobuf"):
            try:
                return decode_object(raw)
            except ProtobufError as exc:
                raise ApiError(415, "UnsupportedMediaType", str(exc)) from None
        if "yaml" in content_type:
            import yaml
            return yaml.safe_load(raw)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        self._handle(method)
        if self.server.config.verbosity >= 3:  # `--v=3` makes the real apiserver log every request too
            klog("I", "httplog.go:134", f'"HTTP" verb="{method}" URI="{self.path}" '
                 f'latency="{(time.monotonic() - started) * 1000:.1f}ms" '
                 f'userAgent="{self.headers.get("User-Agent", "")}" srcIP="{self.client_address[0]}:'
                 f'{self.client_address[1]}" resp={getattr(self, "response_code", 0)}')

    def _handle(self, method: str) -> None:
        self.raw_body = self._read_raw_body()
        url = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        # Clients percent-encode names (the kubernetes client sends ':' as %3A); the apiserver decodes.
        path = unquote(url.path).rstrip("/") or "/"
        try:
            user = self._impersonate(self._authenticate())
            attrs = request_attributes(user, method, path, self.query)
            allowed, reason = authorize(self.server.store, self.server.config.modes, attrs)
            if not allowed:
                raise forbidden(attrs, reason)
            self._route(method, path, attrs)
        except ApiError as error:
            self._send(error.code, error.status)
        except Exception as error:  # the real apiserver answers 500 with a Status, it does not hang up
            klog("E", "runtime.go:79", f'"Observed a panic" panic="{error!r}"')
            self._send(500, ApiError(500, "InternalError", f"Internal error occurred: {error}").status)

    # authentication ------------------------------------------------------------------------------
    def _authenticate(self) -> UserInfo:
        certificate = self.request.getpeercert()
        if certificate:
            names = [dict(rdn) for rdn in certificate.get("subject", ())]
            common_name = next((n["commonName"] for n in names if "commonName" in n), "")
            groups = tuple(n["organizationName"] for n in names if "organizationName" in n)
            return UserInfo(common_name, groups + ("system:authenticated",))
        authorization = self.headers.get("Authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
            oidc = self.server.oidc
            if oidc is None:
                self._unauthorized("invalid bearer token (no authenticator accepts bearer tokens: "
                                   "the apiserver has no --oidc-issuer-url)")
            try:
                return oidc.authenticate(token)
            except Skipped:
                self._unauthorized("invalid bearer token")  # bearertoken.go's default: no reason to log
            except Refused as refusal:
                self._unauthorized(f"invalid bearer token, {refusal}")
        if authorization:
            self._unauthorized("unsupported Authorization scheme")
        if self.server.config.anonymous:
            return UserInfo("system:anonymous", ("system:unauthenticated",))
        self._unauthorized("no credentials and --anonymous-auth=false")
        raise AssertionError("unreachable")

    def _impersonate(self, user: UserInfo) -> UserInfo:
        """`kubectl --as/--as-group`: allowed only with the `impersonate` verb, as in the real apiserver."""
        name = self.headers.get("Impersonate-User")
        groups = self.headers.get_all("Impersonate-Group") or []
        if not name:
            if groups:
                raise ApiError(500, "InternalError", "Internal error occurred: requested [{Group  "
                               f"{groups[0]}}}] without impersonating a user")
            return user
        checks = [("users", name)] + [("groups", group) for group in groups]
        if name.startswith("system:serviceaccount:"):
            namespace, _, account = name[len("system:serviceaccount:"):].partition(":")
            checks[0] = ("serviceaccounts", account)
        for resource, value in checks:
            attrs = Attributes(user=user, verb="impersonate", resource_request=True, api_group="", api_version="v1",
                               resource=resource, name=value,
                               namespace=namespace if resource == "serviceaccounts" else "")
            allowed, _ = authorize(self.server.store, self.server.config.modes, attrs)
            if not allowed:
                raise ApiError(403, "Forbidden", f'{resource} "{value}" is forbidden: User "{user.name}" cannot '
                               f'impersonate resource "{resource}" in API group "" at the cluster scope',
                               {"name": value, "kind": resource})
        extra_groups = ("system:authenticated",) if name != "system:anonymous" else ()
        if name.startswith("system:serviceaccount:"):
            extra_groups = ("system:serviceaccounts", f"system:serviceaccounts:{namespace}") + extra_groups
        return UserInfo(name, tuple(groups) + tuple(g for g in extra_groups if g not in groups))

    def _unauthorized(self, reason: str) -> None:
        klog("E", "authentication.go:75", f'"Unable to authenticate the request" err="[{reason}]"')
        raise ApiError(401, "Unauthorized", "Unauthorized")

    # routing -------------------------------------------------------------------------------------
    def _route(self, method: str, path: str, attrs: Attributes) -> None:
        if path == "/metrics" and method == "GET" and isinstance(self.server.oidc, StructuredAuthentication):
            self._send(200, self.server.oidc.metrics().encode(), "text/plain; version=0.0.4; charset=utf-8")
            return
        if not attrs.resource_request:
            document = discovery(path, self.server.config.kubernetes_version)
            if document is None or method != "GET":
                raise ApiError(404, "NotFound", "the server could not find the requested resource",
                               {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
            if isinstance(document, str):
                self._send(200, document.encode(), "text/plain; charset=utf-8")
            else:
                self._send(200, document)
            return
        resource = find_resource(attrs.api_group, attrs.api_version, attrs.resource)
        if resource is None or attrs.subresource:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if attrs.verb not in resource.verbs:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if resource.name == "selfsubjectreviews":
            return self._self_subject_review(attrs.user)
        if resource.name == "selfsubjectaccessreviews":
            return self._self_subject_access_review(attrs.user)
        if resource.name == "selfsubjectrulesreviews":
            return self._self_subject_rules_review(attrs.user)
        self._crud(resource, attrs)

    def _crud(self, resource: Resource, attrs: Attributes) -> None:
        store = self.server.store
        namespace = (attrs.namespace or None) if resource.namespaced else None
        verb = attrs.verb
        if verb == "list":
            items, version = store.list(resource, namespace, self.query.get("labelSelector", ""),
                                        self.query.get("fieldSelector", ""))
            return self._send_objects(resource, items, version, single=False)
        if verb == "watch":
            raise ApiError(405, "MethodNotAllowed", "watch is not supported by the apiserver test double")
        if verb == "get":
            obj = store.get(resource, namespace, attrs.name)
            return self._send_objects(resource, [obj], _read_version(obj), single=True)
        if verb == "create":
            body = self._body()
            self._check_kind(resource, body)
            if self.query.get("dryRun"):
                return self._send(201, body)
            obj = store.create(resource, namespace, body)
            self._after_create(resource, obj)
            return self._send(201, obj)
        if verb == "update":
            body = self._body()
            self._check_kind(resource, body)
            return self._send(200, store.replace(resource, namespace, attrs.name, body))
        if verb == "patch":
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("application/apply-patch"):
                raise ApiError(415, "UnsupportedMediaType",
                               "server-side apply is not supported by the apiserver test double")
            return self._send(200, store.patch(resource, namespace, attrs.name, content_type, self._body()))
        if verb == "delete":
            obj = store.delete(resource, namespace, attrs.name)
            if resource is NAMESPACES:
                return self._send(200, obj)
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                    "details": {"name": attrs.name, "group": resource.group, "kind": resource.name,
                                                "uid": obj["metadata"]["uid"]}})
        if verb == "deletecollection":
            items = store.delete_collection(resource, namespace, self.query.get("labelSelector", ""),
                                            self.query.get("fieldSelector", ""))
            return self._send(200, {"kind": f"{resource.kind}List", "apiVersion": resource.group_version,
                                    "metadata": {"resourceVersion": str(store.revision)}, "items": items})
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _check_kind(self, resource: Resource, body: Any) -> None:
        if not isinstance(body, dict):
            raise bad_request("the body must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.group_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version "
                              f"({resource.group_version})")
        if kind and kind != resource.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")

    def _after_create(self, resource: Resource, obj: dict[str, Any]) -> None:
        """What controllers do right after a create, where a user could notice it."""
        if resource is NAMESPACES:
            accounts = find_resource("", "v1", "serviceaccounts")
            self.server.store.seed(accounts, obj["metadata"]["name"], {"metadata": {"name": "default"}})

    def _send_objects(self, resource: Resource, items: list[dict[str, Any]], version: str, single: bool) -> None:
        if wants_table(self.headers.get("Accept", "")):
            table = to_table(resource.name, items, version)
            return self._send(200, table, "application/json")
        if single:
            return self._send(200, items[0])
        for item in items:  # list items carry no kind/apiVersion on the wire
            item.pop("kind", None)
            item.pop("apiVersion", None)
        self._send(200, {"kind": f"{resource.kind}List", "apiVersion": resource.group_version,
                         "metadata": {"resourceVersion": version}, "items": items})

    # reviews -------------------------------------------------------------------------------------
    def _self_subject_review(self, user: UserInfo) -> None:
        self._body()
        self._send(201, {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                         "metadata": {"creationTimestamp": None}, "status": {"userInfo": user.to_json()}})

    def _self_subject_access_review(self, user: UserInfo) -> None:
        body = self._body()
        spec = body.get("spec") or {}
        if spec.get("resourceAttributes"):
            ra = spec["resourceAttributes"]
            attrs = Attributes(user=user, verb=ra.get("verb", ""), resource_request=True,
                               api_group=ra.get("group", ""), api_version=ra.get("version", ""),
                               resource=ra.get("resource", ""), subresource=ra.get("subresource", ""),
                               namespace=ra.get("namespace", ""), name=ra.get("name", ""))
        elif spec.get("nonResourceAttributes"):
            na = spec["nonResourceAttributes"]
            attrs = Attributes(user=user, verb=na.get("verb", ""), path=na.get("path", ""))
        else:
            raise ApiError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: '
                           "spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or "
                           "resourceAttributes must be specified")
        allowed, reason = authorize(self.server.store, self.server.config.modes, attrs)
        status: dict[str, Any] = {"allowed": allowed}
        if reason and allowed:
            status["reason"] = reason
        self._send(201, {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
                         "metadata": {"creationTimestamp": None}, "spec": spec, "status": status})

    def _self_subject_rules_review(self, user: UserInfo) -> None:
        body = self._body()
        namespace = (body.get("spec") or {}).get("namespace", "")
        self._send(201, {"kind": "SelfSubjectRulesReview", "apiVersion": "authorization.k8s.io/v1",
                         "metadata": {"creationTimestamp": None}, "spec": {"namespace": namespace},
                         "status": rules_review(self.server.store, user, namespace)})


# request info ------------------------------------------------------------------------------------
_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def request_attributes(user: UserInfo, method: str, path: str, query: dict[str, str]) -> Attributes:
    """Split a URL the way the apiserver's RequestInfoFactory does (namespaces/<n> names the namespace)."""
    parts = [p for p in path.split("/") if p]
    nonresource_verb = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put", "PATCH": "patch",
                        "DELETE": "delete"}.get(method, method.lower())
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return Attributes(user=user, verb=nonresource_verb, path=path)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = _METHOD_VERBS.get(method, method.lower())
    return Attributes(user=user, verb=verb, resource_request=True, api_group=group, api_version=version,
                      resource=resource, subresource=subresource, namespace=namespace, name=name)


# discovery ---------------------------------------------------------------------------------------
def _resource_list(group: str, version: str) -> dict[str, Any]:
    resources = []
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        entry: dict[str, Any] = {"name": resource.name, "singularName": resource.singular,
                                 "namespaced": resource.namespaced, "kind": resource.kind,
                                 "verbs": list(resource.verbs)}
        if resource.short_names:
            entry["shortNames"] = list(resource.short_names)
        resources.append(entry)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


def _api_group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _openapi_v3(group: str, version: str) -> dict[str, Any]:
    """Just enough OpenAPI v3 for kubectl to see that PATCH takes `fieldValidation`.

    With it, `kubectl apply/create -f` validates on the server (this double accepts everything)
    instead of downloading OpenAPI v2 schemas for client-side validation.
    """
    paths: dict[str, Any] = {}
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version) or "patch" not in resource.verbs:
            continue
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        paths[f"/{_gv_path(group, version)}{scope}/{resource.name}/{{name}}"] = {"patch": {
            "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": resource.kind},
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK"}},
        }}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.35.0"}, "paths": paths,
            "components": {"schemas": {}}}


def discovery(path: str, kubernetes_version: str) -> dict[str, Any] | str | None:
    """Legacy (unaggregated) discovery, which kubectl accepts when the server does not aggregate."""
    groups = group_versions()
    if path in ("/healthz", "/livez", "/readyz"):
        return "ok"
    if path == "/version":
        major, minor = kubernetes_version.lstrip("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": kubernetes_version, "gitCommit": "fake",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.25.0",
                "compiler": "gc", "platform": "linux/amd64"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": groups[""],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "192.168.49.2:8443"}]}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [_api_group(name, versions) for name, versions in groups.items() if name]}
    if path == "/openapi/v3":
        return {"paths": {_gv_path(group, version): {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, version)}"}
                          for group, versions in groups.items() for version in versions}}
    if path.startswith("/openapi/v3/"):
        for group, versions in groups.items():
            for version in versions:
                if path == f"/openapi/v3/{_gv_path(group, version)}":
                    return _openapi_v3(group, version)
        return None
    parts = [p for p in path.split("/") if p]
    if len(parts) == 2 and parts[0] == "api" and parts[1] in groups[""]:
        return _resource_list("", parts[1])
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
        return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(parts[1], groups[parts[1]])}
    if len(parts) == 3 and parts[0] == "apis" and parts[2] in groups.get(parts[1], []):
        return _resource_list(parts[1], parts[2])
    return None


# boot --------------------------------------------------------------------------------------------
def seed_cluster(store: Store) -> None:
    """What a fresh cluster has: its namespaces, the `kubernetes` service, default accounts, the RBAC defaults."""
    accounts = find_resource("", "v1", "serviceaccounts")
    services = find_resource("", "v1", "services")
    for name in ("default", "kube-node-lease", "kube-public", "kube-system"):
        store.seed(NAMESPACES, None, {"metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}}})
        store.seed(accounts, name, {"metadata": {"name": "default"}})
    store.seed(services, "default", {
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "internalTrafficPolicy": "Cluster",
                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}],
                 "sessionAffinity": "None", "type": "ClusterIP"},
        "status": {"loadBalancer": {}},
    })
    seed_default_policy(store)


def _exit_with_owner(pid: int) -> None:
    """A test run killed before its teardown must not leave servers behind."""
    def watch() -> None:
        from provisioner.platform import alive  # not os.kill(pid, 0): a Ctrl+C to the group on Windows

        while True:
            if not alive(pid):
                klog("I", "watchdog.go:1", f'"owner process {pid} is gone; shutting down"')
                os._exit(0)
            threading.Event().wait(1.0)

    threading.Thread(target=watch, name="owner-watchdog", daemon=True).start()


def serve(profile: Profile, port: int, address: str = "127.0.0.1") -> int:
    klog("I", "options.go:228", f'"external host was not specified, using 192.168.49.2" port={port}')
    if os.environ.get(WATCH_PID_ENV, "").isdigit():
        _exit_with_owner(int(os.environ[WATCH_PID_ENV]))
    try:
        config = Config(profile)
    except StartupError as error:
        klog("E", "run.go:72", f'"command failed" err="{error}"')
        return 1
    klog("I", "server.go:150", f'"Version: {config.kubernetes_version}" flags={json.dumps(config.flags, sort_keys=True)}')
    store = Store(profile.etcd_file)
    with store.batch():
        seed_cluster(store)
    oidc: Any = None
    if config.authentication_config is not None:
        try:
            oidc = StructuredAuthentication(*config.authentication_config, klog, float(os.environ.get(RETRY_ENV, "10")))
        except StartupError as error:
            klog("E", "run.go:72", f'"command failed" err="{error}"')
            return 1
        oidc.start()
    elif config.oidc is not None:
        retry = float(os.environ.get(RETRY_ENV, "10"))
        oidc = OidcAuthenticator(config.oidc, lambda message: klog("E" if "err=" in message else "I", "jwt.go:288", message),
                                 retry_seconds=retry)
        oidc.start()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(profile.apiserver_cert, profile.apiserver_key)
    context.load_verify_locations(cafile=str(profile.ca_cert))
    context.verify_mode = ssl.CERT_OPTIONAL
    server = ApiServer((address, port), context, config, store, oidc)
    write_private(profile.port_file, f"{server.server_address[1]}\n", mode=0o644)
    klog("I", "secure_serving.go:213", f'"Serving securely on {address}:{server.server_address[1]}"')
    server.serve_forever()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kube-apiserver (test double)")
    parser.add_argument("--profile-dir", type=Path, required=True)
    parser.add_argument("--minikube-home", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--address", default="127.0.0.1", help="where the node's port is published on the host")
    args = parser.parse_args(argv)
    return serve(Profile(args.profile_dir.name, args.minikube_home), args.port, args.address)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Who may do what: RBAC as kube-apiserver evaluates it, over the objects in the store.

The lab's whole promise is "this OIDC user gets exactly these rights", so the double must refuse
like the real thing: a rule matches on verbs, API groups, resources (with `*` and subresources)
and resource names; bindings match users, groups and service accounts; `system:masters` is the
privileged group; a refusal is a 403 whose message has the real wording. Seeded with the default
user-facing roles (cluster-admin, admin, edit, view) and the discovery roles every user has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .apiserver_store import ApiError, Store, find_resource

PRIVILEGED_GROUP = "system:masters"
RBAC_GROUP = "rbac.authorization.k8s.io"
CLUSTER_ROLES = find_resource(RBAC_GROUP, "v1", "clusterroles")
CLUSTER_ROLE_BINDINGS = find_resource(RBAC_GROUP, "v1", "clusterrolebindings")
ROLES = find_resource(RBAC_GROUP, "v1", "roles")
ROLE_BINDINGS = find_resource(RBAC_GROUP, "v1", "rolebindings")


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        info: dict[str, Any] = {"username": self.name, "groups": list(self.groups)}
        if self.uid:
            info["uid"] = self.uid
        if self.extra:
            info["extra"] = self.extra
        return info


@dataclass(frozen=True)
class Attributes:
    """What a request asks for, as the apiserver's request-info resolver sees it."""

    user: UserInfo
    verb: str
    path: str = ""
    resource_request: bool = False
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


# rules -------------------------------------------------------------------------------------------
def _rule_matches(rule: dict[str, Any], attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        for url in rule.get("nonResourceURLs") or []:
            if url == "*" or url == attrs.path or (url.endswith("*") and attrs.path.startswith(url[:-1])):
                return True
        return False
    groups = rule.get("apiGroups")
    if groups is None or ("*" not in groups and attrs.api_group not in groups):
        return False
    wanted = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
    resources = rule.get("resources") or []
    if not any(r == "*" or r == wanted or (attrs.subresource and r == f"*/{attrs.subresource}") for r in resources):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == user.name
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def _describe_subject(subject: dict[str, Any]) -> str:
    if subject.get("kind") == "ServiceAccount":
        return f'ServiceAccount "{subject.get("name")}/{subject.get("namespace", "")}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


def _bound_rules(store: Store, user: UserInfo, namespace: str) -> Iterable[tuple[dict[str, Any], str]]:
    """Every rule bound to `user` (cluster-wide, then in `namespace`), with how it was granted."""
    bindings, _ = store.list(CLUSTER_ROLE_BINDINGS, None)
    for binding in bindings:
        ref = binding.get("roleRef") or {}
        for subject in binding.get("subjects") or []:
            if not _subject_matches(subject, user, ""):
                continue
            try:
                role = store.get(CLUSTER_ROLES, None, ref.get("name", ""))
            except ApiError:
                break
            how = (f'RBAC: allowed by ClusterRoleBinding "{binding["metadata"]["name"]}" of ClusterRole '
                   f'"{ref.get("name")}" to {_describe_subject(subject)}')
            for rule in role.get("rules") or []:
                yield rule, how
            break
    if not namespace:
        return
    bindings, _ = store.list(ROLE_BINDINGS, namespace)
    for binding in bindings:
        ref = binding.get("roleRef") or {}
        for subject in binding.get("subjects") or []:
            if not _subject_matches(subject, user, namespace):
                continue
            try:
                if ref.get("kind") == "ClusterRole":
                    role = store.get(CLUSTER_ROLES, None, ref.get("name", ""))
                else:
                    role = store.get(ROLES, namespace, ref.get("name", ""))
            except ApiError:
                break
            how = (f'RBAC: allowed by RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                   f'{ref.get("kind")} "{ref.get("name")}" to {_describe_subject(subject)}')
            for rule in role.get("rules") or []:
                yield rule, how
            break


def authorize(store: Store, modes: list[str], attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason), trying each `--authorization-mode` in order like the union authorizer."""
    if PRIVILEGED_GROUP in attrs.user.groups:
        return True, ""
    for mode in modes:
        if mode == "AlwaysAllow":
            return True, ""
        if mode == "AlwaysDeny":
            return False, "Everything is forbidden."
        if mode == "RBAC":
            for rule, how in _bound_rules(store, attrs.user, attrs.namespace):
                if _rule_matches(rule, attrs):
                    return True, how
    return False, ""


def forbidden(attrs: Attributes, reason: str = "") -> ApiError:
    """A 403 worded exactly as kube-apiserver words it."""
    user = attrs.user.name
    if not attrs.resource_request:
        message = f'forbidden: User "{user}" cannot {attrs.verb} path "{attrs.path}"'
        details: dict[str, Any] = {}
    else:
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
        if attrs.subresource:
            qualified += f"/{attrs.subresource}"
        subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
        resource = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
        message = (f'{subject} is forbidden: User "{user}" cannot {attrs.verb} resource "{resource}" '
                   f'in API group "{attrs.api_group}" {scope}')
        details = {"kind": attrs.resource}
        if attrs.name:
            details = {"name": attrs.name, **details}
        if attrs.api_group:
            details["group"] = attrs.api_group
    if reason:
        message += f": {reason}"
    return ApiError(403, "Forbidden", message, details)


def rules_review(store: Store, user: UserInfo, namespace: str) -> dict[str, Any]:
    """SelfSubjectRulesReview status: what `kubectl auth can-i --list` prints."""
    resource_rules, non_resource_rules = [], []
    for rule, _ in _bound_rules(store, user, namespace):
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": rule.get("verbs", []), "nonResourceURLs": rule["nonResourceURLs"]})
        else:
            entry = {"verbs": rule.get("verbs", []), "apiGroups": rule.get("apiGroups", []),
                     "resources": rule.get("resources", [])}
            if rule.get("resourceNames"):
                entry["resourceNames"] = rule["resourceNames"]
            resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}


# the default policy ------------------------------------------------------------------------------
_ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_READ = ["get", "list", "watch"]
_WRITE = ["create", "delete", "deletecollection", "patch", "update"]
_CORE_EDIT = ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "configmaps", "endpoints",
              "persistentvolumeclaims", "replicationcontrollers", "replicationcontrollers/scale", "secrets",
              "serviceaccounts", "services", "services/proxy"]
_CORE_VIEW = ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
              "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
              "services/status", "bindings", "events", "limitranges", "namespaces/status", "pods/log",
              "pods/status", "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"]
_APPS = ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
         "replicasets/scale", "statefulsets", "statefulsets/scale"]


def _view_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": [""], "resources": _CORE_VIEW, "verbs": _READ},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": _READ},
        {"apiGroups": ["apps"], "resources": _APPS, "verbs": _READ},
        {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": _READ},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": _READ},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _READ},
    ]


def _edit_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": [""], "resources": ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                                          "services/proxy"], "verbs": _READ},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]},
        {"apiGroups": [""], "resources": _CORE_EDIT, "verbs": _WRITE},
        {"apiGroups": ["apps"], "resources": _APPS, "verbs": _WRITE},
        {"apiGroups": ["batch"], "resources": ["cronjobs", "jobs"], "verbs": _WRITE},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses", "networkpolicies"], "verbs": _WRITE},
        {"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]},
    ] + _view_rules()


def _admin_rules() -> list[dict[str, Any]]:
    return [
        {"apiGroups": ["authorization.k8s.io"], "resources": ["localsubjectaccessreviews"], "verbs": ["create"]},
        {"apiGroups": [RBAC_GROUP], "resources": ["rolebindings", "roles"], "verbs": _ALL},
    ] + _edit_rules()


_DEFAULTS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_AUTOUPDATE = {"rbac.authorization.kubernetes.io/autoupdate": "true"}


def _cluster_role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
                  aggregate_from: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "metadata": {"name": name, "labels": {**_DEFAULTS, **(labels or {})}, "annotations": dict(_AUTOUPDATE)},
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate_from}": "true"}}]}
    return role


def _binding(name: str, role: str, subjects: list[dict[str, Any]], bootstrap: bool = True) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if bootstrap:
        metadata.update(labels=dict(_DEFAULTS), annotations=dict(_AUTOUPDATE))
    return {"metadata": metadata, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def _group(name: str) -> dict[str, Any]:
    return {"apiGroup": RBAC_GROUP, "kind": "Group", "name": name}


def seed_default_policy(store: Store) -> None:
    """The bootstrap roles kube-apiserver reconciles at every start, and minikube's own binding."""
    store.seed(CLUSTER_ROLES, None, _cluster_role("cluster-admin", [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
        {"nonResourceURLs": ["*"], "verbs": ["*"]},
    ]))
    store.seed(CLUSTER_ROLES, None, _cluster_role("admin", _admin_rules(), aggregate_from="admin"))
    store.seed(CLUSTER_ROLES, None, _cluster_role("edit", _edit_rules(), {"rbac.authorization.k8s.io/aggregate-to-admin": "true"},
                                                  aggregate_from="edit"))
    store.seed(CLUSTER_ROLES, None, _cluster_role("view", _view_rules(), {"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
                                                  aggregate_from="view"))
    store.seed(CLUSTER_ROLES, None, _cluster_role("system:basic-user", [
        {"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
         "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"], "verbs": ["create"]},
    ]))
    store.seed(CLUSTER_ROLES, None, _cluster_role("system:discovery", [
        {"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                             "/readyz", "/version", "/version/"], "verbs": ["get"]},
    ]))
    store.seed(CLUSTER_ROLES, None, _cluster_role("system:public-info-viewer", [
        {"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]},
    ]))
    store.seed(CLUSTER_ROLE_BINDINGS, None, _binding("cluster-admin", "cluster-admin", [_group(PRIVILEGED_GROUP)]))
    store.seed(CLUSTER_ROLE_BINDINGS, None, _binding("system:basic-user", "system:basic-user", [_group("system:authenticated")]))
    store.seed(CLUSTER_ROLE_BINDINGS, None, _binding("system:discovery", "system:discovery", [_group("system:authenticated")]))
    store.seed(CLUSTER_ROLE_BINDINGS, None, _binding("system:public-info-viewer", "system:public-info-viewer",
                                                     [_group("system:authenticated"), _group("system:unauthenticated")]))
    store.seed(CLUSTER_ROLE_BINDINGS, None, _binding("minikube-rbac", "cluster-admin", [
        {"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}], bootstrap=False))

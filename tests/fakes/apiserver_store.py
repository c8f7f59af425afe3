"""The apiserver double's objects: what resources exist, and a tiny etcd that survives restarts.

Objects get what the real apiserver adds (uid, resourceVersion, creationTimestamp), writes with a
stale resourceVersion conflict, and failures are Kubernetes `Status` documents with the real
reasons and messages (`clusterroles.rbac.authorization.k8s.io "x" not found`), because the
product turns those into user-facing errors.
"""

from __future__ import annotations

import copy
import datetime as _dt
import json
import re
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from provisioner.fsutil import write_json


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    name: str  # plural, as in the URL
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    short_names: tuple[str, ...] = ()

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`clusterroles.rbac.authorization.k8s.io`, or `services` for the core group (error messages)."""
        return f"{self.name}.{self.group}" if self.group else self.name

    @property
    def singular(self) -> str:
        return self.kind.lower()


_CRUD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", False, ("create", "delete", "get", "list", "patch", "update", "watch"), ("ns",)),
    Resource("", "v1", "services", "Service", True, _CRUD, ("svc",)),
    Resource("", "v1", "configmaps", "ConfigMap", True, _CRUD, ("cm",)),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", True, _CRUD, ("sa",)),
    Resource("", "v1", "secrets", "Secret", True, _CRUD),
    Resource("", "v1", "pods", "Pod", True, _CRUD, ("po",)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, ("create",)),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ("create",)),
    Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, ("create",)),
)


def find_resource(group: str, version: str, name: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.name) == (group, version, name):
            return resource
    return None


def group_versions() -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        versions = groups.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return groups


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# errors ------------------------------------------------------------------------------------------
class ApiError(Exception):
    """A request the apiserver refuses; `status` is the body it sends."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }
        if details:
            self.status["details"] = details


def _details(resource: Resource, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource.group:
        details["group"] = resource.group
    details["kind"] = resource.name
    return details


def not_found(resource: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.qualified} "{name}" not found', _details(resource, name))


def already_exists(resource: Resource, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource.qualified} "{name}" already exists', _details(resource, name))


def conflict(resource: Resource, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource.qualified} "{name}": the object '
                    "has been modified; please apply your changes to the latest version and try again",
                    _details(resource, name))


def invalid(resource: Resource, name: str, field: str, problem: str) -> ApiError:
    kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
    details = {**_details(resource, name), "kind": resource.kind,
               "causes": [{"reason": "FieldValueInvalid", "message": problem, "field": field}]}
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {field}: {problem}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


# label selectors ---------------------------------------------------------------------------------
_SET_TERM = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_selector(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        terms.append(current)
    return terms


def matches_labels(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes' label selector syntax: `a=b`, `a==b`, `a!=b`, `a`, `!a`, `a in (x,y)`, `a notin (x)`."""
    for term in _split_selector(selector or ""):
        term = term.strip()
        set_term = _SET_TERM.match(term)
        if set_term:
            key, op, values = set_term.group(1), set_term.group(2), {v.strip() for v in set_term.group(3).split(",")}
            inside = key in labels and labels[key] in values
            if inside != (op == "in"):
                return False
            continue
        if "!=" in term:
            key, value = (part.strip() for part in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (part.strip() for part in re.split(r"==?", term, maxsplit=1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def matches_fields(selector: str, obj: dict[str, Any]) -> bool:
    for term in _split_selector(selector or ""):
        negate = "!=" in term
        key, value = (part.strip() for part in re.split(r"!=|==?", term, maxsplit=1))
        field = {"metadata.name": obj["metadata"].get("name"),
                 "metadata.namespace": obj["metadata"].get("namespace")}.get(key)
        if (field == value) == negate:
            return False
    return True


# patches -----------------------------------------------------------------------------------------
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386. Also serves strategic merge for the kinds stored here (their lists are replaced)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _without_directives(patch: Any) -> Any:
    """Strategic-merge directives (`$setElementOrder/...`, `$retainKeys`) only order or prune lists."""
    if isinstance(patch, dict):
        return {k: _without_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [_without_directives(v) for v in patch]
    return patch


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 (add, remove, replace, test)."""
    document = copy.deepcopy(target)
    for op in operations:
        parts = _pointer(op["path"])
        parent = document
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        kind = op["op"]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, op["value"])
            elif kind == "remove":
                parent.pop(index)
            elif kind == "replace":
                parent[index] = op["value"]
            elif kind == "test" and parent[index] != op["value"]:
                raise bad_request(f"the server rejected our request due to an error in our request: test failed at {op['path']}")
        else:
            if kind in ("add", "replace"):
                if kind == "replace" and last not in parent:
                    raise ApiError(422, "Invalid", f"the server rejected our request due to an error in our request: "
                                   f"replace operation does not apply: doc is missing key: {op['path']}")
                parent[last] = op["value"]
            elif kind == "remove":
                if last not in parent:
                    raise ApiError(422, "Invalid", f"remove operation does not apply: doc is missing path: {op['path']}")
                del parent[last]
            elif kind == "test" and parent.get(last) != op["value"]:
                raise bad_request(f"the server rejected our request due to an error in our request: test failed at {op['path']}")
    return document


# validation --------------------------------------------------------------------------------------
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAMES = {"namespaces", "services"}
_RBAC_BINDINGS = {"clusterrolebindings": ("ClusterRole",), "rolebindings": ("ClusterRole", "Role")}


def validate(resource: Resource, obj: dict[str, Any], current: dict[str, Any] | None = None) -> None:
    """The validation a user would trip over: names, and a binding's roleRef (required, immutable)."""
    name = obj["metadata"]["name"]
    if resource.name in _LABEL_NAMES:
        if len(name) > 63 or not _DNS_LABEL.match(name):
            raise invalid(resource, name, "metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label '
                          "must consist of lower case alphanumeric characters or '-', and must start and end with "
                          "an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
                          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
    elif resource.group == "rbac.authorization.k8s.io":
        if name in (".", "..") or "/" in name or "%" in name:
            raise invalid(resource, name, "metadata.name", f'Invalid value: "{name}": may not contain \'/\' or \'%\'')
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise invalid(resource, name, "metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain '
                      "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
                      "an alphanumeric character")
    kinds = _RBAC_BINDINGS.get(resource.name)
    if kinds is None:
        return
    ref = obj.get("roleRef") or {}
    if not ref.get("name"):
        raise invalid(resource, name, "roleRef.name", "Required value")
    if ref.get("kind") not in kinds:
        supported = ", ".join(f'"{k}"' for k in kinds)
        raise invalid(resource, name, "roleRef.kind", f'Unsupported value: "{ref.get("kind", "")}": supported values: {supported}')
    if current is not None and (current.get("roleRef") or {}) != ref:
        raise invalid(resource, name, "roleRef", f"Invalid value: {json.dumps(ref)}: cannot change roleRef")
    for index, subject in enumerate(obj.get("subjects") or []):
        if subject.get("kind") not in ("User", "Group", "ServiceAccount"):
            raise invalid(resource, name, f"subjects[{index}].kind", f'Unsupported value: "{subject.get("kind", "")}": '
                          'supported values: "Group", "ServiceAccount", "User"')


# the store ---------------------------------------------------------------------------------------
def _key(resource: Resource, namespace: str | None, name: str) -> str:
    return "/".join([resource.group or "core", resource.name, namespace or "", name])


class Store:
    """Objects by resource, namespace and name; every write is saved to `path` before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.RLock()
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.revision: int = saved.get("revision", 0)
        self.objects: dict[str, dict[str, Any]] = saved.get("objects", {})
        self._deferred = False

    def _save(self) -> None:
        if not self._deferred:
            write_json(self.path, {"revision": self.revision, "objects": self.objects})

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Write once at the end (seeding a cluster at boot makes dozens of objects)."""
        with self.lock:
            self._deferred = True
            try:
                yield
            finally:
                self._deferred = False
                self._save()

    # reads ---------------------------------------------------------------------------------------
    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get(_key(resource, namespace, name))
            if obj is None:
                raise not_found(resource, name)
            return copy.deepcopy(obj)

    def list(self, resource: Resource, namespace: str | None, label_selector: str = "",
             field_selector: str = "") -> tuple[list[dict[str, Any]], str]:
        prefix = "/".join([resource.group or "core", resource.name, ""])
        with self.lock:
            items = [
                copy.deepcopy(obj) for key, obj in sorted(self.objects.items())
                if key.startswith(prefix)
                and (namespace is None or obj["metadata"].get("namespace") == namespace)
                and matches_labels(label_selector, obj["metadata"].get("labels") or {})
                and matches_fields(field_selector, obj)
            ]
            return items, str(self.revision)

    # writes --------------------------------------------------------------------------------------
    def _require_namespace(self, resource: Resource, namespace: str | None) -> None:
        if resource.namespaced and _key(NAMESPACES, None, namespace or "") not in self.objects:
            raise not_found(NAMESPACES, namespace or "")

    def create(self, resource: Resource, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        metadata = body.get("metadata") or {}
        name = metadata.get("name")
        if not name and metadata.get("generateName"):
            name = metadata["generateName"] + uuid.uuid4().hex[:5]
        if not name:
            raise invalid(resource, "", "metadata.name", "Required value: name or generateName is required")
        if resource.namespaced and metadata.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        with self.lock:
            self._require_namespace(resource, namespace)
            key = _key(resource, namespace, name)
            if key in self.objects:
                raise already_exists(resource, name)
            obj = copy.deepcopy(body)
            obj["kind"], obj["apiVersion"] = resource.kind, resource.group_version
            obj["metadata"] = self._fresh_metadata(metadata, name, namespace if resource.namespaced else None)
            validate(resource, obj)
            if resource is NAMESPACES:
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj["status"] = {"phase": "Active"}
            self.revision += 1
            obj["metadata"]["resourceVersion"] = str(self.revision)
            self.objects[key] = obj
            self._save()
            return copy.deepcopy(obj)

    def _fresh_metadata(self, metadata: dict[str, Any], name: str, namespace: str | None) -> dict[str, Any]:
        fresh = {k: v for k, v in metadata.items() if k not in ("resourceVersion", "uid", "creationTimestamp",
                                                                  "generateName", "managedFields", "selfLink")}
        fresh["name"] = name
        if namespace is not None:
            fresh["namespace"] = namespace
        else:
            fresh.pop("namespace", None)
        fresh["uid"] = str(uuid.uuid4())
        fresh["creationTimestamp"] = now_rfc3339()
        return fresh

    def replace(self, resource: Resource, namespace: str | None, name: str, body: dict[str, Any]) -> dict[str, Any]:
        metadata = body.get("metadata") or {}
        if metadata.get("name") not in (None, name):
            raise bad_request("the name of the object does not match the name on the URL")
        with self.lock:
            current = self.get(resource, namespace, name)
            sent_version = metadata.get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            return self._write(resource, namespace, name, current, body)

    def patch(self, resource: Resource, namespace: str | None, name: str, content_type: str, patch: Any) -> dict[str, Any]:
        with self.lock:
            current = self.get(resource, namespace, name)
            if content_type.startswith("application/json-patch+json"):
                if not isinstance(patch, list):
                    raise bad_request("json patch must be a list of operations")
                patched = json_patch(current, patch)
            else:
                if not isinstance(patch, dict):
                    raise bad_request("merge patch must be a JSON object")
                if content_type.startswith("application/strategic-merge-patch+json"):
                    patch = _without_directives(patch)
                patched = merge_patch(current, patch)
            sent_version = (patched.get("metadata") or {}).get("resourceVersion")
            if sent_version and sent_version != current["metadata"]["resourceVersion"]:
                raise conflict(resource, name)
            return self._write(resource, namespace, name, current, patched)

    def _write(self, resource: Resource, namespace: str | None, name: str, current: dict[str, Any],
               body: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(body)
        obj["kind"], obj["apiVersion"] = resource.kind, resource.group_version
        metadata = dict(obj.get("metadata") or {})
        for kept in ("uid", "creationTimestamp", "name"):
            metadata[kept] = current["metadata"][kept]
        if resource.namespaced:
            metadata["namespace"] = namespace
        if resource is NAMESPACES:
            obj["status"] = current.get("status", {"phase": "Active"})
        validate(resource, {**obj, "metadata": metadata}, current)
        if {k: v for k, v in obj.items() if k != "metadata"} == {k: v for k, v in current.items() if k != "metadata"} \
                and {k: v for k, v in metadata.items() if k != "resourceVersion"} == \
                {k: v for k, v in current["metadata"].items() if k != "resourceVersion"}:
            return current  # a no-op write keeps the resourceVersion, as the real apiserver does
        self.revision += 1
        metadata["resourceVersion"] = str(self.revision)
        obj["metadata"] = metadata
        self.objects[_key(resource, namespace, name)] = obj
        self._save()
        return copy.deepcopy(obj)

    def delete(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            obj = self.get(resource, namespace, name)
            del self.objects[_key(resource, namespace, name)]
            if resource is NAMESPACES:  # the namespace controller empties it; here it happens at once
                for key in [k for k, o in self.objects.items() if o["metadata"].get("namespace") == name]:
                    del self.objects[key]
                obj["status"] = {"phase": "Terminating"}
                obj["metadata"]["deletionTimestamp"] = now_rfc3339()
            self.revision += 1
            self._save()
            return obj

    def delete_collection(self, resource: Resource, namespace: str | None, label_selector: str,
                          field_selector: str) -> list[dict[str, Any]]:
        with self.lock:
            items, _ = self.list(resource, namespace, label_selector, field_selector)
            for obj in items:
                del self.objects[_key(resource, obj["metadata"].get("namespace"), obj["metadata"]["name"])]
            if items:
                self.revision += 1
                self._save()
            return items

    def seed(self, resource: Resource, namespace: str | None, body: dict[str, Any]) -> None:
        """Create at boot unless present: bootstrap objects come back after a user deletes them, like the real ones."""
        try:
            self.create(resource, namespace, body)
        except ApiError:
            pass


NAMESPACES = find_resource("", "v1", "namespaces")  # type: ignore[assignment]

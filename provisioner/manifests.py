"""The lab's RBAC: rendered from templates/, parsed back, and applied with the kubernetes client.

Templates use Jinja2 with StrictUndefined and the result is parsed with `yaml.safe_load` before
anything is sent, so a template mistake stops `lab up` before the cluster changes. Every object
carries the lab's labels; applying adopts the lab's own objects, refuses same-named ones it did not
create, and deletes the lab's objects that the config no longer asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import os
import sys

from .config import LAB_CLUSTER_ROLES, LabConfig
from .errors import ClusterError, LabError
from .progress import Reporter
from .records import ManifestsRecord
from .state import LabState

MANAGED_BY = "app.kubernetes.io/managed-by"
LAB_LABEL = "oidc-lab.io/lab"


def templates_dir() -> Path:
    """$OIDC_LAB_TEMPLATES, else the checkout's templates/, else the installed copy under <prefix>/share."""
    explicit = os.environ.get("OIDC_LAB_TEMPLATES")
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "oidc-lab" / "templates"


def selector(lab: LabConfig | str) -> str:
    name = lab if isinstance(lab, str) else lab.name
    return f"{MANAGED_BY}=oidc-lab,{LAB_LABEL}={name}"


def cluster_role_name(lab: LabConfig, role: str) -> str:
    """The ClusterRole object behind a role of lab.yaml: the lab's own roles are named per lab
    (`<lab>-admin-role`), so several labs on one profile never claim the same cluster-wide name."""
    return f"{lab.name}-{role}" if role in LAB_CLUSTER_ROLES else role


@dataclass(frozen=True)
class Binding:
    """A ClusterRole and everyone bound to it, named as the apiserver names them."""

    role: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sandbox:
    """A user's own namespace and the role they hold in it."""

    namespace: str
    user: str
    role: str


@dataclass(frozen=True)
class Rbac:
    """Everything the lab grants: cluster-wide bindings and per-user namespaces."""

    bindings: tuple[Binding, ...]
    sandboxes: tuple[Sandbox, ...] = ()


def rbac_for(lab: LabConfig, usernames: dict[str, str], group_for: Callable[[str], str]) -> Rbac:
    """One binding per role (users by their Kubernetes username, groups with the groups prefix),
    and a namespace per user when `namespaces.per_user` is on."""
    users: dict[str, list[str]] = {}
    groups: dict[str, list[str]] = {}
    for user in lab.users:
        if user.role:
            users.setdefault(user.role, []).append(usernames[user.handle])
    for group in lab.groups:
        groups.setdefault(group.role, []).append(group_for(group.name))
    roles = sorted(set(users) | set(groups))
    bindings = tuple(Binding(role, tuple(users.get(role, ())), tuple(groups.get(role, ()))) for role in roles)
    sandboxes = tuple(
        Sandbox(lab.namespace_for(user), usernames[user.handle], lab.namespaces.role)
        for user in lab.users if lab.namespace_for(user)
    )
    return Rbac(bindings, sandboxes)


def render(lab: LabConfig, rbac: Rbac) -> list[dict[str, Any]]:
    """The lab's objects in the order they can be created (namespaces before what lives in them)."""
    import jinja2
    import yaml

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    wanted_roles = {binding.role for binding in rbac.bindings}
    jobs: list[tuple[str, dict[str, Any]]] = [
        ("namespace.yaml.j2", {"lab": lab, "namespace": box.namespace}) for box in rbac.sandboxes
    ]
    jobs += [(f"{role}.yaml.j2", {"lab": lab}) for role in LAB_CLUSTER_ROLES if role in wanted_roles]
    jobs += [
        ("cluster-role-binding.yaml.j2", {"lab": lab, "role": b.role, "role_ref": cluster_role_name(lab, b.role),
                                          "users": b.users, "groups": b.groups})
        for b in rbac.bindings
    ]
    jobs += [
        ("role-binding.yaml.j2", {"lab": lab, "namespace": box.namespace, "user": box.user, "role": box.role})
        for box in rbac.sandboxes
    ]
    objects = []
    for template, context in jobs:
        try:
            text = env.get_template(template).render(**context)
            # libyaml's loader (same safe rules): the binding of a room of 500 parses in milliseconds
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except jinja2.TemplateNotFound as exc:
            raise LabError(f"template {exc.name} is missing from {templates_dir()}",
                           "reinstall oidc-lab or set OIDC_LAB_TEMPLATES to the templates folder") from None
        except jinja2.TemplateError as exc:
            raise LabError(f"template {template} failed to render: {exc}", "fix the template and run again") from None
        except yaml.YAMLError as exc:
            raise LabError(f"template {template} does not render to valid YAML: {exc}",
                           "fix the template's indentation or quoting") from None
        if not isinstance(document, dict) or document.get("kind") not in _KINDS \
                or not document.get("metadata", {}).get("name"):
            raise LabError(f"template {template} does not render a {'/'.join(_KINDS)} with metadata.name",
                           "fix the template")
        objects.append(document)
    return objects


@dataclass(frozen=True)
class _Kind:
    """How the kubernetes client reads, writes and lists one kind (method names follow its pattern)."""

    api: str  # "CoreV1Api" or "RbacAuthorizationV1Api"
    noun: str  # e.g. "cluster_role_binding"
    namespaced: bool = False
    immutable: tuple[str, ...] = ()

    def method(self, verb: str) -> str:
        if verb == "list":
            return f"list_{self.noun}_for_all_namespaces" if self.namespaced else f"list_{self.noun}"
        return f"{verb}_namespaced_{self.noun}" if self.namespaced else f"{verb}_{self.noun}"


#: In creation order; teardown deletes in the reverse order (a namespace last, with what it holds).
_KINDS = {
    "Namespace": _Kind("CoreV1Api", "namespace"),
    "ClusterRole": _Kind("RbacAuthorizationV1Api", "cluster_role"),
    "ClusterRoleBinding": _Kind("RbacAuthorizationV1Api", "cluster_role_binding", immutable=("roleRef",)),
    "RoleBinding": _Kind("RbacAuthorizationV1Api", "role_binding", namespaced=True, immutable=("roleRef",)),
}
_SPEC_KEYS = ("rules", "aggregationRule", "roleRef", "subjects")


@dataclass(frozen=True, order=True)
class Ref:
    """Which object: `Kind/name`, or `Kind/namespace/name` for namespaced kinds."""

    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> "Ref":
        return cls(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))

    @classmethod
    def parse(cls, key: str) -> "Ref":
        parts = key.split("/")
        return cls(parts[0], parts[-1], parts[1] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


def _differs(wanted: dict[str, Any], live: dict[str, Any]) -> bool:
    if any((wanted.get(k) or None) != (live.get(k) or None) for k in _SPEC_KEYS):
        return True
    labels = live.get("metadata", {}).get("labels") or {}
    return any(labels.get(k) != v for k, v in wanted["metadata"].get("labels", {}).items())


class Manifests:
    """The lab's objects in one cluster. `api_client` is asked for the admin client at the first
    call (after any restart of the cluster); whoever made the client closes it."""

    def __init__(self, lab: LabConfig, api_client: Callable[[], Any], ui: Reporter) -> None:
        self.lab = lab
        self._factory = api_client
        self.ui = ui
        self._client = None
        self._apis: dict[str, Any] = {}

    def _api(self, name: str):
        if name not in self._apis:
            from kubernetes import client

            if self._client is None:
                self._client = self._factory()
            self._apis[name] = getattr(client, name)(self._client)
        return self._apis[name]

    def _call(self, ref_kind: str, verb: str, *args, **kwargs):
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        kind = _KINDS[ref_kind]
        method = kind.method(verb)
        try:
            return getattr(self._api(kind.api), method)(*args, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status in (401, 403):
                raise ClusterError(f"the cluster refused the admin credentials of profile {self.lab.cluster.profile!r} "
                                   f"({exc.status} {exc.reason})",
                                   "check that the kubeconfig context of the profile is minikube's admin") from None
            raise ClusterError(f"the cluster answered {exc.status} {exc.reason} to {method}",
                               "run the command again; see `minikube logs` if it persists") from None
        except (OSError, HTTPError) as exc:  # urllib3 wraps connection errors in its own hierarchy
            raise ClusterError(f"cannot reach the apiserver of profile {self.lab.cluster.profile!r} ({type(exc).__name__})",
                               f"check `minikube status -p {self.lab.cluster.profile}`") from None

    def _where(self, ref: Ref) -> dict[str, Any]:
        return {"namespace": ref.namespace} if _KINDS[ref.kind].namespaced else {}

    def _live(self, ref: Ref) -> dict[str, Any] | None:
        obj = self._call(ref.kind, "read", ref.name, **self._where(ref))
        return None if obj is None else self._client.sanitize_for_serialization(obj)

    def _owned(self, live: dict[str, Any]) -> bool:
        labels = live.get("metadata", {}).get("labels") or {}
        return labels.get(MANAGED_BY) == "oidc-lab" and labels.get(LAB_LABEL) == self.lab.name

    def _lab_objects(self) -> list[Ref]:
        found = []
        for kind in _KINDS:
            listing = self._call(kind, "list", label_selector=selector(self.lab))
            for item in (listing.items if listing is not None else []):
                found.append(Ref(kind, item.metadata.name, item.metadata.namespace if _KINDS[kind].namespaced else None))
        return found

    # plan / apply / teardown -------------------------------------------------------------------
    def changes(self, objects: list[dict[str, Any]]) -> list[tuple[str, Ref, dict[str, Any] | None]]:
        """(action, object, body) for every object that is missing, different or no longer wanted."""
        result = []
        wanted = set()
        for obj in objects:
            ref = Ref.of(obj)
            wanted.add(ref)
            live = self._live(ref)
            if live is None:
                result.append(("create", ref, obj))
            elif not self._owned(live):
                raise ClusterError(
                    f"{ref.kind} {ref.name!r} already exists in the cluster and was not created by lab {self.lab.name!r}",
                    f"delete it (`kubectl delete {ref.kind.lower()} {ref.name}`) if it is a leftover, or use another cluster profile",
                )
            elif _differs(obj, live):
                result.append(("update", ref, {**obj, "_live": live}))
        stale = [ref for ref in self._lab_objects() if ref not in wanted]
        result += [("delete", ref, None) for ref in _deletion_order(stale)]
        return result

    def plan(self, objects: list[dict[str, Any]]) -> list[str]:
        return [f"{action} {ref}" for action, ref, _ in self.changes(objects)]

    def apply(self, objects: list[dict[str, Any]], state: LabState) -> int:
        recorded = state.get(ManifestsRecord) or ManifestsRecord()
        state.put(ManifestsRecord(tuple(sorted(set(recorded.objects) | {str(Ref.of(o)) for o in objects}))))
        changes = self.changes(objects)
        for action, ref, obj in changes:
            self.ui.update(f"{action} {ref}")
            where = self._where(ref)
            if action == "create":
                self._call(ref.kind, "create", body=obj, **where)
            elif action == "update":
                live = obj.pop("_live")
                if any(live.get(k) != obj.get(k) for k in _KINDS[ref.kind].immutable):
                    self._call(ref.kind, "delete", ref.name, **where)
                    self._call(ref.kind, "create", body=obj, **where)
                else:
                    version = live["metadata"].get("resourceVersion")
                    body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}
                    self._call(ref.kind, "replace", ref.name, body=body, **where)
            else:
                self._call(ref.kind, "delete", ref.name, **where)
        state.put(ManifestsRecord(tuple(sorted(str(Ref.of(o)) for o in objects))))
        return len(changes)

    def teardown(self, state: LabState) -> int:
        """Delete every object carrying the lab's labels (and any the state recorded that still is ours)."""
        recorded = state.get(ManifestsRecord) or ManifestsRecord()
        targets = set(self._lab_objects())
        for key in recorded.objects:
            ref = Ref.parse(key)
            if ref.kind in _KINDS and ref not in targets:
                live = self._live(ref)
                if live is not None and self._owned(live):
                    targets.add(ref)
        ordered = _deletion_order(targets)
        for ref in ordered:
            self.ui.update(f"delete {ref}")
            self._call(ref.kind, "delete", ref.name, **self._where(ref))
        state.forget(ManifestsRecord)
        return len(ordered)


def _deletion_order(refs) -> list[Ref]:
    """Bindings before roles, namespaces last: the reverse of creation order."""
    rank = {kind: index for index, kind in enumerate(_KINDS)}
    return sorted(refs, key=lambda ref: (-rank[ref.kind], ref))

"""The lab's RBAC: rendered from templates/, parsed back, and applied with the kubernetes client.

Templates use Jinja2 with StrictUndefined and the result is parsed with `yaml.safe_load` before
anything is sent, so a template mistake stops `lab up` before the cluster changes. Every object
carries the lab's labels; applying adopts the lab's own objects, refuses same-named ones it did not
create, and deletes the lab's objects that the config no longer asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import os
import sys

from .config import LAB_CLUSTER_ROLES, LabConfig
from .errors import ClusterError, LabError
from .progress import Reporter
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


@dataclass(frozen=True)
class Binding:
    """A ClusterRole and everyone bound to it, named as the apiserver names them."""

    role: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


def bindings_for(lab: LabConfig, usernames: dict[str, str], group_for: Callable[[str], str]) -> list[Binding]:
    """One binding per role: users by their Kubernetes username, groups with the groups prefix."""
    users: dict[str, list[str]] = {}
    groups: dict[str, list[str]] = {}
    for user in lab.users:
        if user.role:
            users.setdefault(user.role, []).append(usernames[user.handle])
    for group in lab.groups:
        groups.setdefault(group.role, []).append(group_for(group.name))
    roles = sorted(set(users) | set(groups))
    return [Binding(role, tuple(users.get(role, ())), tuple(groups.get(role, ()))) for role in roles]


def render(lab: LabConfig, bindings: list[Binding]) -> list[dict[str, Any]]:
    import jinja2
    import yaml

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    wanted_roles = {binding.role for binding in bindings}
    jobs: list[tuple[str, dict[str, Any]]] = [
        (f"{role}.yaml.j2", {"lab": lab}) for role in LAB_CLUSTER_ROLES if role in wanted_roles
    ]
    jobs += [
        ("cluster-role-binding.yaml.j2", {"lab": lab, "role": b.role, "users": b.users, "groups": b.groups})
        for b in bindings
    ]
    objects = []
    for template, context in jobs:
        try:
            text = env.get_template(template).render(**context)
            document = yaml.safe_load(text)
        except jinja2.TemplateNotFound as exc:
            raise LabError(f"template {exc.name} is missing from {templates_dir()}",
                           "reinstall oidc-lab or set OIDC_LAB_TEMPLATES to the templates folder") from None
        except jinja2.TemplateError as exc:
            raise LabError(f"template {template} failed to render: {exc}", "fix the template and run again") from None
        except yaml.YAMLError as exc:
            raise LabError(f"template {template} does not render to valid YAML: {exc}",
                           "fix the template's indentation or quoting") from None
        if not isinstance(document, dict) or not document.get("kind") or not document.get("metadata", {}).get("name"):
            raise LabError(f"template {template} does not render a Kubernetes object with kind and metadata.name",
                           "fix the template")
        objects.append(document)
    return objects


@dataclass
class _Kind:
    read: str
    create: str
    replace: str
    delete: str
    list: str
    immutable: tuple[str, ...] = field(default_factory=tuple)


_KINDS = {
    "ClusterRole": _Kind("read_cluster_role", "create_cluster_role", "replace_cluster_role",
                         "delete_cluster_role", "list_cluster_role"),
    "ClusterRoleBinding": _Kind("read_cluster_role_binding", "create_cluster_role_binding",
                                "replace_cluster_role_binding", "delete_cluster_role_binding",
                                "list_cluster_role_binding", immutable=("roleRef",)),
}
_SPEC_KEYS = ("rules", "aggregationRule", "roleRef", "subjects")


def _key(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _differs(wanted: dict[str, Any], live: dict[str, Any]) -> bool:
    if any((wanted.get(k) or None) != (live.get(k) or None) for k in _SPEC_KEYS):
        return True
    labels = live.get("metadata", {}).get("labels") or {}
    return any(labels.get(k) != v for k, v in wanted["metadata"].get("labels", {}).items())


class Manifests:
    section = "manifests"

    def __init__(self, lab: LabConfig, api_client_factory: Callable[[], Any], ui: Reporter) -> None:
        self.lab = lab
        self._factory = api_client_factory
        self.ui = ui
        self._api = None
        self._client = None

    @property
    def api(self):
        if self._api is None:
            from kubernetes import client

            self._client = self._factory()
            self._api = client.RbacAuthorizationV1Api(self._client)
        return self._api

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = self._api = None

    def _call(self, method: str, *args, **kwargs):
        from kubernetes.client.rest import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return getattr(self.api, method)(*args, **kwargs)
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

    def _live(self, kind: str, name: str) -> dict[str, Any] | None:
        obj = self._call(_KINDS[kind].read, name)
        return None if obj is None else self.api.api_client.sanitize_for_serialization(obj)

    def _owned(self, live: dict[str, Any]) -> bool:
        labels = live.get("metadata", {}).get("labels") or {}
        return labels.get(MANAGED_BY) == "oidc-lab" and labels.get(LAB_LABEL) == self.lab.name

    def _lab_objects(self) -> list[tuple[str, str]]:
        found = []
        for kind, ops in _KINDS.items():
            listing = self._call(ops.list, label_selector=selector(self.lab))
            for item in (listing.items if listing is not None else []):
                found.append((kind, item.metadata.name))
        return found

    # plan / apply / teardown -------------------------------------------------------------------
    def changes(self, objects: list[dict[str, Any]]) -> list[tuple[str, str, dict[str, Any] | None]]:
        """(action, key, object) for every object that is missing, different or no longer wanted."""
        result = []
        wanted_keys = set()
        for obj in objects:
            kind, name = obj["kind"], obj["metadata"]["name"]
            wanted_keys.add((kind, name))
            live = self._live(kind, name)
            if live is None:
                result.append(("create", _key(obj), obj))
            elif not self._owned(live):
                raise ClusterError(
                    f"{kind} {name!r} already exists in the cluster and was not created by lab {self.lab.name!r}",
                    f"delete it (`kubectl delete {kind.lower()} {name}`) if it is a leftover, or use another cluster profile",
                )
            elif _differs(obj, live):
                result.append(("update", _key(obj), {**obj, "_live": live}))
        for kind, name in self._lab_objects():
            if (kind, name) not in wanted_keys:
                result.append(("delete", f"{kind}/{name}", None))
        return result

    def plan(self, objects: list[dict[str, Any]]) -> list[str]:
        return [f"{action} {key}" for action, key, _ in self.changes(objects)]

    def apply(self, objects: list[dict[str, Any]], state: LabState) -> int:
        record = state.section(self.section)
        record["objects"] = sorted(set(record.get("objects", [])) | {_key(o) for o in objects})
        state.save()
        changes = self.changes(objects)
        for action, key, obj in changes:
            kind, name = key.split("/", 1)
            ops = _KINDS[kind]
            self.ui.update(f"{action} {key}")
            if action == "create":
                self._call(ops.create, body=obj)
            elif action == "update":
                live = obj.pop("_live")
                if any(live.get(k) != obj.get(k) for k in ops.immutable):
                    self._call(ops.delete, name)
                    self._call(ops.create, body=obj)
                else:
                    body = {**obj, "metadata": {**obj["metadata"], "resourceVersion": live["metadata"].get("resourceVersion")}}
                    self._call(ops.replace, name, body=body)
            else:
                self._call(ops.delete, name)
        record["objects"] = sorted(_key(o) for o in objects)
        state.save()
        return len(changes)

    def teardown(self, state: LabState) -> int:
        """Delete every object carrying the lab's labels (and any the state recorded that still is ours)."""
        record = state.section(self.section)
        targets = set(self._lab_objects())
        for key in record.get("objects", []):
            kind, name = key.split("/", 1)
            if kind in _KINDS and (kind, name) not in targets:
                live = self._live(kind, name)
                if live is not None and self._owned(live):
                    targets.add((kind, name))
        for kind, name in sorted(targets):
            self.ui.update(f"delete {kind}/{name}")
            self._call(_KINDS[kind].delete, name)
        state.drop(self.section)
        state.save()
        return len(targets)

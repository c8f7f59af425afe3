"""Request bodies in Kubernetes' protobuf encoding, read into the JSON shape the store keeps.

kubectl's typed commands (`auth whoami`, `auth can-i`, `create clusterrolebinding`, `create
namespace`, ...) send `application/vnd.kubernetes.protobuf`, not JSON, and the real apiserver reads
both. The envelope is the magic `k8s\\0` and a `runtime.Unknown` holding the type and the raw
message; the schemas below cover the kinds this double stores or reviews (field numbers from
k8s.io/api's generated.proto). Answers stay JSON: every client also accepts it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator

MAGIC = b"k8s\x00"

# schema: field number -> (json name, type, repeated); a type is a scalar name, a schema, or "map"
Schema = dict[int, tuple[str, Any, bool]]

TIME: Schema = {1: ("seconds", "int", False), 2: ("nanos", "int", False)}
OWNER_REFERENCE: Schema = {1: ("kind", "string", False), 3: ("name", "string", False), 4: ("uid", "string", False),
                           5: ("apiVersion", "string", False), 6: ("controller", "bool", False),
                           7: ("blockOwnerDeletion", "bool", False)}
OBJECT_META: Schema = {
    1: ("name", "string", False), 2: ("generateName", "string", False), 3: ("namespace", "string", False),
    5: ("uid", "string", False), 6: ("resourceVersion", "string", False), 7: ("generation", "int", False),
    8: ("creationTimestamp", "time", False), 11: ("labels", "map", False), 12: ("annotations", "map", False),
    13: ("ownerReferences", OWNER_REFERENCE, True), 14: ("finalizers", "string", True),
}
POLICY_RULE: Schema = {1: ("verbs", "string", True), 2: ("apiGroups", "string", True), 3: ("resources", "string", True),
                       4: ("resourceNames", "string", True), 5: ("nonResourceURLs", "string", True)}
LABEL_SELECTOR_REQUIREMENT: Schema = {1: ("key", "string", False), 2: ("operator", "string", False),
                                      3: ("values", "string", True)}
LABEL_SELECTOR: Schema = {1: ("matchLabels", "map", False), 2: ("matchExpressions", LABEL_SELECTOR_REQUIREMENT, True)}
AGGREGATION_RULE: Schema = {1: ("clusterRoleSelectors", LABEL_SELECTOR, True)}
SUBJECT: Schema = {1: ("kind", "string", False), 2: ("apiGroup", "string", False), 3: ("name", "string", False),
                   4: ("namespace", "string", False)}
ROLE_REF: Schema = {1: ("apiGroup", "string", False), 2: ("kind", "string", False), 3: ("name", "string", False)}
RESOURCE_ATTRIBUTES: Schema = {1: ("namespace", "string", False), 2: ("verb", "string", False),
                               3: ("group", "string", False), 4: ("version", "string", False),
                               5: ("resource", "string", False), 6: ("subresource", "string", False),
                               7: ("name", "string", False)}
NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", "string", False), 2: ("verb", "string", False)}

KINDS: dict[str, Schema] = {
    "SelfSubjectReview": {1: ("metadata", OBJECT_META, False)},
    "SelfSubjectAccessReview": {1: ("metadata", OBJECT_META, False), 2: ("spec", {
        1: ("resourceAttributes", RESOURCE_ATTRIBUTES, False), 2: ("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES, False),
    }, False)},
    "SelfSubjectRulesReview": {1: ("metadata", OBJECT_META, False), 2: ("spec", {1: ("namespace", "string", False)}, False)},
    "ClusterRole": {1: ("metadata", OBJECT_META, False), 2: ("rules", POLICY_RULE, True),
                    3: ("aggregationRule", AGGREGATION_RULE, False)},
    "Role": {1: ("metadata", OBJECT_META, False), 2: ("rules", POLICY_RULE, True)},
    "ClusterRoleBinding": {1: ("metadata", OBJECT_META, False), 2: ("subjects", SUBJECT, True), 3: ("roleRef", ROLE_REF, False)},
    "RoleBinding": {1: ("metadata", OBJECT_META, False), 2: ("subjects", SUBJECT, True), 3: ("roleRef", ROLE_REF, False)},
    "Namespace": {1: ("metadata", OBJECT_META, False), 2: ("spec", {1: ("finalizers", "string", True)}, False)},
    "ConfigMap": {1: ("metadata", OBJECT_META, False), 2: ("data", "map", False), 4: ("immutable", "bool", False)},
    "ServiceAccount": {1: ("metadata", OBJECT_META, False)},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int", False), 6: ("propagationPolicy", "string", False)},
}
UNKNOWN: Schema = {1: ("typeMeta", {1: ("apiVersion", "string", False), 2: ("kind", "string", False)}, False),
                   2: ("raw", "bytes", False), 3: ("contentEncoding", "string", False),
                   4: ("contentType", "string", False)}


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, index: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if index >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, index
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    index = 0
    while index < len(data):
        key, index = _varint(data, index)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, index = _varint(data, index)
        elif wire == 2:
            length, index = _varint(data, index)
            value, index = data[index:index + length], index + length
        elif wire == 1:
            value, index = data[index:index + 8], index + 8
        elif wire == 5:
            value, index = data[index:index + 4], index + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield number, wire, value


def _scalar(kind: Any, value: Any) -> Any:
    if kind == "string":
        return value.decode()
    if kind == "bytes":
        return value
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return value - (1 << 64) if value >= (1 << 63) else value
    if kind == "time":
        seconds = decode(value, TIME).get("seconds", 0)
        return _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return decode(value, kind)


def decode(data: bytes, schema: Schema) -> dict[str, Any]:
    """A message as a dict, leaving out empty values as Kubernetes' JSON (omitempty) does."""
    result: dict[str, Any] = {}
    for number, _, value in _fields(data):
        if number not in schema:
            continue
        name, kind, repeated = schema[number]
        if kind == "map":
            entry = {n: v.decode() for n, _, v in _fields(value)}
            result.setdefault(name, {})[entry.get(1, "")] = entry.get(2, "")
            continue
        converted = _scalar(kind, value)
        if repeated:
            result.setdefault(name, []).append(converted)
        elif converted not in ("", {}, None, 0, False):
            result[name] = converted
    return result


def decode_object(body: bytes) -> dict[str, Any]:
    """An enveloped object (`k8s\\0` + runtime.Unknown) as the dict its JSON form would give."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    envelope = decode(body[len(MAGIC):], UNKNOWN)
    type_meta = envelope.get("typeMeta", {})
    kind = type_meta.get("kind", "")
    schema = KINDS.get(kind)
    if schema is None:
        raise ProtobufError(f"no protobuf schema for kind {kind!r} in the apiserver test double")
    obj = decode(envelope.get("raw", b""), schema)
    obj["kind"] = kind
    if type_meta.get("apiVersion"):
        obj["apiVersion"] = type_meta["apiVersion"]
    return obj

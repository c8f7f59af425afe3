"""lab.yaml, validated into typed objects.

Every error names the key, the bad value and what is allowed, because the person reading it is
an instructor ten minutes before a workshop. With no lab.yaml at all, the defaults make a
one-user lab on the built-in issuer, as in the Auth0 recipe (one admin user, `admin-role`).
`model` holds the typed lab, `values` the checks of single values (domains, issuer URLs, hosts),
`reading` turns a file into a lab and a validation error into one sentence.
"""

from .model import (
    ALLOWED_ROLES,
    BUILTIN_CLUSTER_ROLES,
    LAB_CLUSTER_ROLES,
    Auth0Spec,
    CasdoorSpec,
    ClusterSpec,
    GroupBinding,
    LabConfig,
    LocalSpec,
    NamespacesSpec,
    OidcSpec,
    RoomSpec,
    UserSpec,
)
from .reading import DEFAULT_FILE, load_config, parse_config
from .values import validate_auth0_domain, validate_issuer_url

__all__ = [
    "ALLOWED_ROLES", "BUILTIN_CLUSTER_ROLES", "DEFAULT_FILE", "LAB_CLUSTER_ROLES", "Auth0Spec", "CasdoorSpec",
    "ClusterSpec", "GroupBinding", "LabConfig", "LocalSpec", "NamespacesSpec", "OidcSpec", "RoomSpec", "UserSpec",
    "load_config", "parse_config", "validate_auth0_domain", "validate_issuer_url",
]

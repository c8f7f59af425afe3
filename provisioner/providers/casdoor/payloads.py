"""Pure functions: lab.yaml to Casdoor payloads ("expand"), Casdoor objects to facts ("flatten").

Payloads start from the `casdoor` SDK's own object models, so field names are the ones Casdoor's
Go structs use, and then set what the lab needs. Two SDK defaults are traps and are always
overridden: `grantTypes = [""]` (no grant at all) and `expireInHours = 0` (every token is born
expired).

Ownership: everything the lab creates carries its mark, so a lost state file or an interrupted
create can be recognised later, and nothing else is ever deleted. Organizations and applications
are named with the lab's prefix and marked in a descriptive field; groups carry it in their
display name; users carry it in `properties` and sign up through the lab's application.

Groups: Casdoor copies `user.groups` into the token as stored, and its own convention (its UI,
the application's `useGroupPathInToken`) is the group id `<organization>/<group>`. So the lab
makes each lab group a real Casdoor group, lists users in it by id, and binds that id.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from casdoor.application import Application
from casdoor.group import Group
from casdoor.organization import Organization
from casdoor.user import User

from ...config import LabConfig, UserSpec
from ...oidc.flows import BROWSER, grants_for, lab_flows, redirect_uris

GRANT_TYPES = ["password", "refresh_token"]  # what every lab's application allows; its flows may add more
MARK_KEY = "oidc-lab"


@dataclass(frozen=True)
class Names:
    """Where the lab's objects live in Casdoor."""

    organization: str
    application: str


def names(lab: LabConfig) -> Names:
    return Names(
        organization=lab.casdoor.organization or lab.name,
        application=lab.casdoor.application or f"{lab.name}-kubernetes",
    )


def mark(lab: LabConfig) -> str:
    """The lab's mark in free-text fields; the brackets keep lab `demo` from matching lab `demo2`."""
    return f"[{MARK_KEY}:{lab.name}]"


# organization -------------------------------------------------------------------------------------
def organization_payload(lab: LabConfig) -> dict[str, Any]:
    org = Organization()
    org.owner = "admin"
    org.name = names(lab).organization
    org.displayName = f"{lab.name} {mark(lab)}"
    org.websiteUrl = ""
    org.passwordType = "bcrypt"
    org.passwordOptions = ["AtLeast6"]
    org.countryCodes = ["US"]
    org.tags = []
    org.languages = ["en"]
    org.defaultApplication = names(lab).application
    return dict(org.to_dict())


def organization_is_marked(lab: LabConfig, org: dict[str, Any]) -> bool:
    return mark(lab) in (org.get("displayName") or "")


# application --------------------------------------------------------------------------------------
def application_payload(lab: LabConfig, client_id: str, client_secret: str) -> dict[str, Any]:
    app = Application()
    app.owner = "admin"
    app.name = names(lab).application
    app.displayName = f"Kubernetes ({lab.name})"
    app.description = f"kube-apiserver OIDC client, managed by oidc-lab {mark(lab)}"
    app.organization = names(lab).organization
    app.cert = "cert-built-in"
    app.enablePassword = True
    app.grantTypes = grant_types(lab)
    app.tags = []
    app.redirectUris = application_redirect_uris(lab)
    app.tokenFormat = "JWT"
    app.expireInHours = lab.casdoor.expire_in_hours
    app.refreshExpireInHours = max(lab.casdoor.expire_in_hours, 24 * 7)
    app.clientId = client_id
    app.clientSecret = client_secret
    return dict(app.to_dict())


def grant_types(lab: LabConfig) -> list[str]:
    """The password and refresh grants, plus `authorization_code` and the device code grant when the
    lab's users sign in by browser or device (object/token_oauth.go, GetOAuthToken: IsGrantTypeValid)."""
    return grants_for(lab_flows(lab))


def application_redirect_uris(lab: LabConfig) -> list[str]:
    """The loopback redirect URIs of the browser flow, and `lab serve`'s page: Casdoor's authorize
    page sends the browser only to a URI the application lists (object/application.go, IsRedirectUriValid)."""
    loopback = redirect_uris(lab.oidc.redirect_ports) if BROWSER in lab_flows(lab) else []
    return [*loopback, lab.serve.callback]


def application_is_marked(lab: LabConfig, app: dict[str, Any]) -> bool:
    return mark(lab) in (app.get("description") or "")


def application_drift(lab: LabConfig, app: dict[str, Any]) -> list[str]:
    """What in a lab-made application differs from lab.yaml, one phrase each."""
    changes = []
    if not set(grant_types(lab)) <= set(app.get("grantTypes") or []):
        changes.append(f"grant types {', '.join(grant_types(lab))}")
    if not set(application_redirect_uris(lab)) <= set(app.get("redirectUris") or []):
        changes.append(f"redirect URIs {', '.join(application_redirect_uris(lab))}")
    if float(app.get("expireInHours") or 0) != float(lab.casdoor.expire_in_hours):
        changes.append(f"expireInHours {lab.casdoor.expire_in_hours}")
    if app.get("organization") != names(lab).organization:
        changes.append(f"organization {names(lab).organization}")
    return changes


def application_update(lab: LabConfig, found: dict[str, Any]) -> dict[str, Any]:
    """A lab-made application brought back to lab.yaml; its other fields (and secret) are kept."""
    grants = list(found.get("grantTypes") or [])
    uris = [uri for uri in found.get("redirectUris") or [] if uri]
    return {
        **found,
        "grantTypes": grants + [g for g in grant_types(lab) if g not in grants],
        "redirectUris": uris + [u for u in application_redirect_uris(lab) if u not in uris],
        "expireInHours": lab.casdoor.expire_in_hours,
        "organization": names(lab).organization,
    }


def application_problems(app: dict[str, Any], lab: LabConfig | None = None) -> list[str]:
    """Why a borrowed application cannot serve kubectl, one sentence each (empty when it can)."""
    problems = []
    grants = app.get("grantTypes") or []
    if "password" not in grants:
        problems.append("it does not allow the password grant")
    if lab is not None:
        # authorization_code needs no listing (IsGrantTypeValid allows it always); the device grant does
        missing = [g for g in grant_types(lab) if g not in grants and g not in ("authorization_code", "refresh_token")]
        if missing:
            problems.append(f"it does not allow the grant {', '.join(missing)} the lab's sign-in flows need")
        # the loopback URIs only: `lab serve`'s page is optional, and a borrowed application is not changed for it
        uris = [u for u in application_redirect_uris(lab)
                if u not in (app.get("redirectUris") or []) and u != lab.serve.callback]
        if uris:
            problems.append(f"its redirect URIs lack {', '.join(uris)}")
    if float(app.get("expireInHours") or 0) <= 0:
        problems.append("its expireInHours is 0, so its tokens are born expired")
    if not app.get("clientSecret") or set(app["clientSecret"]) == {"*"}:
        problems.append("Casdoor did not reveal its client secret to the admin credentials")
    return problems


def new_client_credentials() -> tuple[str, str]:
    """A client id and secret in Casdoor's own format (20 and 40 hex digits).

    Made here, not by Casdoor, so the secret is saved before the create call: a reply lost on the
    way back cannot lose the secret with it.
    """
    return secrets.token_hex(10), secrets.token_hex(20)


# groups -------------------------------------------------------------------------------------------
def group_names(lab: LabConfig) -> list[str]:
    """Every group the lab names: those bound to roles and those its users are put in, in order."""
    seen: dict[str, None] = {}
    for binding in lab.groups:
        seen.setdefault(binding.name, None)
    for user in lab.users:
        for group in user.groups:
            seen.setdefault(group, None)
    return list(seen)


def group_id(lab: LabConfig, group: str) -> str:
    """The group as Casdoor's tokens carry it: `<organization>/<group>`."""
    return f"{names(lab).organization}/{group}"


def group_payload(lab: LabConfig, group: str) -> dict[str, Any]:
    model = Group.new(names(lab).organization, group, "", f"{group} {mark(lab)}")
    model.type = "Virtual"
    model.parentId = names(lab).organization  # a top group's parent is its organization
    model.isTopGroup = True
    model.isEnabled = True
    return dict(model.to_dict())


def group_is_marked(lab: LabConfig, group: dict[str, Any]) -> bool:
    return mark(lab) in (group.get("displayName") or "")


# users --------------------------------------------------------------------------------------------
def user_name(user: UserSpec) -> str:
    """The Casdoor user name, which the password grant takes: the handle, made valid for Casdoor.

    Casdoor accepts letters and digits joined by single hyphens or underscores, so a handle like
    `ada.lovelace` becomes `ada-lovelace`.
    """
    return re.sub(r"[^a-z0-9]+", "-", user.handle).strip("-")


def user_name_clashes(lab: LabConfig) -> list[tuple[str, str]]:
    """Pairs of lab users whose handles become the same Casdoor user name."""
    seen: dict[str, str] = {}
    clashes = []
    for user in lab.users:
        name = user_name(user)
        if name in seen:
            clashes.append((seen[name], user.handle))
        seen.setdefault(name, user.handle)
    return clashes


def user_payload(lab: LabConfig, user: UserSpec, password: str) -> dict[str, Any]:
    model = User()
    model.owner = names(lab).organization
    model.name = user_name(user)
    model.displayName = user.display_name
    model.email = user.email or ""
    model.password = password
    model.type = "normal-user"
    model.signupApplication = names(lab).application
    payload = dict(model.to_dict())
    payload["emailVerified"] = user.email_verified
    payload["groups"] = [group_id(lab, group) for group in user.groups]
    payload["properties"] = {MARK_KEY: lab.name}
    return payload


def user_is_marked(lab: LabConfig, user: dict[str, Any]) -> bool:
    return (user.get("properties") or {}).get(MARK_KEY) == lab.name


def user_drift(lab: LabConfig, spec: UserSpec, found: dict[str, Any]) -> list[str]:
    """What in a lab-made user differs from lab.yaml (the password cannot be read back)."""
    changes = []
    if (found.get("email") or "") != (spec.email or ""):
        changes.append("email")
    if bool(found.get("emailVerified")) != spec.email_verified:
        changes.append("emailVerified")
    if list(found.get("groups") or []) != [group_id(lab, group) for group in spec.groups]:
        changes.append("groups")
    if (found.get("displayName") or "") != spec.display_name:
        changes.append("displayName")
    return changes


def user_update(found: dict[str, Any], lab: LabConfig, spec: UserSpec) -> dict[str, Any]:
    """The found user with lab.yaml's fields, sent with `columns=` PROFILE_COLUMNS (see api.py)."""
    updated = {k: v for k, v in found.items() if k != "password"}
    wanted = user_payload(lab, spec, "")
    for key in ("email", "emailVerified", "groups", "displayName", "properties"):
        updated[key] = wanted[key]
    return updated


def password_update(found: dict[str, Any], password: str) -> dict[str, Any]:
    """The found user with a new password, sent with `columns=password`: without that column
    Casdoor's update-user answers Affected and keeps the old password (object/user.go, UpdateUser)."""
    return {**found, "password": password}


def password_digest(organization: str, name: str, password: str) -> str:
    """What state keeps to notice a changed password (Casdoor never reveals it): salted with the user's id."""
    return hashlib.sha256(f"{organization}/{name}\0{password}".encode()).hexdigest()


# flatten --------------------------------------------------------------------------------------------
def application_record(app: dict[str, Any], created: bool) -> dict[str, Any]:
    """What state keeps of the application: no secret."""
    return {
        "name": app["name"],
        "organization": app.get("organization"),
        "client_id": app.get("clientId"),
        "created": created,
    }

"""The lab's second application, a Native one, made when users sign in with the device flow or
the lab serves a room.

Auth0 offers the device authorization flow to Native applications with the Device Code grant and
OIDC Conformant on, and a Native application is a public client (`token_endpoint_auth_method:
none`): it has no secret to send. Its id_tokens carry its own client id as `aud`, and the
apiserver's `--oidc-client-id` trusts exactly one, so in such a lab this application is the one
every kubectl sign-in goes through (password, browser and device alike) and the one the cluster
trusts; the Regular Web Application stays for the lab's confidential uses. A room's attendees sign
in from their own laptops, where no client secret may go (issue 14): they too need this public
client, for the browser flow (PKCE, loopback callbacks) or the device flow.
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import LabConfig
from ...errors import ProviderError
from ...oidc.flows import AUTHORIZATION_CODE_GRANT, BROWSER, DEVICE, DEVICE_CODE_GRANT, lab_flows
from ...secrets import AUTH0_PASSWORD_REALM_GRANT
from .application import application_name, callbacks, drift_from
from .connection import ensure_enabled
from .marks import is_ours, mark
from .records import ClientRecord
from .run import Run

ROLE_KEY = "oidc_lab_role"  # beside the lab's mark: which of the lab's two applications this is
ROLE = "device"


def wanted(lab: LabConfig) -> bool:
    return DEVICE in lab_flows(lab) or lab.room is not None


def device_application_name(lab: LabConfig) -> str:
    return f"{application_name(lab)} (device)"


def grant_types(lab: LabConfig) -> list[str]:
    browser = [AUTHORIZATION_CODE_GRANT] if BROWSER in lab_flows(lab) else []
    return ["password", AUTH0_PASSWORD_REALM_GRANT, *browser, DEVICE_CODE_GRANT, "refresh_token"]


# expand and flatten ------------------------------------------------------------------------------
def client_payload(lab: LabConfig) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": device_application_name(lab),
        "description": f"Kubernetes OIDC lab {lab.name!r} (device sign-in), managed by oidc-lab",
        "app_type": "native",
        "grant_types": grant_types(lab),
        "token_endpoint_auth_method": "none",
        "oidc_conformant": True,
        "jwt_configuration": {"alg": "RS256"},
        "client_metadata": {**mark(lab), ROLE_KEY: ROLE},
    }
    if callbacks(lab):
        payload["callbacks"] = callbacks(lab)
    return payload


def client_drift(lab: LabConfig, api_client: Mapping[str, Any]) -> dict[str, Any]:
    return drift_from(client_payload(lab), api_client)


def client_record(api_client: Mapping[str, Any]) -> ClientRecord:
    return ClientRecord(client_id=api_client["client_id"], name=api_client["name"])


# against the tenant ------------------------------------------------------------------------------
def find(run: Run, *, strict: bool = True) -> dict[str, Any] | None:
    name = device_application_name(run.lab)
    matches = run.api.clients_named(name)
    ours = [c for c in matches if is_ours(c.get("client_metadata"), run.lab)]
    if ours:
        return ours[0]
    if matches and strict and wanted(run.lab):
        raise ProviderError(
            f"the Auth0 tenant already has an application named {name!r} that lab {run.lab.name!r} did not create",
            "set auth0.application in lab.yaml to another name, or delete that application if it is a leftover",
        )
    return None


def plan(run: Run) -> list[str]:
    recorded = run.record.device_application
    if recorded is None and not wanted(run.lab):
        return []
    found = run.api.client(recorded.client_id) if recorded else find(run)
    if not wanted(run.lab):
        return [f"delete the device sign-in application {found['name']!r} (no device sign-in, no room now)"] if found else []
    if found is None:
        return [f"create the Auth0 application {device_application_name(run.lab)!r} (Native, no secret; grants "
                f"{', '.join(grant_types(run.lab))}) for device sign-in and attendees; kubectl's tokens come from it"]
    drift = client_drift(run.lab, found)
    return [f"update the device sign-in application's {', '.join(sorted(drift))}"] if drift else []


def ensure(run: Run, connection: Mapping[str, Any]) -> str | None:
    """The Native application's client id when the lab needs one (created, adopted or updated, and
    enabled on the connection); otherwise a leftover one is deleted and None is answered."""
    if not wanted(run.lab):
        teardown(run)  # a lab that no longer signs anyone in by device
        return None
    api, recorded = run.api, run.record.device_application
    found = api.client(recorded.client_id) if recorded else None
    if found is None:
        found = find(run) or api.create_client(client_payload(run.lab), find=lambda: find(run))
        run.record.device_application = client_record(found)
        run.save()
    drift = client_drift(run.lab, found)
    if drift:
        api.update_client(found["client_id"], drift)
    ensure_enabled(run, connection, found["client_id"], record=False)
    return found["client_id"]


def teardown(run: Run) -> None:
    """Delete the recorded Native application, or, in a lab that asks for one, the lab's own found by
    name and mark (a run stopped between creating it and recording it). Labs without device sign-in
    spend no Management API call on it (free tenants allow two a second)."""
    target = run.record.device_application
    if target is None and wanted(run.lab):
        found = find(run, strict=False)
        target = client_record(found) if found else None
    if target is not None:
        run.api.delete_client(target.client_id)
    if run.record.device_application is not None:
        run.record.device_application = None
        run.save()

"""The lab's application: an Auth0 client (Regular Web Application) the plugin signs in through."""

from __future__ import annotations

from typing import Any, Mapping

from ...config import LabConfig
from ...errors import ProviderError
from ...oidc.flows import AUTHORIZATION_CODE_GRANT, BROWSER, lab_flows, redirect_uris
from ...secrets import AUTH0_PASSWORD_REALM_GRANT, LabSecrets
from .marks import is_ours, mark
from .records import ClientRecord
from .run import Run

#: What the lab needs: the password grants (plain and per-connection), the authorization code (browser
#: sign-in and `lab serve`'s page) and refresh tokens.
GRANT_TYPES = ("password", AUTH0_PASSWORD_REALM_GRANT, AUTHORIZATION_CODE_GRANT, "refresh_token")


def application_name(lab: LabConfig) -> str:
    return lab.auth0.application or f"oidc-lab {lab.name}"


def grant_types(lab: LabConfig) -> list[str]:
    return list(GRANT_TYPES)


def callbacks(lab: LabConfig) -> list[str]:
    """Auth0's Allowed Callback URLs: the loopback redirect URIs of the browser flow (when users sign
    in by browser) and the self-service page of `lab serve`."""
    loopback = redirect_uris(lab.oidc.redirect_ports) if BROWSER in lab_flows(lab) else []
    return [*loopback, lab.serve.callback]


# expand and flatten ------------------------------------------------------------------------------
def client_payload(lab: LabConfig) -> dict[str, Any]:
    """A Regular Web Application that may use the password grants and refresh tokens, and the
    authorization code flow back to the loopback redirect URIs when the lab's users sign in by browser.

    `jwt_configuration.alg` is explicit because an API-created client otherwise signs id_tokens
    with HS256, which kube-apiserver refuses.
    """
    payload = {
        "name": application_name(lab),
        "description": f"Kubernetes OIDC lab {lab.name!r}, managed by oidc-lab",
        "app_type": "regular_web",
        "grant_types": grant_types(lab),
        "token_endpoint_auth_method": "client_secret_post",
        "oidc_conformant": True,
        "jwt_configuration": {"alg": "RS256"},
        "client_metadata": mark(lab),
    }
    payload["callbacks"] = callbacks(lab)
    return payload


def client_drift(lab: LabConfig, api_client: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings an adopted application back to what the lab needs ({} if none)."""
    return drift_from(client_payload(lab), api_client)


def drift_from(wanted: Mapping[str, Any], api_client: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body from an application as Auth0 has it to the payload the lab would create
    (shared by the lab's applications: the regular one here and the device flow's Native one)."""
    patch: dict[str, Any] = {}
    if set(api_client.get("grant_types") or ()) != set(wanted["grant_types"]):
        patch["grant_types"] = wanted["grant_types"]
    for key in ("app_type", "token_endpoint_auth_method", "oidc_conformant"):
        if api_client.get(key) != wanted[key]:
            patch[key] = wanted[key]
    if (api_client.get("jwt_configuration") or {}).get("alg") != "RS256":
        patch["jwt_configuration"] = {"alg": "RS256"}
    present = list(api_client.get("callbacks") or [])
    missing = [uri for uri in wanted.get("callbacks", []) if uri not in present]
    if missing:
        patch["callbacks"] = present + missing  # the tenant's own callbacks stay
    return patch


def client_record(api_client: Mapping[str, Any]) -> ClientRecord:
    """The application as the state keeps it: no secret (that lives in credentials.json)."""
    return ClientRecord(client_id=api_client["client_id"], name=api_client["name"])


# against the tenant ------------------------------------------------------------------------------
def find(run: Run, *, strict: bool = True) -> dict[str, Any] | None:
    """The lab's application by name and mark. `strict` (lab up): a same-named application of
    someone else stops the lab; otherwise (lab down) it is passed over."""
    name = application_name(run.lab)
    matches = run.api.clients_named(name)
    ours = [client for client in matches if is_ours(client.get("client_metadata"), run.lab)]
    if ours:
        return ours[0]
    if matches and strict:
        raise ProviderError(
            f"the Auth0 tenant already has an application named {name!r} that lab {run.lab.name!r} did not create",
            "set auth0.application in lab.yaml to another name, or delete that application if it is a leftover",
        )
    return None


def plan(run: Run) -> list[str]:
    recorded = run.record.application
    application = run.api.client(recorded.client_id) if recorded else find(run)
    if application is None:
        return [
            f"create the Auth0 application {application_name(run.lab)!r} (Regular Web Application; grants "
            f"{', '.join(grant_types(run.lab))}; id_tokens signed RS256)"
        ]
    drift = client_drift(run.lab, application)
    return [f"update the application's {', '.join(sorted(drift))}"] if drift else []


def ensure(run: Run, secrets: LabSecrets) -> str:
    """Look up, adopt or create the application; keep its secret for the plugin. Its client id."""
    api, recorded = run.api, run.record.application
    application = api.client(recorded.client_id) if recorded else None
    if application is None:
        if recorded:
            run.ui.warn(f"the application {recorded.name!r} is gone from Auth0; making it again")
            run.record.application = None
            run.save()
        application = find(run)
        if application is None:
            application = api.create_client(client_payload(run.lab), find=lambda: find(run))
        run.record.application = client_record(application)
        run.save()
    client_id = application["client_id"]
    if "client_secret" not in application:
        application = api.client(client_id) or application  # look-ups by name carry no secret
    if application.get("client_secret"):
        secrets.set_client_secret(application["client_secret"])
    if not secrets.client_secret:
        raise ProviderError(
            f"Auth0 did not return the secret of the application {application['name']!r}",
            "grant the machine-to-machine application the read:client_keys scope and run lab up again",
        )
    drift = client_drift(run.lab, application)
    if drift:
        api.update_client(client_id, drift)
    return client_id


def recorded_or_found(run: Run) -> ClientRecord | None:
    """For lab down: the recorded application, or the lab's own found by name and mark (a run
    stopped between creating it and recording it)."""
    if run.record.application is not None:
        return run.record.application
    found = find(run, strict=False)
    return client_record(found) if found else None


def teardown(run: Run, application: ClientRecord | None, secrets: LabSecrets) -> None:
    if application is not None:
        run.api.delete_client(application.client_id)
    secrets.set_client_secret(None)

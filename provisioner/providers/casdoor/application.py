"""The lab's Casdoor application: the OAuth client kubectl's tokens are issued to.

Its secret is never kept. In Casdoor any application's client id and secret authenticate every
admin API call (authz/authz.go: `p, app, *, *, *, *, *`), so the lab application's secret would be
an admin credential for the whole server. It is not needed either: the password grant checks only
the client id, and the refresh grant checks the secret only when one is sent (object/token_oauth.go,
GetPasswordToken and RefreshToken). The lab makes the application with a client id of its own
choosing (so a lost reply cannot lose it) and a secret it throws away.
"""

from __future__ import annotations

from typing import Any

from ...errors import ProviderError
from . import payloads
from .common import Run, create_once, delete_for_sure
from .records import ApplicationRecord


def owns(run: Run, app: dict[str, Any]) -> bool:
    recorded = run.records.application
    return (recorded is not None and recorded.name == app["name"] and recorded.created) or \
        payloads.application_is_marked(run.lab, app)


def plan(run: Run, organization_exists: bool) -> list[str]:
    name = run.names.application
    app = run.api.get_application(name) if organization_exists else None
    if app is None:
        uris = payloads.application_redirect_uris(run.lab)
        return [f"create application {name!r} in {run.names.organization!r} with grant types "
                f"{', '.join(payloads.grant_types(run.lab))}, expireInHours {run.lab.casdoor.expire_in_hours}"
                + (f", redirect URIs {', '.join(uris)}" if uris else "")]
    if owns(run, app):
        drift = payloads.application_drift(run.lab, app)
        return [f"update application {name!r}: {', '.join(drift)}"] if drift else []
    if run.records.application is None:
        return [f"use the existing application {name!r} (borrowed, never deleted)"]
    return []


def ensure(run: Run) -> dict[str, Any]:
    name, organization = run.names.application, run.names.organization
    found = run.api.get_application(name)
    if found is None:
        client_id, _thrown_away = payloads.new_client_credentials()
        run.ui.update(f"creating application {name}")
        found = create_once(
            f"application {name!r}",
            lambda: run.api.add_application(payloads.application_payload(run.lab, client_id, _thrown_away)),
            lambda: run.api.get_application(name),
            lambda app: payloads.application_is_marked(run.lab, app),
        )
        created = True
    elif (found.get("organization") or "") != organization:
        raise ProviderError(
            f"Casdoor application {name!r} belongs to organization {found.get('organization')!r}, not {organization!r}",
            "choose another casdoor.application name, or set casdoor.organization to the application's organization",
        )
    elif owns(run, found):
        created = True
        drift = payloads.application_drift(run.lab, found)
        if drift:
            run.ui.update(f"updating application {name}: {', '.join(drift)}")
            run.api.update_application(payloads.application_update(run.lab, found))
            found = run.api.get_application(name) or found
    else:
        problems = payloads.application_problems(found, run.lab)
        if problems:
            raise ProviderError(
                f"Casdoor application {name!r} existed before the lab and cannot serve kubectl: {'; '.join(problems)}",
                "allow the password and refresh_token grants with expireInHours above 0 in Casdoor, "
                "or name a new application in casdoor.application for the lab to create",
            )
        created = False
        run.ui.info(f"using the existing Casdoor application {name!r}; lab down will keep it")
        if "refresh_token" not in (found.get("grantTypes") or []):
            run.ui.warn(f"Casdoor application {name!r} does not allow the refresh_token grant, "
                        "so `lab token` signs in with the password whenever a token expires")
    run.secrets.set_client_secret(None)  # a lab made by an older version kept it: forget it
    run.records.application = ApplicationRecord(name, found.get("organization"), found.get("clientId"), created)
    run.save()
    return found


def teardown(run: Run) -> None:
    record = run.records.application
    if record is None:
        return
    if record.created:
        organization = record.organization or run.names.organization
        run.ui.update(f"deleting application {record.name}")
        delete_for_sure(f"application {record.name!r}", lambda: run.api.delete_application(record.name, organization),
                        lambda: run.api.get_application(record.name))
    run.records.application = None
    run.secrets.set_client_secret(None)
    run.save()

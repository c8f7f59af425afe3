"""The lab's Casdoor organization: found and borrowed, or created (with casdoor.create_organization)."""

from __future__ import annotations

from typing import Any

from ...errors import ProviderError
from . import payloads
from .common import Run, create_once, delete_for_sure
from .records import OrganizationRecord


def missing(names: payloads.Names) -> ProviderError:
    name = names.organization
    return ProviderError(
        f"Casdoor has no organization {name!r} and casdoor.create_organization is false",
        "create the organization in Casdoor, name an existing one in casdoor.organization, "
        "or set casdoor.create_organization: true",
    )


def plan(run: Run) -> tuple[list[str], dict[str, Any] | None]:
    name = run.names.organization
    found = run.api.get_organization(name)
    if found is None:
        if not run.lab.casdoor.create_organization:
            raise missing(run.names)
        return [f"create organization {name!r}"], None
    if run.records.organization is None and not payloads.organization_is_marked(run.lab, found):
        return [f"use the existing organization {name!r} (borrowed, never deleted)"], found
    return [], found


def ensure(run: Run) -> None:
    name = run.names.organization
    recorded = run.records.organization
    found = run.api.get_organization(name)
    if found is not None:
        created = bool(recorded and recorded.created) or payloads.organization_is_marked(run.lab, found)
        if not created:
            run.ui.info(f"using the existing Casdoor organization {name!r}; lab down will keep it")
    else:
        if not run.lab.casdoor.create_organization:
            raise missing(run.names)
        run.ui.update(f"creating organization {name}")
        create_once(
            f"organization {name!r}",
            lambda: run.api.add_organization(payloads.organization_payload(run.lab)),
            lambda: run.api.get_organization(name),
            lambda org: payloads.organization_is_marked(run.lab, org),
        )
        created = True
    run.records.organization = OrganizationRecord(name, created)
    run.save()


def teardown(run: Run) -> None:
    record = run.records.organization
    if record is None:
        return
    if record.created:
        strangers = [u["name"] for u in run.api.get_users(record.name) if not payloads.user_is_marked(run.lab, u)]
        if strangers:
            run.ui.warn(f"kept Casdoor organization {record.name!r}: it holds users the lab did not make "
                        f"({', '.join(sorted(strangers))})")
        else:
            run.ui.update(f"deleting organization {record.name}")
            delete_for_sure(f"organization {record.name!r}", lambda: run.api.delete_organization(record.name),
                            lambda: run.api.get_organization(record.name))
    run.records.organization = None
    run.save()

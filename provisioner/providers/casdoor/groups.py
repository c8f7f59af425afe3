"""The lab's groups as real Casdoor groups in its organization (object/group.go).

Users list their groups by id (`<organization>/<group>`) and Casdoor copies that list into the
token, so a user someone adds to a lab group in Casdoor's UI carries the same id and is bound by
the group's RoleBinding. A group still holding users cannot be deleted ("group has users",
DeleteGroup), so groups go after the lab's users, and a group someone else filled is kept.
"""

from __future__ import annotations

from . import payloads
from .common import Run, create_once, delete_for_sure
from .records import GroupRecord


def plan(run: Run, organization_exists: bool) -> tuple[list[str], list[str]]:
    """What `ensure` would create, and what it would delete once the users are out of the groups."""
    organization = run.names.organization
    creates = [f"create group {organization}/{name}" for name in payloads.group_names(run.lab)
               if not organization_exists or run.api.get_group(organization, name) is None]
    wanted = set(payloads.group_names(run.lab))
    deletes = [f"delete group {g.id} (no longer in lab.yaml)" for g in run.records.groups()
               if g.name not in wanted and g.created]
    return creates, deletes


def ensure(run: Run) -> None:
    organization = run.names.organization
    for name in payloads.group_names(run.lab):
        found = run.api.get_group(organization, name)
        recorded = run.records.group(name)
        if found is None:
            run.ui.update(f"creating group {organization}/{name}")
            create_once(
                f"group {organization}/{name}",
                lambda name=name: run.api.add_group(payloads.group_payload(run.lab, name)),
                lambda name=name: run.api.get_group(organization, name),
                lambda group: payloads.group_is_marked(run.lab, group),
            )
            created = True
        else:
            created = bool(recorded and recorded.created) or payloads.group_is_marked(run.lab, found)
        run.records.set_group(GroupRecord(organization, name, created))
        run.save()


def delete_dropped(run: Run) -> None:
    """Groups removed from lab.yaml since the last `lab up` go, as `lab down` would remove them."""
    wanted = set(payloads.group_names(run.lab))
    for record in [g for g in run.records.groups() if g.name not in wanted]:
        _delete(run, record)


def teardown(run: Run) -> None:
    for record in run.records.groups():
        _delete(run, record)


def _delete(run: Run, record: GroupRecord) -> None:
    if record.created:
        members = [u["name"] for u in run.api.get_users(record.organization) if record.id in (u.get("groups") or [])]
        if members:
            run.ui.warn(f"kept Casdoor group {record.id}: users the lab did not make are in it ({', '.join(sorted(members))})")
        else:
            run.ui.update(f"deleting group {record.id}")
            delete_for_sure(f"group {record.id}", lambda: run.api.delete_group(record.organization, record.name),
                            lambda: run.api.get_group(record.organization, record.name))
    run.records.forget_group(record.name)
    run.save()

"""A 200-attendee roster: `lab up`, one row removed and one added, `lab up` again, `lab down`.

The second `lab up` must remove exactly the departed attendee and add exactly the new one (at the
IdP, their namespace and binding, their handout) and touch nobody else; nothing restarts.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.support import labcli

ROOM = "127.0.0.2"
ROWS = 200


def attendee(n: int) -> str:
    return f"a{n:03d}@example.com,Attendee {n},cohort-{n % 4},\n"


def write_roster(folder: Path, numbers: list[int]) -> None:
    (folder / "attendees.csv").write_text("email,name,groups,role\n" + "".join(attendee(n) for n in numbers))


def lab_namespaces(env, lab: str) -> dict[str, str]:
    listed = env.kubectl("get", "namespaces", "-l", f"oidc-lab.io/lab={lab}", "-o", "json", context="minikube")
    assert listed.returncode == 0, listed.stderr
    return {item["metadata"]["name"]: item["metadata"]["uid"] for item in json.loads(listed.stdout)["items"]}


def starts_and_stops(env) -> int:
    return sum(1 for call in env.minikube_calls() if call and call[0] in ("start", "stop"))


@pytest.fixture
def room(lab_env, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_NODE_HOSTS", f"{ROOM}={ROOM}")
    started = lab_env.minikube("start", "-p", "minikube", "--listen-address=0.0.0.0", f"--apiserver-ips={ROOM}")
    assert started.returncode == 0, started.stdout + started.stderr
    lab_env.work = tmp_path / "work"
    lab_env.work.mkdir()
    yield lab_env
    labcli.run_lab(lab_env.work, "down", "-q", check=False)


def test_a_200_row_roster_on_the_built_in_issuer_changes_by_exactly_one_row_each_way(room, tmp_path):
    with socket.socket() as probe:
        probe.bind((ROOM, 0))
        port = probe.getsockname()[1]
    (room.work / "lab.yaml").write_text(f"name: big\nlocal: {{port: {port}}}\nroom: {{address: {ROOM}}}\n"
                                        "namespaces: {per_user: true}\nusers_file: attendees.csv\n")
    write_roster(room.work, list(range(ROWS)))
    timings = {}
    began = time.monotonic()
    labcli.run_lab(room.work, "up", "-q")
    timings["first up"] = time.monotonic() - began
    out = tmp_path / "handouts"
    labcli.run_lab(room.work, "handout", "--out", str(out), "-q")
    issuer = room.oidc_lab_home / "big" / "issuer"
    users_before = {u["username"]: u for u in json.loads((issuer / "users.json").read_text())["users"]}
    pid_before = (issuer / "issuer.pid").read_text()
    namespaces_before = lab_namespaces(room, "big")
    assert len(users_before) == ROWS and len(namespaces_before) == ROWS
    restarts_before = starts_and_stops(room)
    kept_sheet = (out / "a042" / "sheet.html").stat()

    write_roster(room.work, [n for n in range(ROWS) if n != 7] + [ROWS])  # a007 leaves, a200 joins
    began = time.monotonic()
    again = labcli.run_lab(room.work, "up")
    timings["second up"] = time.monotonic() - began
    users_after = {u["username"]: u for u in json.loads((issuer / "users.json").read_text())["users"]}
    assert set(users_before) - set(users_after) == {"a007"} and set(users_after) - set(users_before) == {"a200"}
    assert all(users_after[h] == users_before[h] for h in users_after if h != "a200")  # nobody else touched
    namespaces_after = lab_namespaces(room, "big")
    assert set(namespaces_before) - set(namespaces_after) == {"big-a007"}
    assert set(namespaces_after) - set(namespaces_before) == {"big-a200"}
    assert all(namespaces_after[n] == uid for n, uid in namespaces_before.items() if n != "big-a007")  # same objects
    assert (issuer / "issuer.pid").read_text() == pid_before and starts_and_stops(room) == restarts_before
    assert "(1 added, 1 removed)" in again.stderr + again.stdout
    assert not (out / "a007").exists() and (out / "a200" / "sheet.html").exists()
    after = (out / "a042" / "sheet.html").stat()
    assert (after.st_ino, after.st_mtime_ns) == (kept_sheet.st_ino, kept_sheet.st_mtime_ns)  # untouched

    began = time.monotonic()
    labcli.run_lab(room.work, "down", "-q")
    timings["down"] = time.monotonic() - began
    assert lab_namespaces(room, "big") == {}
    assert not (room.oidc_lab_home / "big").exists() and not out.exists()
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


@pytest.fixture
def auth0_room(lab_env, auth0_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("FAKE_NODE_HOSTS", "127.0.0.1=127.0.0.1")  # the node reaches the "public" tenant
    assert lab_env.minikube("start", "-p", "minikube").returncode == 0
    lab_env.work = tmp_path / "work"
    lab_env.work.mkdir()
    lab_env.auth0 = auth0_emulator
    yield lab_env
    labcli.run_lab(lab_env.work, "down", "-q", check=False)


def tenant_users(emulator) -> dict[str, dict]:
    return {user["email"]: {"id": uid, **user} for uid, user in emulator.snapshot()["users"].items()
            if user["connection"] == "big-users"}


def test_a_200_row_roster_on_auth0_changes_by_exactly_one_row_each_way(auth0_room):
    tenant_before = auth0_room.auth0.snapshot()
    (auth0_room.work / "lab.yaml").write_text("name: big\nprovider: auth0\nnamespaces: {per_user: true}\n"
                                              "users_file: attendees.csv\n")
    write_roster(auth0_room.work, list(range(ROWS)))
    timings = {}
    began = time.monotonic()
    labcli.run_lab(auth0_room.work, "up", "-q")
    timings["first up"] = time.monotonic() - began
    users_before = tenant_users(auth0_room.auth0)
    namespaces_before = lab_namespaces(auth0_room, "big")
    assert len(users_before) == ROWS and len(namespaces_before) == ROWS
    restarts_before = starts_and_stops(auth0_room)

    write_roster(auth0_room.work, [n for n in range(ROWS) if n != 7] + [ROWS])
    began = time.monotonic()
    labcli.run_lab(auth0_room.work, "up", "-q")
    timings["second up"] = time.monotonic() - began
    users_after = tenant_users(auth0_room.auth0)
    assert set(users_before) - set(users_after) == {"a007@example.com"}
    assert set(users_after) - set(users_before) == {"a200@example.com"}
    # Signing in (the verify step) moves last_login and logins_count, as at Auth0; nothing else may change.
    changed = {e: sorted(k for k in users_after[e] if users_after[e][k] != users_before[e].get(k))
               for e in users_after if e != "a200@example.com"}
    assert {fields for e, f in changed.items() for fields in f} <= {"last_login", "logins_count"}
    namespaces_after = lab_namespaces(auth0_room, "big")
    assert set(namespaces_before) ^ set(namespaces_after) == {"big-a007", "big-a200"}
    assert all(namespaces_after[n] == uid for n, uid in namespaces_before.items() if n != "big-a007")
    assert starts_and_stops(auth0_room) == restarts_before

    began = time.monotonic()
    labcli.run_lab(auth0_room.work, "down", "-q")
    timings["down"] = time.monotonic() - began
    assert auth0_room.auth0.snapshot() == tenant_before
    assert lab_namespaces(auth0_room, "big") == {}
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))

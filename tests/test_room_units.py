"""The room's pure parts: the roster's line-numbered errors, the profile check's commands, the plugin's arguments."""

from __future__ import annotations

import pytest

from provisioner.config import load_config
from provisioner.credential.plugin import UsageError, parse_args
from provisioner.errors import ConfigError
from provisioner.room.cluster import room_problem
from provisioner.handouts import attendee_kubeconfig, lab_token_user, room_server


def lab_with(tmp_path, roster: str, extra: str = "") -> object:
    (tmp_path / "attendees.csv").write_text(roster, encoding="utf-8")
    (tmp_path / "lab.yaml").write_text("name: room\nusers_file: attendees.csv\n" + extra)
    return load_config(tmp_path / "lab.yaml")[0]


def test_the_roster_becomes_the_labs_users_next_to_those_in_lab_yaml(tmp_path):
    lab = lab_with(tmp_path, '\ufeffemail,name,groups,role\nada@example.com,"Lovelace, Ada",dev; ops,\n\n'
                             "bob@example.com,,,view\n", "users:\n  - email: teacher@example.com\n")
    assert [u.email for u in lab.users] == ["teacher@example.com", "ada@example.com", "bob@example.com"]
    ada = lab.users[1]
    assert ada.display_name == "Lovelace, Ada" and ada.groups == ["dev", "ops"] and ada.role is None
    assert lab.users[2].role == "view"


@pytest.mark.parametrize(("roster", "extra", "said"), [
    ("mail,name\nada@example.com,Ada\n", "", "line 1: the header must be email,name,groups,role"),
    ("email,name,groups,role\nada@example.com,Ada,,\nnot-an-email,,,\n", "", "line 3: email 'not-an-email' is not an e-mail address"),
    ("email,name,groups,role\nada@example.com,Ada,,boss\n", "", "line 2: role 'boss' is not a known role"),
    ("email,name,groups,role\nada@example.com,Lovelace, Ada,,\n", "", "line 2: has 5 fields"),
    ("email,name,groups,role\nada@example.com,,,\nADA@example.com,,,\n", "", "line 3: the e-mail 'ada@example.com' is already used on line 2"),
    ("email,name,groups,role\nada@example.com,,,\n", "users:\n  - email: ada@example.com\n", "already used on users[0] in lab.yaml"),
    ("email,name,groups,role\n" + "".join(f"a{n}@example.com,,,\n" for n in range(501)), "", "line 502: the lab would have more than 500 users"),
])
def test_every_roster_error_names_its_line(tmp_path, roster, extra, said):
    with pytest.raises(ConfigError) as raised:
        lab_with(tmp_path, roster, extra)
    assert said in raised.value.message


def test_a_missing_roster_is_one_sentence(tmp_path):
    (tmp_path / "lab.yaml").write_text("users_file: nobody.csv\n")
    with pytest.raises(ConfigError, match="users_file .*nobody.csv does not exist"):
        load_config(tmp_path / "lab.yaml")


def test_the_room_address_names_the_built_in_issuer_unless_set_otherwise(tmp_path):
    (tmp_path / "lab.yaml").write_text("room: {address: 10.0.0.5}\n")
    lab = load_config(tmp_path / "lab.yaml")[0]
    assert (lab.local.hostname, lab.local.listen) == ("10.0.0.5", "10.0.0.5")
    (tmp_path / "lab.yaml").write_text("room: {address: 10.0.0.5}\nlocal: {hostname: host.minikube.internal}\n")
    with pytest.raises(ConfigError, match="differs from room.address"):
        load_config(tmp_path / "lab.yaml")
    (tmp_path / "lab.yaml").write_text("room: {address: 'https://10.0.0.5'}\n")
    with pytest.raises(ConfigError, match="room.address"):
        load_config(tmp_path / "lab.yaml")


def profile(driver="docker", listen="", ips=None, names=None, version="v1.36.2"):
    return {"Driver": driver, "ListenAddress": listen,
            "KubernetesConfig": {"KubernetesVersion": version, "APIServerIPs": ips, "APIServerNames": names}}


def test_a_profile_published_on_loopback_must_be_recreated_and_lab_up_says_how():
    problem = room_problem(profile(), "minikube", "192.168.1.20")
    assert "publishes the apiserver on 127.0.0.1 only" in problem.message
    assert ("`minikube delete -p minikube && minikube start -p minikube --driver=docker --listen-address=0.0.0.0 "
            "--apiserver-ips=192.168.1.20 --kubernetes-version=v1.36.2`") in problem.hint
    assert "--driver=podman" in room_problem(profile("podman", "127.0.0.1"), "p", "10.1.1.1").hint


def test_a_missing_certificate_name_needs_only_a_start_with_the_flag():
    problem = room_problem(profile(listen="0.0.0.0", ips=["10.0.0.1"]), "minikube", "192.168.1.20")
    assert "does not name 192.168.1.20" in problem.message
    assert "`minikube start -p minikube --apiserver-ips=10.0.0.1,192.168.1.20`" in problem.hint
    named = room_problem(profile(listen="0.0.0.0"), "minikube", "lab.example.org")
    assert "`minikube start -p minikube --apiserver-names=lab.example.org`" in named.hint


def test_a_profile_that_serves_the_room_passes_and_a_vm_does_not():
    assert room_problem(profile(listen="0.0.0.0", ips=["192.168.1.20"]), "m", "192.168.1.20") is None
    assert room_problem(profile(listen="192.168.1.20", ips=["192.168.1.20"]), "m", "192.168.1.20") is None
    assert room_problem(profile("none", ips=["192.168.1.20"]), "m", "192.168.1.20") is None
    assert "VM on a network only this machine reaches" in room_problem(profile("kvm2"), "m", "192.168.1.20").message


def test_the_handout_kubeconfig_holds_no_secret_and_names_the_room():
    assert room_server("https://127.0.0.1:32771", "192.168.1.20") == "https://192.168.1.20:32771"
    assert room_server("https://127.0.0.1:8443", "fd00::5") == "https://[fd00::5]:8443"
    user = lab_token_user("https://192.168.1.20:9443", "oidc-lab-room", "ada@example.com", "password", b"PEM")
    config = attendee_kubeconfig("room", "room-ada", "room-ada", "https://192.168.1.20:32771", b"CA", user)
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "lab"
    assert user["user"]["exec"]["args"] == ["token", "--issuer", "https://192.168.1.20:9443", "--client-id",
                                            "oidc-lab-room", "--login", "ada@example.com", "--flow", "password"]
    assert user["user"]["exec"]["env"] == [{"name": "OIDC_LAB_CA", "value": "PEM"}]
    assert config["contexts"][0]["context"]["namespace"] == "room-ada" and config["current-context"] == "room-ada"


def test_lab_token_reads_an_attendees_user_from_its_arguments():
    options = parse_args(["--issuer", "https://10.0.0.5:9443", "--client-id=c", "--login", "ada@example.com"])
    assert options.room.flow == "password" and options.room.login == "ada@example.com"
    assert options.room.cache_name == "ada@example.com~10.0.0.5_9443~c"
    for argv, said in ((["--issuer", "http://10.0.0.5"], "needs --client-id"),
                       (["--issuer", "http://x", "--client-id", "c", "--login", "l"], "is not an https URL"),
                       (["--issuer", "https://x", "--client-id", "c", "--login", "l", "--flow", "magic"], "is not one of")):
        with pytest.raises(UsageError, match=said):
            parse_args(argv)


def test_an_attendees_cache_hit_stays_as_light_as_the_labs(tmp_path, monkeypatch):
    import json
    import os
    import subprocess
    import sys
    import time

    from provisioner.credential.cache import Tokens
    from provisioner.credential.standalone import RoomUser, cache_for
    from tests.test_credential import HEAVY, PROBE, REPO

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    user = RoomUser("https://10.0.0.5:9443", "c", "ada@example.com")
    cache_for(user).save(Tokens("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln", int(time.time()) + 3600))
    out = tmp_path / "modules"
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), "token", "--issuer", user.issuer,
                           "--client-id", "c", "--login", user.login], env=dict(os.environ), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"]["token"].startswith("eyJ")
    modules = out.read_text().split("\n")
    assert "provisioner.credential.standalone" in modules
    assert [m for m in modules if m.split(".")[0] in HEAVY] == []
    assert "urllib.request" not in modules and "json" not in modules and "re" not in modules


def lab_of(document: dict) -> object:
    from provisioner.config import parse_config

    return parse_config({"name": "room", **document})


@pytest.mark.parametrize(("document", "flow"), [
    ({"provider": "auth0", "auth0": {"domain": "t.eu.auth0.com"}, "room": {"address": "10.0.0.5"}}, "browser"),
    ({"provider": "auth0", "auth0": {"domain": "t.eu.auth0.com"}, "room": {"address": "10.0.0.5"},
      "oidc": {"flow": "device"}}, "device"),
    ({"provider": "casdoor", "casdoor": {"endpoint": "https://c.example.org"}, "room": {"address": "10.0.0.5"}},
     "password"),
    ({"room": {"address": "10.0.0.5"}}, "password"),  # the built-in issuer's client is public in a room
    ({}, "browser"),  # ... and confidential outside one: a download signs in in the browser
])
def test_a_handed_out_kubeconfig_signs_in_with_the_labs_flow_unless_that_needs_the_secret(document, flow):
    from provisioner.oidc.flows import attendee_flow

    lab = lab_of(document)
    assert attendee_flow(lab, lab.users[0]) == flow


def test_an_auth0_room_makes_the_native_application_with_the_browser_grant_and_callbacks():
    from provisioner.providers.auth0 import device_application

    room = lab_of({"provider": "auth0", "auth0": {"domain": "t.eu.auth0.com"}, "room": {"address": "10.0.0.5"}})
    assert device_application.wanted(room)
    payload = device_application.client_payload(room)
    assert "authorization_code" in payload["grant_types"] and "http://127.0.0.1:8000" in payload["callbacks"]
    assert payload["token_endpoint_auth_method"] == "none"
    assert not device_application.wanted(lab_of({"provider": "auth0", "auth0": {"domain": "t.eu.auth0.com"}}))


def test_lab_token_reads_the_browser_ports_and_the_issuer_address_from_its_arguments():
    options = parse_args(["--issuer", "https://host.minikube.internal:9443", "--client-id", "c", "--login", "ada",
                          "--flow", "browser", "--redirect-ports", "8000,18000", "--issuer-address", "127.0.0.1"])
    assert options.room.redirect_ports == (8000, 18000) and options.room.issuer_address == "127.0.0.1"
    with pytest.raises(UsageError, match="is not a list of ports"):
        parse_args(["--issuer", "https://x", "--client-id", "c", "--login", "l", "--redirect-ports", "80,x"])


def test_the_issuer_address_replaces_only_the_issuers_own_host():
    from provisioner.credential.standalone import RoomUser, reach

    user = RoomUser("https://host.minikube.internal:9443", "c", "ada", issuer_address="127.0.0.1")
    assert reach(user, "https://host.minikube.internal:9443/token") == "https://127.0.0.1:9443/token"
    assert reach(user, "https://elsewhere.example.org/token") == "https://elsewhere.example.org/token"
    assert reach(RoomUser("https://a.example.org", "c", "ada"), "https://a.example.org/x") == "https://a.example.org/x"


def test_the_sheet_names_the_page_the_lab_serves_to_the_room():
    from provisioner.handouts import self_service_url

    assert self_service_url(lab_of({"room": {"address": "10.0.0.5"}}), "https://10.0.0.5:9443") == "https://10.0.0.5:9443/me"
    served = lab_of({"provider": "casdoor", "casdoor": {"endpoint": "https://c.example.org"},
                     "room": {"address": "10.0.0.5"}, "serve": {"port": 9000}})
    assert self_service_url(served, "https://c.example.org") == "https://10.0.0.5:9000/me"
    assert self_service_url(lab_of({"provider": "casdoor", "casdoor": {"endpoint": "https://c.example.org"},
                                    "room": {"address": "10.0.0.5"}}), "https://c.example.org") is None


def test_a_kubelogin_handout_carries_the_issuers_ca_inline_and_no_file():
    from provisioner.handouts import kubelogin_user

    user = kubelogin_user("https://10.0.0.5:9443", "c", "ada@example.com", "browser", b"PEM", [8000], "openid email")
    args = user["exec"]["args"]
    assert "--certificate-authority-data=UEVN" in args and not any(a.startswith("--certificate-authority=") for a in args)
    assert "--grant-type=authcode" in args and "--listen-address=127.0.0.1:8000" in args

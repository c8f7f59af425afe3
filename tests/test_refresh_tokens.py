"""The issuer's refresh-token store: rotation survives a restart, and a grant costs one short line."""

from __future__ import annotations

import json
import stat

from provisioner.providers.local.issuer.refresh_tokens import RefreshTokens


def test_added_and_revoked_tokens_survive_a_restart(tmp_path):
    path = tmp_path / "refresh-tokens.json"
    store = RefreshTokens(path)
    store.add("first", "sub-ada", "client", "openid", ttl=3600)
    store.add("second", "sub-ada", "client", "openid", ttl=3600)
    store.revoke(store.find("first"))

    restarted = RefreshTokens(path)
    assert restarted.find("first") is None
    assert restarted.find("second").sub == "sub-ada"


def test_a_grant_appends_to_the_journal_instead_of_rewriting_the_store(tmp_path):
    path = tmp_path / "refresh-tokens.json"
    store = RefreshTokens(path)
    before = path.read_text()
    for n in range(50):
        store.add(f"token-{n}", "sub", "client", "openid", ttl=3600)
        if n:
            store.revoke(store.find(f"token-{n - 1}"))
    assert path.read_text() == before  # no full rewrite per grant
    assert len(store.journal.read_text().splitlines()) == 99
    assert stat.S_IMODE(store.journal.stat().st_mode) == 0o600
    restarted = RefreshTokens(path)  # the start folds the journal into the file
    assert list(json.loads(path.read_text())["tokens"]) == [next(iter(restarted._records))]
    assert restarted.journal.read_text() == ""


def test_a_torn_journal_line_and_expired_tokens_are_dropped(tmp_path):
    path = tmp_path / "refresh-tokens.json"
    store = RefreshTokens(path)
    store.add("kept", "sub", "client", "openid", ttl=3600)
    store.add("stale", "sub", "client", "openid", ttl=-1)
    with open(store.journal, "a") as journal:
        journal.write('{"add": "half')  # the issuer died mid-write
    restarted = RefreshTokens(path)
    assert restarted.find("kept") is not None and restarted.find("stale") is None
    assert len(json.loads(path.read_text())["tokens"]) == 1


def test_the_journal_is_folded_once_it_outgrows_the_live_tokens(tmp_path):
    store = RefreshTokens(tmp_path / "refresh-tokens.json")
    for n in range(1200):
        store.add(f"t{n}", "sub", "client", "openid", ttl=3600)
        store.revoke(store.find(f"t{n}"))
    assert len(store.journal.read_text().splitlines()) < 1001

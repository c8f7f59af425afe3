"""The printable sheet, as a person sees it: rendered by headless Chromium, one A4 page, their name on it."""

from __future__ import annotations

import pytest

from provisioner.config import parse_config
from provisioner.handouts import attendee_kubeconfig, lab_token_user
from provisioner.room.handout import Handout
from provisioner.room.sheet import render_index, render_sheet
from tests.support.chromium import CHROMIUM, Chromium, pdf_pages

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")


def sheet_for(name: str, password: str | None, flow: str = "password") -> tuple[object, Handout]:
    lab = parse_config({"name": "workshop", "room": {"address": "192.168.1.20"}, "namespaces": {"per_user": True}})
    user = lab_token_user("https://192.168.1.20:9443", "oidc-lab-workshop", "ada.lovelace@example.com", flow, None)
    config = attendee_kubeconfig("workshop", "workshop-ada", "workshop-ada", "https://192.168.1.20:32771", b"CA", user)
    return lab, Handout("ada", name, "ada.lovelace@example.com", "workshop-ada", "workshop-ada", config, password, flow)


@pytest.fixture
def chromium(tmp_path):
    browser = Chromium(tmp_path / "chromium-profile")
    try:
        yield browser
    finally:
        browser.close()


def test_the_sheet_names_the_attendee_and_prints_on_one_page(chromium, tmp_path):
    long_name = "Augusta Ada King, Countess of Lovelace (née Byron)"
    lab, handout = sheet_for(long_name, "Xy7-kq2Pw9#mLr4tZb8Nc3")
    page = tmp_path / "sheet.html"
    page.write_text(render_sheet(lab, handout, "https://192.168.1.20:9443/me"))
    chromium.open(page.as_uri())
    text = chromium.text()
    assert long_name in text and "ada.lovelace@example.com" in text and "Xy7-kq2Pw9#mLr4tZb8Nc3" in text
    assert "Windows" in text and "macOS" in text and "Linux" in text and "kubectl auth whoami" in text
    assert "https://192.168.1.20:9443/me" in text  # the self-service page, where the lab serves one
    assert pdf_pages(chromium.pdf()) == 1
    png = chromium.png(794, 1123)  # A4 at 96 dpi
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a rendered page, not a blank one
    (tmp_path / "sheet.png").write_bytes(png)


def test_without_the_password_flow_the_sheet_shows_no_password(chromium, tmp_path):
    lab, handout = sheet_for("Grace Hopper", None, "browser")
    page = tmp_path / "sheet.html"
    page.write_text(render_sheet(lab, handout))
    chromium.open(page.as_uri())
    assert "Initial password" not in chromium.text() and "opens your browser" in chromium.text()
    assert "Self-service page" not in chromium.text()  # the lab serves none


def test_the_index_lists_every_sheet(chromium, tmp_path):
    lab, ada = sheet_for("Ada <script>alert(1)</script>", None)
    page = tmp_path / "index.html"
    page.write_text(render_index(lab, [ada]))
    chromium.open(page.as_uri())
    assert "Ada <script>alert(1)</script>" in chromium.text()  # shown as text, never run
    assert pdf_pages(chromium.pdf()) == 1

"""What the user sees while a lab is built."""

from __future__ import annotations

import io

from provisioner.progress import Reporter


def test_steps_print_a_summary_line_and_plain_text_survives_intact():
    out = io.StringIO()
    ui = Reporter(stream=out)
    with ui.step("Verify") as step:
        step.summary = "2 of 3 user(s) accepted"
    ui.info("demo-carl: the cluster sees carl@example.com [oidc:viewers, system:authenticated]")
    text = out.getvalue()
    assert "✓ Verify: 2 of 3 user(s) accepted" in text
    assert "[oidc:viewers, system:authenticated]" in text


def test_quiet_prints_nothing():
    out = io.StringIO()
    ui = Reporter(quiet=True, stream=out)
    with ui.step("Cluster") as step:
        step.summary = "restarted"
    ui.info("x")
    ui.warn("y")
    assert out.getvalue() == ""


def test_a_failed_step_is_marked():
    out = io.StringIO()
    ui = Reporter(stream=out)
    try:
        with ui.step("Cluster"):
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert "✗ Cluster" in out.getvalue()

"""The printable sheets: one page per attendee, and an index to print them all from.

Rendered from templates/handout-*.html.j2 with autoescaping (names come from a spreadsheet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2

from ..manifests import templates_dir

if TYPE_CHECKING:
    from ..config import LabConfig
    from .handout import Handout


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
                              autoescape=True, trim_blocks=True, lstrip_blocks=True)


def render_sheet(lab: LabConfig, handout: Handout, self_service_url: str | None = None) -> str:
    return _environment().get_template("handout-sheet.html.j2").render(
        lab=lab.name, handout=handout, flow=handout.flow, address=lab.room.address if lab.room else "",
        self_service_url=self_service_url,
    )


def render_index(lab: LabConfig, handouts: list[Handout]) -> str:
    return _environment().get_template("handout-index.html.j2").render(lab=lab.name, handouts=handouts)

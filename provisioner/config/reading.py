"""Reading lab.yaml: YAML to a validated lab, and any validation error to one sentence."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .model import LabConfig

DEFAULT_FILE = "lab.yaml"
_USER_INFO = re.compile(r"(//)[^/?#@]*@")


def _model_at(path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose keys are allowed at `path` in lab.yaml (list indexes are skipped)."""
    model: type[BaseModel] | None = LabConfig
    for part in path:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _unknown_key(location: str, path: tuple[Any, ...]) -> str:
    """Name the nearest known key, as a typo is the usual cause; else list the keys allowed there."""
    model = _model_at(path[:-1])
    known = sorted(model.model_fields) if model else []
    nearest = difflib.get_close_matches(str(path[-1]), known, n=1, cutoff=0.6)
    if nearest:
        return f"{location}: unknown key; did you mean {nearest[0]!r}?"
    if known:
        return f"{location}: unknown key; the keys allowed here are {', '.join(known)}"
    return f"{location}: unknown key; check its spelling and indentation"


def _describe(error: dict[str, Any]) -> str:
    location = ""
    for part in error["loc"]:
        location += f"[{part}]" if isinstance(part, int) else (f".{part}" if location else str(part))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return _unknown_key(location, tuple(error["loc"]))
    if error["type"] == "literal_error":
        return f"{location}: {error['input']!r} is not allowed; {message[0].lower() + message[1:]}"
    value = error.get("input")
    if isinstance(value, str):
        value = _USER_INFO.sub(r"\1***@", value)  # a password in a URL is never echoed
    shown = "" if isinstance(value, (dict, list)) or value is None else f" {value!r}"
    if not location:
        return message
    return f"{location}:{shown} {message[0].lower() + message[1:]}" if shown else f"{location}: {message}"


def parse_config(document: Any, source: str = DEFAULT_FILE) -> LabConfig:
    """Validate an already-parsed lab.yaml document."""
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, not {type(document).__name__}",
                          "start from the example in README.md")
    try:
        return LabConfig.model_validate(document)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        first = problems[0]
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if len(problems) > 1 else ""
        raise ConfigError(f"{source}: {first}{more}", "fix lab.yaml and run the command again") from None


def load_config(path: Path | None) -> tuple[LabConfig, Path | None]:
    """Load `path`, or ./lab.yaml if present, or the defaults. Returns the config and the file used."""
    if path is None:
        candidate = Path(DEFAULT_FILE)
        if not candidate.exists():
            return LabConfig(), None
        path = candidate
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist", "pass the path of your lab.yaml with -f, or omit -f for defaults") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}", "fix the YAML syntax (indentation, colons, quotes)") from None
    if isinstance(document, dict) and document.get("users_file"):
        from ..room.roster import with_roster  # the room's CSV roster, relative to lab.yaml

        document = with_roster(document, path.parent)
    lab = parse_config(document, str(path))
    if lab.casdoor.ca_file is not None and not lab.casdoor.ca_file.is_absolute():
        # Relative to lab.yaml, not to wherever `lab` (or kubectl, running `lab token`) is started.
        anchored = (path.parent / lab.casdoor.ca_file).absolute()
        lab = lab.model_copy(update={"casdoor": lab.casdoor.model_copy(update={"ca_file": anchored})})
    return lab, path

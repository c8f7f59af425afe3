"""`lab doctor`'s look at the structured AuthenticationConfiguration: the file as the node has it,
each entry judged as the apiserver would, and whether the apiserver runs that file yet.

The node's copy is read back with `minikube cp <node>:<path> <host file>`: the apiserver reads
that copy, which a later `minikube start` overwrites from `$MINIKUBE_HOME/files`, so the two must
agree. Each entry is checked with the rules the product applies before writing (validation.go's
and CEL compilation), and the lab's own entry against what `lab up` would write.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import LabError
from ..oidc.settings import OidcSettings
from .authconfig import check_settings, config_hash, jwt_authenticator

if TYPE_CHECKING:
    from .modes import StructuredAuthentication


class Check(NamedTuple):
    ok: bool
    subject: str
    detail: str
    hint: str | None = None


def _entry_problem(entry: dict[str, Any]) -> str | None:
    """What the apiserver would refuse in one entry (its CEL, prefixes, audiences, https)."""
    issuer = entry.get("issuer") or {}
    if not str(issuer.get("url", "")).startswith("https://"):
        return "its issuer url is not https"
    if not issuer.get("audiences"):
        return "it has no audiences"
    if len(issuer["audiences"]) > 1 and issuer.get("audienceMatchPolicy") != "MatchAny":
        return "several audiences need audienceMatchPolicy: MatchAny"
    mappings = entry.get("claimMappings") or {}
    username = mappings.get("username") or {}
    if username.get("claim") and "prefix" not in username:
        return "claimMappings.username.claim has no prefix (required, '' disables it)"
    rules = entry.get("claimValidationRules") or []
    try:
        check_settings(OidcSettings(
            issuer_url=issuer.get("url", ""), client_id=(issuer.get("audiences") or [""])[0],
            username_expression=username.get("expression"),
            groups_expression=(mappings.get("groups") or {}).get("expression"),
            claim_validation_rules=tuple((None, None, r["expression"], r.get("message")) for r in rules if r.get("expression")),
            user_validation_rules=tuple((r.get("expression", ""), r.get("message"))
                                        for r in entry.get("userValidationRules") or [])))
    except LabError as exc:
        return exc.message
    return None


def node_text(structured: "StructuredAuthentication") -> bytes | None:
    mk = structured.mk
    with tempfile.TemporaryDirectory() as folder:
        local = Path(folder) / "authentication.yaml"
        try:
            mk._run("cp", f"{mk.profile}:{structured.file.node_path}", str(local), "-p", mk.profile, timeout=60)
        except LabError:
            return None
        return local.read_bytes() if local.exists() else None


def check_structured(structured: "StructuredAuthentication", settings: OidcSettings) -> list[Check]:
    import yaml

    profile = structured.mk.profile
    text = node_text(structured)
    if text is None:
        return [Check(False, "authentication config", f"the node of {profile!r} has no {structured.file.node_path}",
                      "run `lab up`, which writes it and copies it in")]
    same = text == structured.file.host_text()
    checks = [Check(same, "authentication config",
                    f"the node's copy of {structured.file.node_path} {'matches' if same else 'differs from'} "
                    "the one in $MINIKUBE_HOME/files", "run `lab up`: the next `minikube start` would otherwise "
                    "bring back the other copy")]
    try:
        entries = (yaml.safe_load(text) or {}).get("jwt") or []
    except yaml.YAMLError as exc:
        return checks + [Check(False, "authentication config", f"the node's file is not YAML ({exc})", "run `lab up`")]
    ours = jwt_authenticator(settings)
    found = False
    for index, entry in enumerate(entries):
        url = (entry.get("issuer") or {}).get("url")
        problem = _entry_problem(entry)
        checks.append(Check(problem is None, f"jwt[{index}]", f"{url}: {problem or 'valid'}",
                            "fix the lab that owns it and run `lab up` there" if problem else None))
        if url == settings.issuer_url:
            found = True
            checks.append(Check(entry == ours, f"jwt[{index}]", "the lab's entry is what `lab up` would write"
                                if entry == ours else "the lab's entry differs from lab.yaml", "run `lab up`"))
    if not found:
        checks.append(Check(False, "authentication config", f"no entry for the lab's issuer {settings.issuer_url}",
                            "run `lab up`"))
    try:
        reloaded = structured.loaded_hash() == config_hash(text)
    except Exception as exc:  # the doctor reports what it cannot read, it does not fail on it
        reloaded, detail = False, f"cannot read the apiserver's metrics ({type(exc).__name__})"
    else:
        detail = ("the apiserver runs this file" if reloaded else
                  "the apiserver has not reloaded this file yet (it polls once a minute; an invalid file is ignored)")
    checks.append(Check(reloaded, "reload", detail, f"wait a minute; then see `minikube logs -p {profile}` "
                        "for \"failed to validate authentication config\""))
    return checks

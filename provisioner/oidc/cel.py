"""CEL as the kube-apiserver's structured authentication judges it: compile before the file
reaches the node, and evaluate on a user's predicted claims to name them as the apiserver will.

The library is `common-expression-language` (Python bindings to the cel-rust interpreter), imported
only here and only when an expression is present: never on the `lab token` path. It parses and
evaluates; cel-go's type checker, which the apiserver runs, is not available, so the checks it
would make that matter here are written out (variables the apiserver declares, and the rule in
validation.go that `claims.email` in the username expression needs `claims.email_verified`
somewhere). Syntax cel-rust does not know (the optional `.?` selector) is refused: what cannot be
checked is not sent.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import ConfigError

#: What the apiserver declares (authentication/cel/compile.go): `claims` for claim mappings and
#: claim validation rules, `user` for user validation rules.
CLAIMS_VARIABLE = "claims"
USER_VARIABLE = "user"

_STRING_LITERAL = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_MACRO_VARIABLE = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\(\s*([A-Za-z_]\w*)\s*,")


def _without_strings(expression: str) -> str:
    return _STRING_LITERAL.sub("''", expression)


def compile_expression(expression: str, where: str, variable: str = CLAIMS_VARIABLE) -> Any:
    """The compiled program, or a ConfigError naming `where` (the lab.yaml key) and the mistake."""
    import cel

    try:
        program = cel.compile(expression)
    except (ValueError, RuntimeError) as exc:
        detail = str(exc).split(": ", 1)[-1] if "Failed to parse" in str(exc) else str(exc)
        raise ConfigError(f"{where} is not a valid CEL expression: {detail.splitlines()[0]}",
                          "fix the expression (see Kubernetes' \"Structured Authentication Configuration\" "
                          "for examples); nothing was written") from None
    bound = set(_MACRO_VARIABLE.findall(_without_strings(expression)))
    unknown = sorted(set(program.variables()) - bound - {variable})
    if unknown:
        raise ConfigError(f"{where} uses {unknown[0]!r}, but the apiserver only declares {variable!r} there "
                          f"(cel-go: undeclared reference to '{unknown[0]}')",
                          f"write the expression over `{variable}`, e.g. {variable}.email")
    return program


def uses_claim(expression: str, claim: str) -> bool:
    """Whether `expression` selects `claims.<claim>` (or `claims.?<claim>`), as validation.go's
    `hasSelectExp` looks for it; text inside string literals does not count."""
    pattern = rf"\b{CLAIMS_VARIABLE}\s*\.\s*\??\s*{re.escape(claim)}\b"
    return re.search(pattern, _without_strings(expression)) is not None


def evaluate(program: Any, bindings: dict[str, Any]) -> Any:
    """Run a compiled program; a missing claim or a type error is a LookupError with CEL's words."""
    try:
        return program.execute(bindings)
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise LookupError(str(exc).strip("'\"")) from None

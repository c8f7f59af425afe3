"""Why a token would be refused by the CEL parts of a structured AuthenticationConfiguration
entry: the username expression, the claim validation rules and the user validation rules, in
the order oidc.go `AuthenticateToken` meets them, with its words. Evaluated with the library that
compiled them (oidc/cel.py), imported only when the lab has such an expression.
"""

from __future__ import annotations

from typing import Any

from .settings import OidcSettings


def structured_reasons(claims: dict[str, Any], settings: OidcSettings) -> list[str]:
    if not (settings.username_expression or settings.groups_expression or settings.user_validation_rules
            or any(expression for _, _, expression, _ in settings.claim_validation_rules)):
        return []
    from .cel import USER_VARIABLE, compile_expression, evaluate

    try:
        username = settings.username_from_claims(claims)
    except (LookupError, KeyError) as exc:
        return [f"oidc: error evaluating username claim expression: {exc}"]
    if not username:
        return ["oidc: empty username via CEL expression is not allowed"]
    try:
        groups = settings.groups_from_claims(claims)
    except LookupError as exc:
        return [f"oidc: error evaluating group claim expression: {exc}"]
    for index, (_, _, expression, message) in enumerate(settings.claim_validation_rules):
        if not expression:
            continue
        program = compile_expression(expression, f"oidc.claim_validation_rules[{index}].expression")
        try:
            passed = evaluate(program, {"claims": claims}) is True
        except LookupError as exc:
            return [f"oidc: error evaluating claim validation expression: {exc}"]
        if not passed:
            return [f"oidc: error evaluating claim validation expression: validation expression '{expression}' "
                    f"failed: {message or ''}"]
    user = {"username": username, "uid": "", "groups": groups, "extra": {}}
    for index, (expression, message) in enumerate(settings.user_validation_rules):
        program = compile_expression(expression, f"oidc.user_validation_rules[{index}].expression", USER_VARIABLE)
        try:
            passed = evaluate(program, {USER_VARIABLE: user}) is True
        except LookupError as exc:
            return [f"oidc: error evaluating user info validation rule: {exc}"]
        if not passed:
            return [f"oidc: error evaluating user info validation rule: validation expression '{expression}' "
                    f"failed: {message or ''}"]
    return []

"""An Auth0 database connection's password policy, checked before any user is made.

Auth0 refuses a user whose password its connection's policy rejects (400 PasswordStrengthError),
by then the application and the connection exist. The passwords lab.yaml fixes are checked
against the policy here, in preflight, so a refusal leaves nothing behind. The rules are Auth0's
five levels ("Password Strength in Auth0 Database Connections"; the `auth0-password-policies`
presets): none 1 character, low 6, fair 8 with lower, upper and digits, good 8 with three of
lower, upper, digits and special characters, excellent 10 with three of four and no character
three times in a row; `password_complexity_options.min_length` replaces the level's length, and
`password_dictionary` refuses listed words. A connection made by the API without options gets
"good" (as recorded from Auth0).
"""

from __future__ import annotations

from typing import Any, Mapping

from ...config import LabConfig
from ...errors import ConfigError

NEW_CONNECTION_POLICY = "good"
MIN_LENGTH = {"none": 1, "low": 6, "fair": 8, "good": 8, "excellent": 10}


def password_problem(password: str, options: Mapping[str, Any]) -> str | None:
    """Why the policy in a connection's `options` refuses `password`, or None."""
    policy = options.get("passwordPolicy") or "none"
    minimum = (options.get("password_complexity_options") or {}).get("min_length") or MIN_LENGTH.get(policy, 1)
    if len(password) < minimum:
        return f"shorter than {minimum} characters"
    kinds = {"lower-case letters": any(c.islower() for c in password),
             "upper-case letters": any(c.isupper() for c in password),
             "digits": any(c.isdigit() for c in password),
             "special characters": any(not c.isalnum() for c in password)}
    if policy == "fair" and not all(list(kinds.values())[:3]):
        return "needs lower-case letters, upper-case letters and digits"
    if policy in ("good", "excellent") and sum(kinds.values()) < 3:
        return "needs three of: " + ", ".join(kinds)
    if policy == "excellent" and any(password[i] == password[i + 1] == password[i + 2] for i in range(len(password) - 2)):
        return "has a character three times in a row"
    dictionary = options.get("password_dictionary") or {}
    if dictionary.get("enable") and password.lower() in {str(w).lower() for w in dictionary.get("dictionary") or []}:
        return "is in the connection's dictionary of refused passwords"
    return None


def check_passwords(lab: LabConfig, connection: Mapping[str, Any] | None) -> None:
    """Refuse the lab before any write if a password lab.yaml fixes breaks the connection's policy."""
    options = (connection or {}).get("options") or {"passwordPolicy": NEW_CONNECTION_POLICY}
    policy = options.get("passwordPolicy") or "none"
    for user in lab.users:
        if user.password is None:
            continue  # generated passwords pass every level
        problem = password_problem(user.password.get_secret_value(), options)
        if problem:
            where = f"the connection {connection['name']!r}" if connection else "a new Auth0 database connection"
            raise ConfigError(
                f"the password lab.yaml gives {user.handle!r} {problem}, which the password policy "
                f"{policy!r} of {where} refuses",
                "choose a stronger password in lab.yaml, or remove it and let the lab generate one",
            )

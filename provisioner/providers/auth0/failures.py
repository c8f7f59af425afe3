"""Auth0's refusals, rewritten as one sentence of what went wrong and one of how to fix it.

The SDK raises a class per status code for some endpoints and a plain `ApiError` for others, so
everything here branches on the status code and Auth0's error body
(`{"statusCode", "error", "message", "errorCode"}`), never on the exception class.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from ...errors import ProviderError
from .scopes import REQUIRED_SCOPES

_SCOPE_LIST = re.compile(r"expected (?:any|all) of:\s*(.+)$", re.IGNORECASE)
_GRANT_SCOPES_HINT = (
    "in the Auth0 dashboard open Applications > APIs > Auth0 Management API > Machine To Machine "
    "Applications, authorize your application with these scopes, and run the command again"
)


def _fields(body: Any) -> tuple[str, str]:
    """(errorCode or error, message) from an Auth0 error body of any shape."""
    if isinstance(body, Mapping):
        code = str(body.get("errorCode") or body.get("error") or "")
        message = str(body.get("message") or body.get("error_description") or "").strip()
        return code, message
    return "", str(body or "").strip()


def scopes_in(message: str) -> list[str]:
    """The scopes named by an `insufficient_scope` message, e.g. 'expected any of: create:clients'."""
    found = _SCOPE_LIST.search(message)
    if not found:
        return []
    return [scope for scope in re.split(r"[\s,]+", found.group(1).strip().rstrip(".")) if scope]


def missing_scopes_error(missing: list[str], domain: str) -> ProviderError:
    return ProviderError(
        f"the machine-to-machine application for {domain} lacks the Management API scopes {', '.join(missing)}",
        _GRANT_SCOPES_HINT,
    )


def api_failure(status: int | None, body: Any, action: str, domain: str) -> ProviderError:
    """A Management API error as the user should read it. `action` is e.g. 'creating the application'."""
    code, message = _fields(body)
    detail = f": {message}" if message else ""
    if status == 401:
        return ProviderError(
            f"Auth0 ({domain}) refused the Management API token while {action}{detail}",
            "check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, and that the application is authorized for the Auth0 Management API",
        )
    if status == 403:
        needed = scopes_in(message) or list(REQUIRED_SCOPES)
        if code == "insufficient_scope" or "scope" in message.lower():
            return ProviderError(
                f"the machine-to-machine application for {domain} may not finish {action}: it lacks the scope "
                f"{', '.join(needed)}",
                f"{_GRANT_SCOPES_HINT} (the lab needs {', '.join(REQUIRED_SCOPES)})",
            )
        return ProviderError(f"Auth0 ({domain}) forbade {action}{detail}", "check the application's permissions in the Auth0 dashboard")
    if status == 429:
        return rate_limit_exhausted(action, domain)
    if status is not None and status >= 500:
        return ProviderError(
            f"Auth0 ({domain}) failed while {action} (HTTP {status}{detail})",
            "Auth0 may be having trouble (see status.auth0.com); run the command again, it resumes where it stopped",
        )
    return ProviderError(
        f"Auth0 ({domain}) refused {action} (HTTP {status}{', ' + code if code else ''}{detail})",
        "check the tenant in the Auth0 dashboard; run `lab plan` to see what the lab wants to change",
    )


def rate_limit_exhausted(action: str, domain: str) -> ProviderError:
    return ProviderError(
        f"Auth0's Management API rate limit for {domain} did not clear while {action}",
        "wait a minute and run the command again (it resumes where it stopped); other tools using the same tenant share its budget",
    )


def unreachable(domain: str, reason: str) -> ProviderError:
    return ProviderError(
        f"cannot reach the Auth0 tenant {domain} ({reason})",
        "check AUTH0_DOMAIN (it looks like dev-abc123.us.auth0.com, without https://) and your network connection",
    )


def token_refused(status: int | None, error: str, description: str, domain: str) -> ProviderError:
    """The client-credentials grant of the Management API credentials failed."""
    if status in (401, 403) or error in ("access_denied", "invalid_client", "unauthorized_client"):
        return ProviderError(
            f"Auth0 ({domain}) rejected the machine-to-machine credentials ({error or status}: {description or 'no reason given'})",
            "check AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET, and that the application is authorized for the Auth0 Management API",
        )
    if status == 429:
        return rate_limit_exhausted("fetching a Management API token", domain)
    return ProviderError(
        f"Auth0 ({domain}) did not issue a Management API token ({error or status}: {description or 'no reason given'})",
        "check AUTH0_DOMAIN, AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET",
    )


def login_refused(error: str, description: str, *, domain: str, login: str, connection: str | None) -> ProviderError:
    """A user's password grant failed: say which tenant or lab setting causes it.

    Meant for `lab token` and `lab doctor` as much as for the provider's own checks.
    """
    text = description.lower()
    if "default connection" in text:
        return ProviderError(
            f"the Auth0 tenant {domain} has no default directory, so the password grant cannot find {login} "
            "(\"Authorization server not configured with default connection\")",
            "keep auth0.set_default_directory: true and run `lab up` again, or set it to false so the plugin uses the "
            "password-realm grant with the lab's connection",
        )
    if error == "unauthorized_client" or "grant type" in text:
        return ProviderError(
            f"the Auth0 application refuses the password grant ({description or error})",
            "run `lab up` again to restore the application's grant types, or enable Password under the application's "
            "Advanced Settings > Grant Types",
        )
    if "connection was disabled" in text:
        return ProviderError(
            f"the lab's connection{f' {connection}' if connection else ''} is not enabled for the Auth0 application",
            "run `lab up` again to enable it, or enable the application under the connection's Applications tab",
        )
    if "not verified" in text or "email_verified" in text:
        return ProviderError(
            f"the email of {login} is not verified at Auth0, so kube-apiserver refuses the token",
            "set email_verified: true for the user in lab.yaml and run `lab up` again",
        )
    if error == "invalid_grant":
        return ProviderError(
            f"Auth0 refused the password of {login} ({description or error})",
            f"run `lab up` again to reset the lab's users{f' in {connection}' if connection else ''}",
        )
    return ProviderError(
        f"Auth0 ({domain}) refused a token for {login} ({error}: {description})",
        "run `lab doctor` to check the application, connection and tenant settings",
    )

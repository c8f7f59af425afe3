"""The Management API token: the client-credentials grant of the machine-to-machine application.

Sent with httpx, the one HTTP client of the provisioning code (auth0-python 6 is built on it, so
it is loaded anyway), rather than the SDK's Authentication API classes, whose import alone costs a
third of a second. Fetched before anything changes, so a wrong domain, bad credentials or missing
scopes stop the run early; the token lives only in memory.
"""

from __future__ import annotations

import time

import httpx

from . import failures
from .scopes import granted_scopes, missing_scopes


def fetch_management_token(domain: str, client_id: str, client_secret: str, *, timeout: float) -> tuple[str, float]:
    """(access token, expiry as unix time)."""
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        "audience": f"https://{domain}/api/v2/",
    }
    try:
        answer = httpx.post(f"https://{domain}/oauth/token", data=form, timeout=timeout)
    except httpx.ConnectError as exc:
        reason = "its TLS certificate is not trusted" if "CERTIFICATE" in str(exc).upper() else (
            "the name does not resolve or the connection was refused")
        raise failures.unreachable(domain, reason) from None
    except httpx.TimeoutException:
        raise failures.unreachable(domain, "no answer within the timeout") from None
    except httpx.TransportError as exc:
        raise failures.unreachable(domain, type(exc).__name__) from None
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise failures.unreachable(domain, f"HTTP {answer.status_code} that is not Auth0's answer")
    if answer.status_code != 200 or not body.get("access_token"):
        raise failures.token_refused(answer.status_code, str(body.get("error", "")), str(body.get("error_description", "")), domain)
    granted = granted_scopes(body)
    if granted is not None:
        missing = missing_scopes(granted)
        if missing:
            raise failures.missing_scopes_error(missing, domain)
    return body["access_token"], time.time() + float(body.get("expires_in") or 3600)

"""The thin layer that talks to Casdoor's REST API, over httpx.

httpx is the one HTTP client of the provisioning code we write (auth0-python 6 is built on it, so
it costs no extra dependency). The `casdoor` SDK shapes our payloads (see payloads.py) but does not
carry our calls: it cannot be given a CA file, sets no timeout, puts the admin secret in the query
string (where access logs keep it), and raises bare exceptions on an error reply. So the calls go
through one `httpx.Client`: the admin application's credentials as HTTP Basic (Casdoor reads Basic
first, and a wrong Basic pair makes the caller anonymous even when query parameters are right),
and every failure turned into one `ProviderError` sentence.

Casdoor's reply envelope is `{"status": "ok"|"error", "msg", "data"}`: a missing object is
`data: null`; a write answers `data: "Affected"` or `"Unaffected"` (a delete whose keys match no
row is Unaffected, not an error, so every write's answer is returned to the caller to judge); a
refused caller gets HTTP 200 with `msg: "Unauthorized operation"`.
"""

from __future__ import annotations

import ssl
import time
from typing import Any

import httpx

from ...errors import ProviderError

#: Casdoor's id for objects owned by the server itself (organizations and applications).
ADMIN_OWNER = "admin"
AFFECTED = "Affected"
#: The user columns the lab manages; update-user without `columns` writes a fixed list that
#: leaves out the password and emailVerified (object/user.go, UpdateUser).
PROFILE_COLUMNS = "display_name,email,email_verified,groups,properties"


class CasdoorUnavailable(ProviderError):
    """Casdoor did not answer (connection refused or dropped, timeout, HTTP 5xx): the call may or may not have happened."""


class CasdoorApi:
    """Casdoor's admin API, authenticated as one application (CASDOOR_CLIENT_ID/SECRET)."""

    def __init__(
        self,
        endpoint: str,
        client_id: str,
        client_secret: str,
        ca_file: str | None = None,
        timeout: float = 15.0,
        read_retries: int = 2,
        retry_pause: float = 0.5,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.read_retries = read_retries
        self.retry_pause = retry_pause
        self._admin = httpx.BasicAuth(client_id, client_secret)
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        self._http = httpx.Client(verify=verify, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # organizations ----------------------------------------------------------------------------------
    def get_organization(self, name: str) -> dict[str, Any] | None:
        return self._get("get-organization", {"id": f"{ADMIN_OWNER}/{name}"}, f"read organization {name!r}")

    def add_organization(self, payload: dict[str, Any]) -> str:
        return self._write("add-organization", payload, f"create organization {payload['name']!r}")

    def delete_organization(self, name: str) -> str:
        return self._write("delete-organization", {"owner": ADMIN_OWNER, "name": name}, f"delete organization {name!r}")

    # applications -----------------------------------------------------------------------------------
    def get_application(self, name: str) -> dict[str, Any] | None:
        return self._get("get-application", {"id": f"{ADMIN_OWNER}/{name}"}, f"read application {name!r}")

    def add_application(self, payload: dict[str, Any]) -> str:
        return self._write("add-application", payload, f"create application {payload['name']!r}")

    def update_application(self, payload: dict[str, Any]) -> str:
        return self._write("update-application", payload, f"update application {payload['name']!r}",
                           {"id": f"{ADMIN_OWNER}/{payload['name']}"})

    def delete_application(self, name: str, organization: str) -> str:
        # Casdoor deletes the row matching owner, name and organization (object/application.go,
        # DeleteApplication); without the organization nothing matches and the answer is Unaffected.
        return self._write("delete-application", {"owner": ADMIN_OWNER, "name": name, "organization": organization},
                           f"delete application {name!r}")

    # groups -----------------------------------------------------------------------------------------
    def get_group(self, organization: str, name: str) -> dict[str, Any] | None:
        return self._get("get-group", {"id": f"{organization}/{name}"}, f"read group {organization}/{name}")

    def add_group(self, payload: dict[str, Any]) -> str:
        return self._write("add-group", payload, f"create group {payload['owner']}/{payload['name']}")

    def delete_group(self, organization: str, name: str) -> str:
        return self._write("delete-group", {"owner": organization, "name": name}, f"delete group {organization}/{name}")

    # users ------------------------------------------------------------------------------------------
    def get_user(self, organization: str, name: str) -> dict[str, Any] | None:
        return self._get("get-user", {"id": f"{organization}/{name}"}, f"read user {organization}/{name}")

    def get_users(self, organization: str) -> list[dict[str, Any]]:
        return self._get("get-users", {"owner": organization}, f"list the users of organization {organization!r}") or []

    def add_user(self, payload: dict[str, Any]) -> str:
        return self._write("add-user", payload, f"create user {payload['owner']}/{payload['name']}")

    def update_user(self, payload: dict[str, Any], columns: str, what: str = "update") -> str:
        return self._write("update-user", payload, f"{what} user {payload['owner']}/{payload['name']}",
                           {"id": f"{payload['owner']}/{payload['name']}", "columns": columns})

    def delete_user(self, organization: str, name: str) -> str:
        return self._write("delete-user", {"owner": organization, "name": name}, f"delete user {organization}/{name}")

    # OIDC -------------------------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider configuration, as the kube-apiserver will read it."""
        what = "read the OIDC discovery document"
        reply = self._call("GET", "/.well-known/openid-configuration", what, retries=self.read_retries, auth=False)
        document = _json(reply, what, self.endpoint)
        if reply.status_code != 200 or not isinstance(document, dict) or "issuer" not in document:
            raise ProviderError(
                f"{self.endpoint}/.well-known/openid-configuration is not an OIDC discovery document (HTTP {reply.status_code})",
                "check that casdoor.endpoint is the base URL of Casdoor itself",
            )
        return document

    def admin_token(self) -> dict[str, Any] | None:
        """A client_credentials token of the admin application (object/token_oauth.go,
        GetClientCredentialsToken), to read the issuer Casdoor writes into tokens before anything
        is created; None when the application does not allow that grant."""
        reply = self._call("POST", "/api/login/oauth/access_token", "get a token for the admin application",
                           retries=0, auth=True, data={"grant_type": "client_credentials", "scope": "openid"})
        document = _json(reply, "get a token for the admin application", self.endpoint)
        if isinstance(document, dict) and document.get("access_token"):
            return document
        return None

    # plumbing ---------------------------------------------------------------------------------------
    def _get(self, action: str, params: dict[str, str], what: str) -> Any:
        reply = self._call("GET", f"/api/{action}", what, params=params, retries=self.read_retries)
        return self._data(reply, what)

    def _write(self, action: str, payload: dict[str, Any], what: str, params: dict[str, str] | None = None) -> str:
        """Casdoor's answer to a write: "Affected" or "Unaffected"; the caller judges which it needed.

        Writes are never retried here: a dropped reply may hide a write that happened, and only
        the caller can look the object up and decide.
        """
        reply = self._call("POST", f"/api/{action}", what, params=params, json=payload, retries=0)
        return str(self._data(reply, what))

    def _data(self, reply: httpx.Response, what: str) -> Any:
        document = _json(reply, what, self.endpoint)
        if not isinstance(document, dict) or "status" not in document:
            raise ProviderError(
                f"Casdoor at {self.endpoint} answered the request to {what} with something that is not its API reply",
                "check that casdoor.endpoint is the base URL of Casdoor itself",
            )
        if document["status"] == "ok":
            return document.get("data")
        message = str(document.get("msg") or "no reason given").strip().rstrip(".")
        if reply.status_code in (401, 403) or message == "Unauthorized operation":
            raise ProviderError(
                f"Casdoor refused the admin credentials when asked to {what} ({message})",
                "set CASDOOR_CLIENT_ID and CASDOOR_CLIENT_SECRET to the Client ID and Client Secret of an "
                "application in Casdoor's built-in organization (e.g. app-built-in)",
            )
        raise ProviderError(f"Casdoor refused to {what}: {message}", _hint_for(message))

    def _call(self, method: str, path: str, what: str, *, retries: int, auth: bool = True, **kwargs: Any) -> httpx.Response:
        url = self.endpoint + path
        attempt = 0
        while True:
            try:
                reply = self._http.request(method, url, auth=self._admin if auth else None, **kwargs)
            except httpx.ConnectError as exc:
                if _is_tls_failure(exc):
                    raise ProviderError(
                        f"the TLS certificate of Casdoor at {self.endpoint} is not trusted",
                        "set casdoor.ca_file to the CA certificate that signed it",
                    ) from None
                failure: ProviderError = CasdoorUnavailable(
                    f"cannot reach Casdoor at {self.endpoint} to {what}: {_reason(exc)}",
                    "check casdoor.endpoint (or CASDOOR_ENDPOINT) and that Casdoor is running, then run the command again",
                )
            except httpx.TimeoutException:
                failure = CasdoorUnavailable(
                    f"Casdoor at {self.endpoint} did not answer the request to {what} within {self.timeout:g} seconds",
                    "check that Casdoor is running and reachable, then run the command again",
                )
            except httpx.TransportError as exc:
                failure = CasdoorUnavailable(
                    f"cannot reach Casdoor at {self.endpoint} to {what}: {_reason(exc)}",
                    "check that Casdoor is running and reachable, then run the command again",
                )
            else:
                if reply.status_code < 500:
                    return reply
                failure = CasdoorUnavailable(
                    f"Casdoor at {self.endpoint} failed the request to {what} with HTTP {reply.status_code}",
                    "look at Casdoor's log for the cause, then run the command again",
                )
            if attempt >= retries:
                raise failure
            attempt += 1
            time.sleep(self.retry_pause * attempt)


def _is_tls_failure(exc: httpx.ConnectError) -> bool:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return True
        cause = cause.__cause__ or cause.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _json(reply: httpx.Response, what: str, endpoint: str) -> Any:
    try:
        return reply.json()
    except ValueError:
        raise ProviderError(
            f"Casdoor at {endpoint} answered the request to {what} with HTTP {reply.status_code} and no JSON",
            "check that casdoor.endpoint is the base URL of Casdoor itself, not of a proxy or its web UI",
        ) from None


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "unknown host name"),
        ("Server disconnected", "the connection was closed without a reply"),
        ("Connection reset", "the connection was reset"),
    ):
        if needle in text:
            return reason
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the connection was closed without a reply"
    return "the connection failed"


def _hint_for(message: str) -> str:
    lowered = message.lower()
    if "already exists" in lowered or "duplicate" in lowered:
        return "another object has that name; rename it in Casdoor or choose other names in lab.yaml"
    if "organization" in lowered and ("not exist" in lowered or "not found" in lowered):
        return "create the organization in Casdoor or set casdoor.create_organization: true"
    if "password" in lowered:
        return "the organization's password policy refused the password; set a compliant users[].password"
    if "group has users" in lowered:
        return "remove the users Casdoor still lists in that group, then run the command again"
    return "fix the cause in Casdoor or lab.yaml, then run the command again"

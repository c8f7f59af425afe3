"""The thin layer that talks to Casdoor's REST API.

The `casdoor` SDK shapes our payloads (see payloads.py) but does not carry our calls: it cannot
be given a CA file (a private Casdoor needs `casdoor.ca_file`), sets no timeout (an unreachable
server would hang `lab up`), puts the admin secret in the query string (where access logs keep
it), and raises bare `Exception(msg)` or even `AttributeError` on an error reply. So the calls go
through one `requests.Session`: the admin application's credentials as HTTP Basic (Casdoor reads
Basic before the `clientId`/`clientSecret` query parameters), `verify=` given per request (the
REQUESTS_CA_BUNDLE on these machines would override a session setting), and every failure turned
into one `ProviderError` sentence.

Casdoor's reply envelope is `{"status": "ok"|"error", "msg", "data"}`: a missing object is
`data: null`, a write answers `"Affected"` or `"Unaffected"`, a refused credential is HTTP 403
with `msg: "Unauthorized operation"`.
"""

from __future__ import annotations

import time
from typing import Any

import requests

from ...errors import ProviderError

#: Casdoor's id for objects owned by the server itself (organizations and applications).
ADMIN_OWNER = "admin"


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
        self.ca_file = ca_file
        self.timeout = timeout
        self.read_retries = read_retries
        self.retry_pause = retry_pause
        self._session = requests.Session()
        self._session.auth = (client_id, client_secret)

    def close(self) -> None:
        self._session.close()

    # the objects the lab uses ---------------------------------------------------------------------
    def get_organization(self, name: str) -> dict[str, Any] | None:
        return self._get("get-organization", {"id": f"{ADMIN_OWNER}/{name}"}, f"read organization {name!r}")

    def add_organization(self, payload: dict[str, Any]) -> bool:
        return self._write("add-organization", payload, f"create organization {payload['name']!r}")

    def delete_organization(self, name: str) -> bool:
        return self._write("delete-organization", {"owner": ADMIN_OWNER, "name": name}, f"delete organization {name!r}")

    def get_application(self, name: str) -> dict[str, Any] | None:
        return self._get("get-application", {"id": f"{ADMIN_OWNER}/{name}"}, f"read application {name!r}")

    def add_application(self, payload: dict[str, Any]) -> bool:
        return self._write("add-application", payload, f"create application {payload['name']!r}")

    def update_application(self, payload: dict[str, Any]) -> bool:
        return self._write("update-application", payload, f"update application {payload['name']!r}",
                           {"id": f"{ADMIN_OWNER}/{payload['name']}"})

    def delete_application(self, name: str) -> bool:
        return self._write("delete-application", {"owner": ADMIN_OWNER, "name": name}, f"delete application {name!r}")

    def get_user(self, organization: str, name: str) -> dict[str, Any] | None:
        return self._get("get-user", {"id": f"{organization}/{name}"}, f"read user {organization}/{name}")

    def get_users(self, organization: str) -> list[dict[str, Any]]:
        return self._get("get-users", {"owner": organization}, f"list the users of organization {organization!r}") or []

    def add_user(self, payload: dict[str, Any]) -> bool:
        return self._write("add-user", payload, f"create user {payload['owner']}/{payload['name']}")

    def update_user(self, payload: dict[str, Any]) -> bool:
        return self._write("update-user", payload, f"update user {payload['owner']}/{payload['name']}",
                           {"id": f"{payload['owner']}/{payload['name']}"})

    def delete_user(self, organization: str, name: str) -> bool:
        return self._write("delete-user", {"owner": organization, "name": name}, f"delete user {organization}/{name}")

    def discovery(self) -> dict[str, Any]:
        """The OpenID Provider configuration, as the kube-apiserver will read it."""
        reply = self._call("GET", "/.well-known/openid-configuration", "read the OIDC discovery document",
                           retries=self.read_retries, auth=False)
        document = _json(reply, "read the OIDC discovery document", self.endpoint)
        if reply.status_code != 200 or not isinstance(document, dict) or "issuer" not in document:
            raise ProviderError(
                f"{self.endpoint}/.well-known/openid-configuration is not an OIDC discovery document (HTTP {reply.status_code})",
                "check that casdoor.endpoint is the base URL of Casdoor itself",
            )
        return document

    # plumbing ---------------------------------------------------------------------------------------
    def _get(self, action: str, params: dict[str, str], what: str) -> Any:
        reply = self._call("GET", f"/api/{action}", what, params=params, retries=self.read_retries)
        return self._data(reply, what)

    def _write(self, action: str, payload: dict[str, Any], what: str, params: dict[str, str] | None = None) -> bool:
        # Writes are never retried here: a dropped reply may hide a write that happened, and only
        # the caller can look the object up and decide (see CasdoorProvider._create).
        reply = self._call("POST", f"/api/{action}", what, params=params, json=payload, retries=0)
        return self._data(reply, what) == "Affected"

    def _data(self, reply: requests.Response, what: str) -> Any:
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

    def _call(self, method: str, path: str, what: str, *, retries: int, auth: bool = True, **kwargs: Any) -> requests.Response:
        url = self.endpoint + path
        verify: str | bool = self.ca_file or True
        attempt = 0
        while True:
            try:
                reply = self._session.request(
                    method, url, timeout=self.timeout, verify=verify,
                    auth=None if auth else _NoAuth(), **kwargs,
                )
            except requests.exceptions.SSLError:
                raise ProviderError(
                    f"the TLS certificate of Casdoor at {self.endpoint} is not trusted",
                    "set casdoor.ca_file to the CA certificate that signed it",
                ) from None
            except requests.exceptions.Timeout:
                failure: ProviderError = CasdoorUnavailable(
                    f"Casdoor at {self.endpoint} did not answer the request to {what} within {self.timeout:g} seconds",
                    "check that Casdoor is running and reachable, then run the command again",
                )
            except requests.exceptions.ConnectionError as exc:
                failure = CasdoorUnavailable(
                    f"cannot reach Casdoor at {self.endpoint} to {what}: {_reason(exc)}",
                    "check casdoor.endpoint (or CASDOOR_ENDPOINT) and that Casdoor is running, then run the command again",
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


class _NoAuth(requests.auth.AuthBase):
    """Public endpoints get no credentials (the admin secret should go nowhere it is not needed)."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


def _json(reply: requests.Response, what: str, endpoint: str) -> Any:
    try:
        return reply.json()
    except ValueError:
        raise ProviderError(
            f"Casdoor at {endpoint} answered the request to {what} with HTTP {reply.status_code} and no JSON",
            "check that casdoor.endpoint is the base URL of Casdoor itself, not of a proxy or its web UI",
        ) from None


def _reason(exc: requests.exceptions.ConnectionError) -> str:
    text = str(exc)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "unknown host name"),
        ("RemoteDisconnected", "the connection was closed without a reply"),
        ("Connection reset", "the connection was reset"),
        ("Connection aborted", "the connection was closed without a reply"),
    ):
        if needle in text:
            return reason
    return "the connection failed"


def _hint_for(message: str) -> str:
    lowered = message.lower()
    if "already exists" in lowered or "duplicate" in lowered:
        return "another object has that name; rename it in Casdoor or choose other names in lab.yaml"
    if "organization" in lowered and ("not exist" in lowered or "not found" in lowered):
        return "create the organization in Casdoor or set casdoor.create_organization: true"
    if "password" in lowered:
        return "the organization's password policy refused the password; set a compliant users[].password"
    return "fix the cause in Casdoor or lab.yaml, then run the command again"

"""The thin layer over auth0-python: call, wait out the rate limit, never create twice.

Three habits of the SDK shape this module (DESIGN.md section 3):
- it retries 409 and 5xx on its own, so a POST that succeeded but whose answer was lost could be
  sent again and create a second application. Every call here runs with `max_retries: 0`, and a
  create whose outcome is unknown (timeout, dropped connection, 5xx, 409) is followed by a look-up
  that adopts the object if the first attempt did create it;
- turning its retries off also turns off its 429 handling, so this layer waits until
  `X-RateLimit-Reset` itself, visibly (`Reporter.wait`), and paces requests from the
  `X-RateLimit-Remaining` of earlier answers so a free tenant (2 requests/s) rarely answers 429;
- some errors arrive as a plain `ApiError`, so failures are mapped by status code.

The management token is fetched here (client-credentials grant) so bad credentials and missing
scopes are reported before anything changes; it lives only in memory.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from typing import Any, Callable, Mapping, TypeVar

import httpx
import pydantic

from ...progress import Reporter
from . import failures
from ...oidc.jwt import claims_of
from .payloads import missing_scopes

T = TypeVar("T")

_NO_RETRY: dict[str, Any] = {"max_retries": 0}


class _Ambiguous(Exception):
    """A write whose outcome is unknown: the request may or may not have been carried out."""


def plain(value: Any) -> Any:
    """An SDK model (pydantic) as the JSON Auth0 sent, so payload code works on plain dicts."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


class RateBudget:
    """What the last answers said about the Management API's request budget.

    Auth0 sends `X-RateLimit-Limit` (the bucket), `-Remaining` and `-Reset` (unix seconds, when
    the bucket is full again) with every answer. When nothing remains, the next request would be
    refused, so it is held until a token is back: a bucket of `limit` refills in about a second
    (free tenants: 2, at 2 requests/s), or at the latest at the reset. Time is counted from the
    previous answer, which Auth0 sent after spending its token.
    """

    def __init__(self) -> None:
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.limit: int | None = None
        self.answered_at: float = 0.0
        self.sent = 0
        self._lock = threading.Lock()

    def observe(self, headers: Mapping[str, str], now: float) -> None:
        with self._lock:
            self.answered_at = now
            try:
                self.remaining = int(headers["x-ratelimit-remaining"])
                self.reset_at = float(headers["x-ratelimit-reset"])
                self.limit = int(headers.get("x-ratelimit-limit") or 0) or None
            except (KeyError, ValueError):
                pass

    def delay(self, now: float) -> float:
        """Seconds to hold the next request so it does not spend a token the tenant does not have."""
        with self._lock:
            if self.remaining is None or self.remaining > 0 or self.reset_at is None:
                return 0.0
            until_reset = max(0.0, self.reset_at - now)
            interval = 1.0 / self.limit if self.limit else until_reset
            return max(0.0, min(until_reset, self.answered_at + interval - now))

    def spend(self) -> None:
        with self._lock:
            self.sent += 1
            if self.remaining is not None:
                self.remaining -= 1

    def forget(self) -> None:
        """After a 429 the count is unknown until the next answer."""
        with self._lock:
            self.remaining = None


def retry_delay(headers: Mapping[str, str] | None, now: float) -> float:
    """How long a 429 asks us to wait: Retry-After, else until X-RateLimit-Reset, else a second."""
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    try:
        return max(0.0, float(headers["retry-after"]))
    except (KeyError, ValueError):
        pass
    try:
        return max(0.2, float(headers["x-ratelimit-reset"]) - now)
    except (KeyError, ValueError):
        return 1.0


class ManagementApi:
    """One tenant's Management API, reached with a machine-to-machine application's credentials."""

    #: Consecutive attempts of one call when Auth0 fails in a way worth retrying (5xx, timeouts).
    attempts = 4
    #: The longest one call keeps waiting for the rate limit to clear before giving up.
    patience = 120.0

    def __init__(self, domain: str, client_id: str, client_secret: str, ui: Reporter, *, timeout: float = 15.0) -> None:
        self.domain = domain
        self.ui = ui
        self.timeout = timeout
        self.budget = RateBudget()
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._token_expires = 0.0
        self._sdk: Any = None
        self._http: httpx.Client | None = None
        self._importer: threading.Thread | None = None

    # connection --------------------------------------------------------------------------------
    @property
    def requests_sent(self) -> int:
        """Management API requests sent so far (the rate limit counts these)."""
        return self.budget.sent

    def connect(self) -> None:
        """Fetch the management token now: wrong domain, credentials or scopes fail before any change."""
        self._bearer()

    def __enter__(self) -> "ManagementApi":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client; the token is kept, and the next call opens a new client."""
        if self._http is not None:
            self._http.close()
            self._http = None
            self._sdk = None

    def _bearer(self) -> str:
        if self._token is None or time.time() > self._token_expires - 30:
            self._token, self._token_expires = self._fetch_token()
        return self._token

    def _fetch_token(self) -> tuple[str, float]:
        """The client-credentials grant, sent with httpx (already loaded) rather than the SDK's
        Authentication API classes, whose import alone costs a third of a second; meanwhile the
        Management SDK is imported in the background."""
        self._import_sdk_in_background()
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "audience": f"https://{self.domain}/api/v2/",
        }
        try:
            answer = httpx.post(f"https://{self.domain}/oauth/token", data=form, timeout=self.timeout)
        except httpx.ConnectError as exc:
            reason = "its TLS certificate is not trusted" if "CERTIFICATE" in str(exc).upper() else (
                "the name does not resolve or the connection was refused")
            raise failures.unreachable(self.domain, reason) from None
        except httpx.TimeoutException:
            raise failures.unreachable(self.domain, "no answer within the timeout") from None
        except httpx.TransportError as exc:
            raise failures.unreachable(self.domain, type(exc).__name__) from None
        try:
            body = answer.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise failures.unreachable(self.domain, f"HTTP {answer.status_code} that is not Auth0's answer")
        if answer.status_code != 200 or not body.get("access_token"):
            raise failures.token_refused(answer.status_code, str(body.get("error", "")), str(body.get("error_description", "")), self.domain)
        granted = _granted_scopes(body)
        if granted is not None:
            missing = missing_scopes(granted)
            if missing:
                raise failures.missing_scopes_error(missing, self.domain)
        return body["access_token"], time.time() + float(body.get("expires_in") or 3600)

    def _import_sdk_in_background(self) -> None:
        if self._importer is None and "auth0.management" not in sys.modules:
            self._importer = threading.Thread(target=importlib.import_module, args=("auth0.management",), daemon=True)
            self._importer.start()

    @property
    def sdk(self) -> Any:
        """The SDK's ManagementClient, sending through a client that paces and counts requests."""
        if self._sdk is None:
            if self._importer is not None:
                self._importer.join()
            from auth0.management import ManagementClient

            self._http = httpx.Client(
                timeout=self.timeout,
                event_hooks={"request": [self._before_request], "response": [self._after_response]},
            )
            self._sdk = ManagementClient(domain=self.domain, token=self._bearer, httpx_client=self._http, timeout=self.timeout)
        return self._sdk

    def _before_request(self, request: httpx.Request) -> None:
        delay = self.budget.delay(time.time())
        if delay > 0:
            self.ui.wait(delay, "pacing requests to Auth0's rate limit")
        self.budget.spend()

    def _after_response(self, response: httpx.Response) -> None:
        self.budget.observe(response.headers, time.time())

    # the call disciplines ------------------------------------------------------------------------
    def repeatable(self, action: str, call: Callable[[dict[str, Any]], T]) -> T:
        """A read, or an idempotent write (PATCH to a value): repeating it is harmless, so it is retried."""
        return self._run(action, call, repeatable=True)

    def read_one(self, action: str, call: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
        """Read one object by id; None if it does not exist (404)."""
        try:
            return _json(self._run(action, call, repeatable=True, missing_ok=True))
        except _Gone:
            return None

    def delete(self, action: str, call: Callable[[dict[str, Any]], Any]) -> bool:
        """Delete; False if it was already gone (404), which is what teardown wanted anyway."""
        try:
            self._run(action, call, repeatable=True, missing_ok=True)
        except _Gone:
            return False
        return True

    def create(self, action: str, call: Callable[[dict[str, Any]], T], find: Callable[[], T | None]) -> T:
        """POST without ever making a duplicate: after an answer that leaves it unknown whether the
        object was made, `find` looks it up (by name and mark) and adopts it; only if it is not
        there is the POST sent again. A 409 is answered by `find` too: the object already exists."""
        for attempt in range(self.attempts):
            try:
                return self._run(action, call, repeatable=False)
            except _Ambiguous as unknown:
                found = find()
                if found is not None:
                    return found
                if attempt == self.attempts - 1:
                    raise unknown.args[0] from None
            except _Conflict as conflict:
                found = find()
                if found is not None:
                    return found
                raise conflict.args[0] from None
        raise AssertionError("unreachable")

    def _run(self, action: str, call: Callable[[dict[str, Any]], T], *, repeatable: bool, missing_ok: bool = False) -> T:
        from auth0.management.core.api_error import ApiError
        from auth0.management.core.parse_error import ParsingError

        waited = 0.0
        failures_left = self.attempts
        token_renewed = False
        while True:
            try:
                return call(dict(_NO_RETRY, timeout=self.timeout))
            except ApiError as exc:
                status = exc.status_code
                if status == 429:
                    delay = retry_delay(exc.headers, time.time())
                    if waited + delay > self.patience:
                        raise failures.rate_limit_exhausted(action, self.domain) from None
                    waited += delay
                    self.ui.wait(delay, f"Auth0 rate limit reached while {action}")
                    self.budget.forget()
                    continue
                if status == 401 and not token_renewed:
                    self._token, token_renewed = None, True  # expired or revoked: one new token, then give up
                    continue
                if status == 404 and missing_ok:
                    raise _Gone() from None
                problem = failures.api_failure(status, exc.body, action, self.domain)
                if status == 409 and not repeatable:
                    raise _Conflict(problem) from None
                if status is not None and (status >= 500 or status == 408):
                    if not repeatable:
                        raise _Ambiguous(problem) from None
                    failures_left -= 1
                    if failures_left > 0:
                        self.ui.wait(0.5, f"Auth0 answered {status} while {action}")
                        continue
                raise problem from None
            except (pydantic.ValidationError, ParsingError):  # the SDK could not read Auth0's answer
                raise failures.unreachable(self.domain, f"an answer the SDK cannot read while {action}") from None
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = failures.unreachable(self.domain, f"{type(exc).__name__} while {action}")
                if not repeatable:
                    raise _Ambiguous(problem) from None
                failures_left -= 1
                if failures_left > 0:
                    continue
                raise problem from None

    # look-ups and changes, as plain dicts ----------------------------------------------------------
    def clients_named(self, name: str) -> list[dict[str, Any]]:
        """Every application with this name (Auth0 allows duplicates), with the fields the lab checks."""
        fields = "client_id,name,client_metadata,app_type,grant_types,token_endpoint_auth_method,oidc_conformant,jwt_configuration"
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            answer = self.repeatable(
                "looking up applications",
                lambda options, page=page: self.sdk.clients.with_raw_response.list(
                    page=page, per_page=100, include_totals=True, fields=fields, include_fields=True, request_options=options
                ),
            )
            body = _json(answer)
            clients = body.get("clients", []) if isinstance(body, dict) else body
            found += [client for client in clients if client.get("name") == name]
            total = body.get("total", 0) if isinstance(body, dict) else 0
            page += 1
            if not clients or page * 100 >= total:
                return found

    def client(self, client_id: str) -> dict[str, Any] | None:
        return self.read_one("reading the application", lambda options: self.sdk.clients.with_raw_response.get(client_id, request_options=options))

    def create_client(self, payload: Mapping[str, Any], find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        return self.create(
            "creating the application",
            lambda options: _json(self.sdk.clients.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def update_client(self, client_id: str, patch: Mapping[str, Any]) -> None:
        self.repeatable("updating the application", lambda options: self.sdk.clients.update(client_id, **patch, request_options=options))

    def delete_client(self, client_id: str) -> bool:
        return self.delete("deleting the application", lambda options: self.sdk.clients.delete(client_id, request_options=options))

    def connections_named(self, name: str) -> list[dict[str, Any]]:
        answer = self.repeatable(
            "looking up connections",
            lambda options: self.sdk.connections.with_raw_response.list(name=name, request_options=options),
        )
        body = _json(answer)
        connections = body.get("connections", []) if isinstance(body, dict) else body
        return [connection for connection in connections if connection.get("name") == name]

    def connection(self, connection_id: str) -> dict[str, Any] | None:
        return self.read_one("reading the connection", lambda options: self.sdk.connections.with_raw_response.get(connection_id, request_options=options))

    def create_connection(self, payload: Mapping[str, Any], find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        return self.create(
            "creating the database connection",
            lambda options: _json(self.sdk.connections.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def delete_connection(self, connection_id: str) -> bool:
        return self.delete("deleting the database connection", lambda options: self.sdk.connections.delete(connection_id, request_options=options))

    def enabled_clients(self, connection_id: str) -> set[str]:
        enabled: set[str] = set()
        cursor: str | None = None
        while True:
            answer = self.repeatable(
                "reading the connection's applications",
                lambda options, cursor=cursor: self.sdk.connections.clients.with_raw_response.get(
                    connection_id, take=100, from_=cursor, request_options=options
                ),
            )
            body = _json(answer)
            enabled |= {entry["client_id"] for entry in body.get("clients", [])}
            cursor = body.get("next")
            if not cursor or not body.get("clients"):
                return enabled

    def set_enabled_clients(self, connection_id: str, request: list[dict[str, Any]]) -> None:
        self.repeatable(
            "enabling the application on the connection",
            lambda options: self.sdk.connections.clients.update(connection_id, request=request, request_options=options),
        )

    def tenant_settings(self) -> dict[str, Any]:
        return _json(
            self.repeatable(
                "reading the tenant settings",
                lambda options: self.sdk.tenants.settings.with_raw_response.get(
                    fields="default_directory", include_fields=True, request_options=options
                ),
            )
        )

    def set_default_directory(self, value: str | None) -> None:
        """Point the password grant at a connection; None removes the setting (sent as null)."""
        self.repeatable(
            "setting the tenant's default directory",
            lambda options: self.sdk.tenants.settings.update(default_directory=value, request_options=options),
        )

    def lab_users(self, mark_key: str, lab: str) -> list[dict[str, Any]]:
        """The users carrying the lab's mark. Auth0's search index lags writes by seconds."""
        found: list[dict[str, Any]] = []
        page = 0
        while True:
            answer = self.repeatable(
                "looking up the lab's users",
                lambda options, page=page: self.sdk.users.with_raw_response.list(
                    q=f'app_metadata.{mark_key}:"{lab}"', page=page, per_page=100, include_totals=True, request_options=options
                ),
            )
            body = _json(answer)
            users = body.get("users", []) if isinstance(body, dict) else body
            found += users
            total = body.get("total", 0) if isinstance(body, dict) else 0
            page += 1
            if not users or page * 100 >= total:
                return found

    def users_by_email(self, email: str) -> list[dict[str, Any]]:
        """Exact look-up (no index lag), as Auth0 recommends right after a create."""
        return _json(
            self.repeatable(
                "looking up a user by email",
                lambda options: self.sdk.users.with_raw_response.list_users_by_email(email=email, request_options=options),
            )
        )

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self.read_one("reading a user", lambda options: self.sdk.users.with_raw_response.get(user_id, request_options=options))

    def create_user(self, payload: Mapping[str, Any], find: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
        return self.create(
            f"creating the user {payload.get('email')}",
            lambda options: _json(self.sdk.users.with_raw_response.create(**payload, request_options=options)),
            find,
        )

    def update_user(self, user_id: str, patch: Mapping[str, Any]) -> None:
        self.repeatable("updating a user", lambda options: self.sdk.users.update(user_id, **patch, request_options=options))

    def delete_user(self, user_id: str) -> bool:
        return self.delete("deleting a user", lambda options: self.sdk.users.delete(user_id, request_options=options))

    def start_import(self, connection_id: str, users_file: bytes, on_unknown: Callable[[], None] = lambda: None) -> dict[str, Any]:
        """Start a users-imports job. Jobs cannot be looked up, so after an unknown outcome the job is
        sent again (`on_unknown` is told): a second job only reports the users of the first as
        duplicates, which the caller resolves."""
        def unknown() -> None:
            on_unknown()
            return None

        return self.create(
            "starting the bulk user import",
            lambda options: _json(
                self.sdk.jobs.users_imports.with_raw_response.create(
                    users=("users.json", users_file, "application/json"),
                    connection_id=connection_id,
                    upsert=False,
                    send_completion_email=False,
                    request_options=options,
                )
            ),
            unknown,
        )

    def job(self, job_id: str) -> dict[str, Any]:
        return _json(self.repeatable("checking the bulk import", lambda options: self.sdk.jobs.with_raw_response.get(job_id, request_options=options)))

    def job_errors(self, job_id: str) -> Any:
        answer = self.repeatable(
            "reading the bulk import's failures",
            lambda options: self.sdk.jobs.errors.with_raw_response.get(job_id, request_options=options),
        )
        return _json(answer)


class _Gone(Exception):
    pass


class _Conflict(Exception):
    pass


def _json(answer: Any) -> Any:
    """The JSON body of a raw SDK answer (the SDK's models drop fields they do not know)."""
    if hasattr(answer, "iter_pages"):  # a list call's pager: its parsed page, totals included
        return plain(answer.response)
    response = getattr(answer, "_response", None)
    if isinstance(response, httpx.Response):
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
    return plain(answer)


def _granted_scopes(answer: Mapping[str, Any]) -> list[str] | None:
    """The scopes of a client-credentials answer: its `scope` field, else the token's claim."""
    if isinstance(answer.get("scope"), str):
        return answer["scope"].split()
    try:
        claims = claims_of(answer["access_token"])
    except (KeyError, TypeError, AttributeError, ValueError):  # ValueError: MalformedToken
        return None
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    if isinstance(scope, list):
        return [str(item) for item in scope]
    return None

"""How every Management API call is made: paced, retried only when safe, never creating twice.

Three habits of auth0-python shape this module (DESIGN.md section 3):
- it retries 409 and 5xx on its own, so a POST that succeeded but whose answer was lost could be
  sent again and create a second application. Every call here runs with `max_retries: 0`, and a
  create whose outcome is unknown (timeout, dropped connection, 5xx, 409) is followed by a look-up
  that adopts the object if the first attempt did create it;
- turning its retries off also turns off its 429 handling, so this layer waits until
  `X-RateLimit-Reset` itself, visibly (`Reporter.wait`), and paces requests from the
  `X-RateLimit-Remaining` of earlier answers so a free tenant (2 requests/s) rarely answers 429;
- some errors arrive as a plain `ApiError`, so failures are mapped by status code.

One rule covers an object that is gone (404): `Gone` is raised, which reads and deletes turn
into "nothing there" (`unless_gone`) and every other call reports as the failure it is.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from typing import Any, Callable, TypeVar

import httpx
import pydantic

from ...errors import ProviderError
from ...progress import Reporter
from . import failures
from .management_token import fetch_management_token
from .pacing import RateBudget, retry_delay

T = TypeVar("T")

_NO_RETRY: dict[str, Any] = {"max_retries": 0}

#: How a call is written: given the SDK's request options, send the request and answer.
Call = Callable[[dict[str, Any]], T]


class Gone(ProviderError):
    """Auth0 answered 404: the object the call names does not exist (any more)."""


class _Ambiguous(Exception):
    """A write whose outcome is unknown: the request may or may not have been carried out."""


class _Conflict(Exception):
    """A create answered 409: the object already exists."""


class ManagementSession:
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
    def connect(self) -> None:
        """Fetch the management token now: wrong domain, credentials or scopes fail before any change."""
        self._bearer()

    def __enter__(self) -> "ManagementSession":
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
            self._import_sdk_in_background()  # the token round trip hides most of the import
            self._token, self._token_expires = fetch_management_token(
                self.domain, self._client_id, self._client_secret, timeout=self.timeout
            )
        return self._token

    def _import_sdk_in_background(self) -> None:
        if self._importer is None and "auth0.management" not in sys.modules:
            self._importer = threading.Thread(target=importlib.import_module, args=("auth0.management",), daemon=True)
            self._importer.start()

    @property
    def sdk(self) -> Any:
        """The SDK's ManagementClient, sending through a client that paces requests."""
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
    def repeatable(self, action: str, call: Call[T]) -> T:
        """A read, or an idempotent write (PATCH to a value): repeating it is harmless, so it is retried."""
        return self._run(action, call, repeatable=True)

    def unless_gone(self, action: str, call: Call[T]) -> T | None:
        """A read or a delete of one object: None if the object is gone, which a delete wanted anyway."""
        try:
            return self._run(action, call, repeatable=True)
        except Gone:
            return None

    def create(self, action: str, call: Call[T], find: Callable[[], T | None]) -> T:
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

    def _run(self, action: str, call: Call[T], *, repeatable: bool) -> T:
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
                problem = failures.api_failure(status, exc.body, action, self.domain)
                if status == 404:
                    raise Gone(problem.message, problem.hint) from None
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


def plain(value: Any) -> Any:
    """An SDK model (pydantic) as the JSON Auth0 sent, so payload code works on plain dicts."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def json_of(answer: Any) -> Any:
    """The JSON body of a raw SDK answer (the SDK's models drop fields they do not know)."""
    if hasattr(answer, "iter_pages"):  # a list call's pager: its parsed page, totals included
        return plain(answer.response)
    response = getattr(answer, "_response", None)
    if isinstance(response, httpx.Response):
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
    return plain(answer)

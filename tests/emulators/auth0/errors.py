"""The two error shapes Auth0 answers with.

The Management API answers `{"statusCode", "error", "message", "errorCode"}`; the Authentication
API answers OAuth's `{"error", "error_description"}`. Handlers raise these and the server turns
them into responses, so tenant logic never deals with HTTP.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ManagementError(Exception):
    """A Management API v2 error, with Auth0's body."""

    def __init__(self, status: int, message: str, error_code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "statusCode": self.status,
            "error": HTTPStatus(self.status).phrase,
            "message": self.message,
        }
        if self.error_code:
            body["errorCode"] = self.error_code
        body.update(self.extra)
        return body


class OAuthError(Exception):
    """An Authentication API error (`/oauth/token`), with OAuth's body."""

    def __init__(self, status: int, error: str, description: str, **extra: Any) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, **self.extra}


def payload_error(detail: str, prop: str | None = None, about: str | None = None) -> ManagementError:
    """Auth0's JSON-schema failure: `Payload validation error: '<detail>' on property <p> (<about>).`"""
    message = f"Payload validation error: '{detail}'"
    if prop:
        message += f" on property {prop}"
        if about:
            message += f" ({about})"
    return ManagementError(400, message + ".", "invalid_body")


def query_error(detail: str, prop: str | None = None) -> ManagementError:
    message = f"Query validation error: '{detail}'"
    if prop:
        message += f" on property {prop}"
    return ManagementError(400, message + ".", "invalid_query_string")


def not_found(kind: str) -> ManagementError:
    """404 for a client, connection, user, resource server or job, with Auth0's errorCode."""
    messages = {
        "client": ("The client does not exist", "inexistent_client"),
        "connection": ("The connection does not exist", "inexistent_connection"),
        "user": ("The user does not exist.", "inexistent_user"),
        "resource_server": ("The resource server does not exist", "inexistent_resource_server"),
        "job": ("The job does not exist", "inexistent_job"),
    }
    message, code = messages[kind]
    return ManagementError(404, message, code)

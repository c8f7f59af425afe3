"""The one error family users see.

Every failure a user can cause or fix (bad lab.yaml, missing minikube, wrong credentials, a rate
limit that never clears) is raised as a `LabError`: the CLI prints `error: <message>` and
`hint: <hint>`, exits non-zero, and shows a traceback only under `--debug`.
"""

from __future__ import annotations


class LabError(Exception):
    """A failure explained for the user: what went wrong, and how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(LabError):
    """lab.yaml is missing, unreadable or invalid."""

    exit_code = 2


class ProviderError(LabError):
    """The identity provider refused or failed a call."""


class ClusterError(LabError):
    """minikube or the Kubernetes API server refused or failed."""


class StateError(LabError):
    """The lab's state is locked, unreadable, or from another lab."""


class CredentialError(LabError):
    """`lab token` could not get a token for kubectl."""

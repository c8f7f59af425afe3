"""A lab user's short name (the handle) and the kubeconfig context it names, from plain values.

The config model (`UserSpec.handle`) and `lab status`, which reads the recorded config as JSON
without building the models, derive both here, so the two can never name a user differently.
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_lab_name(name: str) -> bool:
    """A lab's name names folders, contexts and cluster objects: a DNS label of at most 40 characters."""
    return len(name) <= 40 and bool(_DNS_LABEL.match(name))


def user_handle(email: str | None, username: str | None) -> str:
    """`username` when given, else the e-mail's local part, lower-case, `_` and `+` made `-`."""
    if username:
        return username
    assert email is not None
    return email.split("@", 1)[0].lower().replace("_", "-").replace("+", "-")


def context_name(lab: str, handle: str) -> str:
    """The kubeconfig context (and user) of one lab user."""
    return f"{lab}-{handle}"

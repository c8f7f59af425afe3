"""Where a lab keeps its files.

`$OIDC_LAB_HOME/<lab>/` when OIDC_LAB_HOME is set, else in the platform's per-user state folder
(`provisioner.platform.user_state_dir()`: on Linux `$XDG_STATE_HOME/oidc-lab/<lab>/`, default
`~/.local/state/oidc-lab/<lab>/`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .platform import user_state_dir


def labs_root() -> Path:
    explicit = os.environ.get("OIDC_LAB_HOME")
    if explicit:
        return Path(explicit).expanduser().absolute()
    return Path(user_state_dir())


@dataclass(frozen=True)
class LabPaths:
    """The files of one lab. Everything in `root` is private to the user (0700 folder, 0600 files)."""

    root: Path

    @classmethod
    def for_lab(cls, name: str) -> "LabPaths":
        return cls(labs_root() / name)

    @property
    def state(self) -> Path:
        """Non-secret record of what the lab created, borrowed and changed."""
        return self.root / "state.json"

    @property
    def lock(self) -> Path:
        return self.root / "lab.lock"

    @property
    def credentials(self) -> Path:
        """Secrets the credential plugin needs: token endpoint, client secret, user passwords."""
        return self.root / "credentials.json"

    @property
    def tokens(self) -> Path:
        """The credential plugin's token cache, one file per user."""
        return self.root / "tokens"

    @property
    def issuer(self) -> Path:
        """The built-in issuer's CA, keys, users, refresh tokens, pid and log."""
        return self.root / "issuer"

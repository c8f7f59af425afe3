"""Where the plugin finds a lab's files, without importing `provisioner.paths`.

`provisioner.paths` builds on pathlib and dataclasses, which together cost more start-up time than
the whole cache hit (kubectl pays it on every command). These functions follow the same rules as
`provisioner.paths.labs_root()` with plain strings; a test keeps the two in agreement.
"""

from __future__ import annotations

import os

from ..platform import user_state_dir_light


def lab_root(lab: str) -> str:
    explicit = os.environ.get("OIDC_LAB_HOME")
    if explicit:
        return os.path.join(os.path.abspath(os.path.expanduser(explicit)), lab)
    return os.path.join(user_state_dir_light(), lab)


def credentials_file(root: str) -> str:
    """`LabPaths.credentials` of the lab in `root`."""
    return os.path.join(root, "credentials.json")


def tokens_dir(root: str) -> str:
    """`LabPaths.tokens` of the lab in `root`."""
    return os.path.join(root, "tokens")

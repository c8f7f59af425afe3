"""Wake the lab's built-in issuer before a grant: after a reboot (or any death) nothing else would.

kubectl keeps working on cached tokens until they expire; the next `lab token` that must fetch one
then starts the issuer the same detached way `lab up` does, under the issuer folder's start lock
(parallel kubectl calls start it once), and signs in. The apiserver finds the issuer again on its
next discovery retry. Imported only when a token must be fetched: the start logic is the
provisioning side's, and a cache hit must not pay for it.
"""

from __future__ import annotations

import os

from ..errors import CredentialError, LabError


def issuer_folder(root: str) -> str | None:
    """The lab's built-in issuer folder, or None for a lab on another IdP."""
    folder = os.path.join(root, "issuer")
    return folder if os.path.exists(os.path.join(folder, "issuer.json")) else None


def wake(lab: str, folder: str) -> None:
    """Make sure the issuer in `folder` runs; start it if not. Raises CredentialError if it cannot."""
    from pathlib import Path

    from ..providers.local.issuer.files import IssuerFiles, read_settings
    from ..providers.local.issuer.process import IssuerProcess

    again = f"run `lab up` for lab {lab!r} (in the folder of its lab.yaml) to set up and start its issuer again"
    try:
        settings = read_settings(IssuerFiles(Path(folder)))
    except (ValueError, KeyError, TypeError):
        raise CredentialError(f"the built-in issuer's settings {os.path.join(folder, 'issuer.json')} are damaged",
                              again) from None
    if settings is None:
        return
    try:
        IssuerProcess(Path(folder)).ensure_running(settings)
    except LabError as failure:
        raise CredentialError(
            f"the lab's built-in issuer is not running and could not be started: {failure.message}",
            f"{failure.hint}; or {again}" if failure.hint else again,
        ) from None

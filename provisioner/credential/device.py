"""`lab token` in device mode: the device authorization grant (RFC 8628), for machines without a browser.

The plugin asks the IdP for a device code, prints where to go and the code to type (stderr:
stdout belongs to kubectl), and polls the token endpoint as section 3.5 says: every `interval`
seconds (5 when the IdP names none), 5 s slower after each `slow_down`, until a token,
`access_denied` or `expired_token` (or the code's `expires_in` passes). Imported only when this
flow runs.
"""

from __future__ import annotations

import time

from ..errors import CredentialError
from ..oidc.flows import DEVICE_CODE_GRANT
from .flow import GrantRefused

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from .client import HttpTokenClient

DEFAULT_INTERVAL = 5  # RFC 8628 section 3.2: "If no value is provided, clients MUST use 5 as the default."
SLOW_DOWN_STEP = 5  # section 3.5: "the interval MUST be increased by 5 seconds for this and all subsequent requests"


def sign_in(client: HttpTokenClient, lab: str, user: str, stderr: TextIO,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """The token response once a person has entered the printed code and signed in as `user`."""
    s = client.settings
    if not s.device_authorization_endpoint:
        raise CredentialError(f"lab {lab!r} has no device sign-in set up for its identity provider",
                              "run `lab up` again, or set oidc.flow: password or browser")
    try:
        started = client.authorize_device()
    except GrantRefused as refused:
        raise CredentialError(f"the identity provider refused to start a device sign-in ({refused})",
                              "check that the lab's application allows the device code grant (run `lab up` again)") from None
    device_code, user_code = started.get("device_code"), started.get("user_code")
    uri = started.get("verification_uri") or started.get("verification_url")  # Google's older spelling
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise CredentialError("the identity provider's device authorization answer lacks a device code, user code "
                              "or verification URI", "check the device authorization endpoint in credentials.json")
    complete = started.get("verification_uri_complete")
    stderr.write(f"lab token: to sign in to lab {lab} as {user}, open {uri}\n"
                 f"  and enter the code {user_code}")
    stderr.write(f"\n  (or open {complete})\n" if isinstance(complete, str) and complete else "\n")
    stderr.flush()
    interval = _seconds(started.get("interval"), DEFAULT_INTERVAL)
    deadline = clock() + _seconds(started.get("expires_in"), 600)
    while True:
        sleep(interval)
        if clock() > deadline:
            raise _expired()
        try:
            return client.redeem({"grant_type": DEVICE_CODE_GRANT, "device_code": device_code})
        except GrantRefused as refused:
            if refused.error == "authorization_pending":
                continue
            if refused.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if refused.error == "expired_token":
                raise _expired() from None
            if refused.error == "access_denied":
                raise CredentialError("the sign-in was declined on the device page",
                                      "run the kubectl command again and approve the sign-in") from None
            raise CredentialError(f"the identity provider refused the device sign-in ({refused})",
                                  "run the kubectl command again for a new code") from None


def _expired() -> CredentialError:
    return CredentialError("the device code expired before anyone signed in with it",
                           "run the kubectl command again and enter the new code it prints")


def _seconds(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default

"""`lab token` on an attendee's laptop: everything it needs is in the kubeconfig, nothing in a lab folder.

A room's handout kubeconfig runs `lab token --issuer URL --client-id ID --login EMAIL [--flow F]`
with the issuer's CA in the exec env (`OIDC_LAB_CA`, PEM). There is no client secret (the room's
client is public) and no stored password: on a miss without a usable refresh token the password
is asked for on the terminal (kubectl passes it through with `interactiveMode: IfAvailable`), or
read from `OIDC_LAB_PASSWORD` where no terminal exists. Tokens are cached per kubeconfig user, in
a file named after the issuer, client and login (so two rooms never share a cache).

A cache hit imports only `os`, like the lab path: kubectl runs this for every command.
"""

from __future__ import annotations

import os

from ..errors import CredentialError
from .cache import TokenCache

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CA_ENV = "OIDC_LAB_CA"
PASSWORD_ENV = "OIDC_LAB_PASSWORD"
FLOWS = ("password", "browser", "device")
_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.@~")


class RoomUser:
    """One handout kubeconfig user: who signs in where, read from the exec args."""

    __slots__ = ("issuer", "client_id", "login", "flow")

    def __init__(self, issuer: str, client_id: str, login: str, flow: str = "password") -> None:
        self.issuer, self.client_id, self.login, self.flow = issuer, client_id, login, flow

    @property
    def cache_name(self) -> str:
        """A file name unique to (issuer, client, login), readable for a person looking at the folder."""
        host = self.issuer.split("://", 1)[-1]
        raw = f"{self.login}~{host}~{self.client_id}"
        return "".join(c if c in _NAME_SAFE else "_" for c in raw)


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "oidc-lab", "tokens")


def cache_for(user: RoomUser) -> TokenCache:
    return TokenCache(cache_dir(), user.cache_name)


def connect(user: RoomUser) -> Any:
    """The IdP client for a miss (discovery, then the grants); imported and built only then."""
    if user.flow != "password":
        raise CredentialError(
            f"this oidc-lab cannot sign in with the {user.flow!r} flow the handout asks for",
            "upgrade oidc-lab (`pip install -U oidc-lab`), or ask the instructor for a handout using the password flow",
        )
    from .client import HttpTokenClient
    from ..secrets import TokenClient

    ca_file = _ca_file(user)
    endpoint = _token_endpoint(user, ca_file)
    settings = TokenClient(token_endpoint=endpoint, client_id=user.client_id, issuer=user.issuer, ca_file=ca_file)

    class AttendeeClient(HttpTokenClient):
        def sign_in(self) -> dict[str, Any]:
            self._password = ask_password(self.login)  # asked only now: a refresh needs no password
            return super().sign_in()

    return AttendeeClient(settings, user.login, "")


def ask_password(login: str) -> str:
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    import getpass

    try:
        with open("/dev/tty" if os.name != "nt" else "CONIN$"):
            pass
    except OSError:
        raise CredentialError(
            f"signing in as {login} needs your password, and there is no terminal to ask it on",
            f"run the kubectl command in a terminal (it asks for the password once), or set {PASSWORD_ENV}",
        ) from None
    password = getpass.getpass(f"Password for {login}: ")
    if not password:
        raise CredentialError("no password given", "run the command again and type the password from your handout")
    return password


def _ca_file(user: RoomUser) -> str | None:
    """The CA from the kubeconfig's env, as a file next to the cache (ssl reads CAs from files)."""
    pem = os.environ.get(CA_ENV)
    if not pem:
        return None
    from pathlib import Path

    from ..fsutil import write_private

    path = Path(cache_dir()) / f"{user.cache_name}.ca.pem"
    if not path.exists() or path.read_text() != pem:
        write_private(path, pem)
    return str(path)


def _token_endpoint(user: RoomUser, ca_file: str | None) -> str:
    """The token endpoint from the issuer's discovery document (the one place that names it)."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    url = user.issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        with urllib.request.urlopen(url, timeout=20, context=context) as answer:
            document = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError, ssl.SSLError) as failure:
        reason = getattr(failure, "reason", failure)
        raise CredentialError(
            f"cannot read the identity provider's discovery document at {url} ({reason})",
            "check that this laptop is on the room's network and that the instructor's lab is up",
        ) from None
    endpoint = document.get("token_endpoint") if isinstance(document, dict) else None
    if not isinstance(endpoint, str) or not endpoint.startswith("https://"):
        raise CredentialError(f"the discovery document at {url} names no https token endpoint",
                              "ask the instructor to check the lab's issuer (`lab doctor`)")
    return endpoint

"""`lab token` on an attendee's laptop: everything it needs is in the kubeconfig, nothing in a lab folder.

A handout kubeconfig (a room's, or the self-service page's download) runs
`lab token --issuer URL --client-id ID --login NAME --flow F [--redirect-ports P,Q] [--issuer-address A]`
with the issuer's CA in the exec env (`OIDC_LAB_CA`, PEM) when it is private. The client is public:
no secret exists on the laptop. The endpoints come from the issuer's discovery document, and the
sign-in is the flow the lab chose, through the same flows the instructor's `lab token` runs:
- `password`: the password is asked for on the terminal (kubectl passes it through with
  `interactiveMode: IfAvailable`), or read from `OIDC_LAB_PASSWORD` where no terminal exists;
- `browser`: authorization code with PKCE, redirected to a listener on 127.0.0.1 at the first free
  port of `--redirect-ports` (those the lab registered with the IdP);
- `device`: the device authorization grant; the code and where to enter it go to stderr.
`--issuer-address` reaches the issuer at another host than its URL names (the built-in issuer of a
lab without a room: its name resolves only inside the node; its certificate names the address).
Tokens are cached per kubeconfig user, in a file named after the issuer, client and login (so two
rooms never share a cache), and refreshed as the lab's are.

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
DEFAULT_REDIRECT_PORTS = (8000, 18000)  # the lab's default oidc.redirect_ports
_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.@~")


class RoomUser:
    """One handout kubeconfig user: who signs in where, and how, read from the exec args."""

    __slots__ = ("issuer", "client_id", "login", "flow", "redirect_ports", "issuer_address")

    def __init__(self, issuer: str, client_id: str, login: str, flow: str = "password",
                 redirect_ports: tuple[int, ...] = DEFAULT_REDIRECT_PORTS, issuer_address: str | None = None) -> None:
        self.issuer, self.client_id, self.login, self.flow = issuer, client_id, login, flow
        self.redirect_ports, self.issuer_address = redirect_ports, issuer_address

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
    from .client import HttpTokenClient
    from ..secrets import TokenClient

    ca_file = _ca_file(user)
    endpoints = _endpoints(user, ca_file)
    settings = TokenClient(token_endpoint=endpoints["token_endpoint"], client_id=user.client_id, issuer=user.issuer,
                           ca_file=ca_file, authorization_endpoint=endpoints.get("authorization_endpoint"),
                           device_authorization_endpoint=endpoints.get("device_authorization_endpoint"),
                           redirect_ports=list(user.redirect_ports), public_client=True)

    class AttendeeClient(HttpTokenClient):
        def sign_in(self) -> dict[str, Any]:
            if self.flow == "password":
                self._password = ask_password(self.login)  # asked only now: a refresh needs no password
            return super().sign_in()

    host = user.issuer.split("://", 1)[-1].split("/", 1)[0]
    return AttendeeClient(settings, user.login, "", flow=user.flow, lab=host, handle=user.login)


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


def reach(user: RoomUser, url: str) -> str:
    """`url` as this machine reaches it: on `--issuer-address` when it is on the issuer's host."""
    if not user.issuer_address:
        return url
    from urllib.parse import urlsplit, urlunsplit

    parts, issuer = urlsplit(url), urlsplit(user.issuer)
    if parts.hostname != issuer.hostname:
        return url
    address = f"[{user.issuer_address}]" if ":" in user.issuer_address else user.issuer_address
    netloc = f"{address}:{parts.port}" if parts.port else address
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _endpoints(user: RoomUser, ca_file: str | None) -> dict[str, str]:
    """The https endpoints of the issuer's discovery document (the one place that names them)."""
    import json
    import ssl
    import urllib.error
    import urllib.request

    url = reach(user, user.issuer.rstrip("/") + "/.well-known/openid-configuration")
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
    document = document if isinstance(document, dict) else {}
    endpoints = {name: reach(user, value) for name in ("token_endpoint", "authorization_endpoint",
                                                       "device_authorization_endpoint")
                 if isinstance(value := document.get(name), str) and value.startswith("https://")}
    if "token_endpoint" not in endpoints:
        raise CredentialError(f"the discovery document at {url} names no https token endpoint",
                              "ask the instructor to check the lab's issuer (`lab doctor`)")
    return endpoints

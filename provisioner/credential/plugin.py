"""`lab token`: the kubectl exec credential plugin's command line.

kubectl runs `lab token --lab NAME --user HANDLE` for every command and reads an ExecCredential
from stdout; `--raw` prints the bare id_token for `kubectl --token=$(lab token --raw ...)`.
The arguments are parsed by hand: argparse alone would add a quarter to each kubectl call here.
Secrets never appear in the arguments: the user's password stays in the lab's credentials.json.
"""

from __future__ import annotations

import os
import sys

from ..errors import CredentialError
from . import labfiles
from .cache import TokenCache
from .flow import get_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

    from .cache import Tokens
    from .client import HttpTokenClient

EXEC_API_VERSION = "client.authentication.k8s.io/v1"
KNOWN_API_VERSIONS = (EXEC_API_VERSION, "client.authentication.k8s.io/v1beta1")
# Characters that stand in a JSON string as themselves: enough for JWTs, API versions and timestamps.
_JSON_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/+=~ ")
USAGE = ("usage: lab token --lab NAME --user HANDLE [--raw] [--refresh]\n"
         "       lab token --issuer URL --client-id ID --login EMAIL [--flow password|browser|device]\n"
         "                 [--redirect-ports P,Q] [--issuer-address HOST] [--raw] [--refresh]")
HELP = f"""{USAGE}

Print a Kubernetes ExecCredential with the id_token of a lab user (kubectl runs this).

  --lab NAME      the lab, as in lab.yaml
  --user HANDLE   the user's handle in the lab
  --raw           print only the id_token, for kubectl --token=...
  --refresh       ignore the cached token and sign in again

On an attendee's laptop (a room's handout kubeconfig), with no lab folder:
  --issuer URL --client-id ID --login EMAIL [--flow password|browser|device]
                  sign in at that issuer (its CA in $OIDC_LAB_CA) with that flow; tokens cached per user
  --redirect-ports P,Q   loopback ports of the browser flow (those registered with the IdP)
  --issuer-address HOST  reach the issuer at HOST rather than at its URL's host name
"""
ROOM_ARGS = ("--issuer", "--client-id", "--login", "--flow", "--redirect-ports", "--issuer-address")


class UsageError(CredentialError):
    exit_code = 2


class Options:
    __slots__ = ("lab", "user", "raw", "refresh", "room")

    def __init__(self, lab: str, user: str, raw: bool = False, refresh: bool = False, room: object = None) -> None:
        self.lab, self.user, self.raw, self.refresh = lab, user, raw, refresh
        self.room = room  # a standalone.RoomUser: the kubeconfig names the issuer, no lab folder


def parse_args(argv: list[str]) -> Options | None:
    """The options, or None when help was asked for."""
    values: dict[str, str] = {}
    flags = {"--raw": False, "--refresh": False}
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            return None
        if arg in flags:
            flags[arg] = True
            continue
        name, has_value, value = arg.partition("=")
        if name not in ("--lab", "--user") + ROOM_ARGS:
            raise UsageError(f"lab token does not know the argument {arg!r}", USAGE)
        if not has_value:
            if not args:
                raise UsageError(f"{name} needs a value", USAGE)
            value = args.pop(0)
        values[name] = value
    if "--issuer" in values:
        return _room_options(values, flags["--raw"], flags["--refresh"])
    for name in ("--lab", "--user"):
        if not values.get(name):
            raise UsageError(f"lab token needs {name}", USAGE)
    for name, value in values.items():
        if "/" in value or value.startswith("."):
            raise UsageError(f"{name} {value!r} is not a valid name", "names have no slash and do not start with a dot")
    return Options(values["--lab"], values["--user"], flags["--raw"], flags["--refresh"])


def _room_options(values: dict[str, str], raw: bool, refresh: bool) -> Options:
    from .standalone import FLOWS, RoomUser

    for name in ("--issuer", "--client-id", "--login"):
        if not values.get(name):
            raise UsageError(f"lab token --issuer needs {name}", USAGE)
    if not values["--issuer"].startswith("https://"):
        raise UsageError(f"--issuer {values['--issuer']!r} is not an https URL", "copy the handout kubeconfig again")
    flow = values.get("--flow", "password")
    if flow not in FLOWS:
        raise UsageError(f"--flow {flow!r} is not one of {', '.join(FLOWS)}", USAGE)
    user = RoomUser(values["--issuer"], values["--client-id"], values["--login"], flow,
                    issuer_address=values.get("--issuer-address") or None)
    if "--redirect-ports" in values:
        ports = values["--redirect-ports"].split(",")
        if not all(port.isdigit() and 1024 <= int(port) <= 65535 for port in ports):
            raise UsageError(f"--redirect-ports {values['--redirect-ports']!r} is not a list of ports such as 8000,18000",
                             "copy the handout kubeconfig again")
        user.redirect_ports = tuple(int(port) for port in ports)
    return Options("", user.login, raw, refresh, room=user)


def announced_api_version(exec_info: str | None) -> str:
    """The ExecCredential API version kubectl announced in KUBERNETES_EXEC_INFO (default v1).

    kubectl's two versions are recognised as quoted strings without parsing the document, which
    would cost a `json` import on every cache hit; anything else is parsed properly.
    """
    if not exec_info:
        return EXEC_API_VERSION
    for known in KNOWN_API_VERSIONS:
        if f'"{known}"' in exec_info:
            return known
    import json

    try:
        announced = json.loads(exec_info).get("apiVersion")
    except (ValueError, AttributeError):
        announced = None
    return announced if isinstance(announced, str) and announced else EXEC_API_VERSION


def exec_credential(tokens: Tokens, exec_info: str | None) -> dict[str, Any]:
    """The ExecCredential for kubectl, in the API version kubectl announced (KUBERNETES_EXEC_INFO)."""
    return {
        "apiVersion": announced_api_version(exec_info),
        "kind": "ExecCredential",
        "status": {
            "token": tokens.id_token,
            "expirationTimestamp": tokens.expiration_timestamp,
        },
    }


def render_exec_credential(credential: dict[str, Any]) -> str:
    """The credential as JSON. A JWT and an API version need no escaping, so the common case is
    formatted directly; any other value goes through `json`."""
    status = credential["status"]
    values = (credential["apiVersion"], status["token"], status["expirationTimestamp"])
    if all(_JSON_SAFE.issuperset(value) for value in values):
        return ('{"apiVersion": "%s", "kind": "ExecCredential", "status": {"token": "%s", '
                '"expirationTimestamp": "%s"}}' % values)
    import json

    return json.dumps(credential)


def tokens_for(lab: str, user: str, root: str | None = None, refresh: bool = False,
               password_grant: bool = False) -> Tokens:
    """The user's tokens, from the cache or the IdP; `root` is the lab's folder if not the usual one.

    `password_grant`: sign in with the password whatever the user's flow (the lab's own checks),
    cached apart, so kubectl still shows the user the flow the lab teaches.
    """
    root = root or labfiles.lab_root(lab)
    cache = lab_cache(lab, user, root, subfolder=PASSWORD_GRANT_CACHE if password_grant else None)
    return get_token(cache, _connect(lab, user, root, "password" if password_grant else None), user,
                     use_cache=not refresh)


PASSWORD_GRANT_CACHE = "password-grant"


def room_tokens(user: Any, refresh: bool = False) -> Tokens:
    """An attendee's tokens: the kubeconfig names the issuer; the cache is theirs, per kubeconfig user."""
    from . import standalone

    return get_token(standalone.cache_for(user), lambda: standalone.connect(user), user.login, use_cache=not refresh)


def lab_cache(lab: str, user: str, root: str, subfolder: str | None = None) -> TokenCache:
    """The user's cache, valid only if written after the lab's credentials last changed."""
    credentials_file = labfiles.credentials_file(root)
    try:
        credentials = os.stat(credentials_file)
    except FileNotFoundError:
        raise CredentialError(
            f"lab {lab!r} is not set up (no {credentials_file})",
            f"run `lab up` for lab {lab!r}, or set OIDC_LAB_HOME to where the lab lives",
        ) from None
    folder = labfiles.tokens_dir(root)
    if subfolder:
        folder = os.path.join(folder, subfolder)
    return TokenCache(folder, user, not_before_ns=credentials.st_mtime_ns)


def _connect(lab: str, user: str, root: str, flow: str | None = None) -> Callable[[], HttpTokenClient]:
    def connect() -> HttpTokenClient:
        from .client import for_user  # urllib, ssl and the lab's secrets: only on a cache miss

        return for_user(lab, user, root, flow)

    return connect


def run(argv: list[str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """The whole command: prints the credential, or `error:` and `hint:` lines; returns the exit code."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        options = parse_args(argv)
        if options is None:
            stdout.write(HELP)
            return 0
        if options.room is not None:
            tokens = room_tokens(options.room, options.refresh)
        else:
            tokens = tokens_for(options.lab, options.user, refresh=options.refresh)
    except OSError as failure:  # the lab's folder is unreadable or its token cache unwritable
        failure = CredentialError(
            f"cannot use the token cache of {f'lab {options.lab!r}' if options.lab else 'this user'}: "
            f"{failure.strerror} ({failure.filename})",
            "check that the lab's folder belongs to you and is writable (`lab status` shows where it is)",
        )
        stderr.write(f"error: {failure.message}\nhint: {failure.hint}\n")
        return failure.exit_code
    except CredentialError as failure:
        stderr.write(f"error: {failure.message}\n")
        if failure.hint:
            stderr.write(f"hint: {failure.hint}\n")
        return failure.exit_code
    if options.raw:
        stdout.write(tokens.id_token + "\n")
    else:
        stdout.write(render_exec_credential(exec_credential(tokens, os.environ.get("KUBERNETES_EXEC_INFO"))) + "\n")
    stdout.flush()
    return 0

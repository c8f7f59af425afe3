"""Kubeconfig users for people who already run kubelogin (`kubeconfig.plugin: kubelogin`).

The user runs `kubectl oidc-login get-token` (int128/kubelogin, flags as its docs/usage.md lists
them) with the lab's issuer, client id, CA and the grant of the user's flow. No secret goes into
the arguments: kubelogin signs in as a public client (the built-in issuer requires PKCE, which
kubelogin picks from discovery), and in password mode it asks for the password itself.
"""

from __future__ import annotations

from .oidc.flows import BROWSER, DEVICE, PASSWORD

GRANT_TYPES = {BROWSER: "authcode", DEVICE: "device-code", PASSWORD: "password"}
INSTALL_HINT = ("kubelogin runs as `kubectl oidc-login`: install it with `kubectl krew install oidc-login` "
                "or from https://github.com/int128/kubelogin/releases")


def get_token_args(issuer: str, client_id: str, flow: str, ca_file: str | None, redirect_ports: list[int],
                   login: str, scope: str) -> list[str]:
    """The `kubectl` arguments of a kubelogin user signing in with `flow`."""
    args = ["oidc-login", "get-token", f"--oidc-issuer-url={issuer}", f"--oidc-client-id={client_id}",
            f"--grant-type={GRANT_TYPES[flow]}"]
    args += [f"--oidc-extra-scope={s}" for s in scope.split() if s != "openid"]
    if ca_file:
        args.append(f"--certificate-authority={ca_file}")
    if flow == BROWSER:
        args += [f"--listen-address=127.0.0.1:{port}" for port in redirect_ports]
    if flow == PASSWORD:
        args.append(f"--username={login}")  # kubelogin prompts for the password: it never sits in the kubeconfig
    return args

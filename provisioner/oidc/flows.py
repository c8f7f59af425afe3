"""Sign-in flows: which grant a lab user signs in with, and the loopback redirect URIs it needs.

`password` is the resource owner password grant (the recipes' way; OAuth 2.1 drops it);
`browser` is the authorization code flow with PKCE and a redirect to a listener on this machine
(RFC 8252 section 7.3, what kubelogin does by default); `device` is the device authorization
grant (RFC 8628) for machines without a browser. The IdP must know every redirect URI exactly,
so the lab registers a small fixed set: one per port, as `lab token` sends it (127.0.0.1, never
a name that might resolve to ::1) and as kubelogin sends it by default (localhost).
"""

from __future__ import annotations

PASSWORD, BROWSER, DEVICE = "password", "browser", "device"
AUTHORIZATION_CODE_GRANT = "authorization_code"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def loopback_redirect_uri(port: int) -> str:
    """The redirect URI `lab token` listens on for `port`."""
    return f"http://127.0.0.1:{port}"


def redirect_uris(ports: list[int] | tuple[int, ...]) -> list[str]:
    """Every redirect URI the IdP must accept for these ports: `lab token`'s and kubelogin's."""
    return [uri for port in ports for uri in (loopback_redirect_uri(port), f"http://localhost:{port}")]


def grants_for(flows: set[str]) -> list[str]:
    """The OAuth grant types a client needs for these flows (refresh is always on)."""
    grants = []
    if PASSWORD in flows:
        grants.append("password")
    if BROWSER in flows:
        grants.append(AUTHORIZATION_CODE_GRANT)
    if DEVICE in flows:
        grants.append(DEVICE_CODE_GRANT)
    return grants + ["refresh_token"]


def attendee_flow(lab, user) -> str:  # type: ignore[no-untyped-def]  # a LabConfig and a UserSpec
    """How `user` signs in from a kubeconfig handed out (a room's handout, the self-service page's
    download): the flow the lab chose, except where the password grant needs the client secret,
    which no handout carries: Auth0's always, the built-in issuer's outside a room (its client is
    public only for a room). There the person signs in in the browser (PKCE, no secret) instead."""
    flow = lab.flow_for(user)
    secret_bound = lab.provider == "auth0" or (lab.provider == "local" and getattr(lab, "room", None) is None)
    return BROWSER if flow == PASSWORD and secret_bound else flow


def lab_flows(lab) -> set[str]:  # type: ignore[no-untyped-def]  # a LabConfig; not imported, to stay light
    """Every flow the lab's users sign in with (on the instructor's machine and, in a room, from
    their handouts), and always the password grant: `lab up` and `lab doctor` check each user with
    it, whatever flow kubectl uses."""
    flows = {lab.flow_for(user) for user in lab.users} | {PASSWORD}
    if getattr(lab, "room", None) is not None:
        flows |= {attendee_flow(lab, user) for user in lab.users}
    return flows

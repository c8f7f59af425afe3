"""Casdoor judged as kube-apiserver will judge it, before minikube is restarted for it.

A restart costs minutes and a wrong issuer only shows up afterwards as a bare 401, so `lab up`
reads the issuer from Casdoor's discovery document (it must be https) and, before anything is
created, compares it with the `iss` of a client_credentials token of the admin application (the
same origin setting signs every token). After the users exist it asks for one real token with the
lab's application, through the same HTTP client `lab token` uses: its `iss` must equal the
discovered issuer character for character, its `aud` must hold the lab's client id, and it must
not be expired already (an application with expireInHours 0, or a Casdoor clock far behind).
"""

from __future__ import annotations

import time

from ...credential.client import HttpTokenClient
from ...credential.flow import GrantRefused
from ...errors import CredentialError, ProviderError
from ...oidc.rules import decode_unverified
from ...secrets import TokenClient
from .api import CasdoorApi

_ORIGIN_HINT = "set `origin` in Casdoor's conf/app.conf to the https URL it is reached by, and restart Casdoor"


def discover_issuer(api: CasdoorApi) -> str:
    """The issuer URL exactly as Casdoor's discovery document states it; it must be https."""
    issuer = str(api.discovery()["issuer"])
    if not issuer.startswith("https://"):
        raise ProviderError(
            f"Casdoor's discovery document names the issuer {issuer!r}, which is not https, "
            "and kube-apiserver accepts only https issuers",
            _ORIGIN_HINT,
        )
    return issuer


def check_issuer_before_changes(api: CasdoorApi, issuer: str) -> bool:
    """Compare the discovered issuer with the `iss` Casdoor writes into tokens, before any write.

    False when the admin application does not allow client_credentials: the check then waits for
    the lab's own token after the users exist.
    """
    document = api.admin_token()
    if document is None:
        return False
    try:
        _, claims = decode_unverified(str(document["access_token"]))
    except ValueError:
        return False
    _compare_issuers(claims.get("iss"), issuer)
    return True


def _compare_issuers(token_issuer: object, issuer: str) -> None:
    if token_issuer != issuer:
        raise ProviderError(
            f"Casdoor's tokens name the issuer {token_issuer!r} but its discovery document says "
            f"{issuer!r}, so kube-apiserver would ignore every token",
            _ORIGIN_HINT,
        )


def check_token(client: TokenClient, handle: str, login: str, password: str, application: str,
                timeout: float) -> dict:
    """One password grant for user `handle`; returns the token's claims if the apiserver could accept it."""
    what = f"a token for user {handle}"
    try:
        token = HttpTokenClient(client, login, password, timeout=timeout).sign_in().get("id_token")
    except GrantRefused as refused:
        reason = refused.description or refused.error
        raise ProviderError(f"Casdoor refused {what} with the lab's application: {reason}", _grant_hint(reason)) from None
    except CredentialError as failure:
        raise ProviderError(failure.message, failure.hint) from None
    try:
        _, claims = decode_unverified(token or "")
    except ValueError:
        raise ProviderError(f"Casdoor answered the request for {what} without a JWT id_token",
                            f"set the token format of application {application!r} to JWT in Casdoor") from None
    _compare_issuers(claims.get("iss"), client.issuer)
    audience = claims.get("aud")
    if client.client_id not in (audience if isinstance(audience, list) else [audience]):
        raise ProviderError(
            f"Casdoor's token for user {handle} is for {audience!r}, not the lab's client id {client.client_id!r}",
            f"check that the clientId of application {application!r} was not changed by hand in Casdoor",
        )
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, (int, float)) or expires <= time.time():
        raise ProviderError(
            f"Casdoor issued a token for user {handle} that is already expired",
            f"give application {application!r} an expireInHours above 0 (casdoor.expire_in_hours), "
            "and check that Casdoor's clock is right",
        )
    return claims


def _grant_hint(reason: str) -> str:
    lowered = reason.lower()
    if "grant_type" in lowered:
        return "allow the password and refresh_token grants in the application (lab up sets them on applications it makes)"
    if "application" in lowered and "not found" in lowered:
        return "the organization has no application for its users; run `lab up` again to create it"
    if "user does not exist" in lowered or "password" in lowered:
        return "the user or its password changed in Casdoor; run `lab down` and `lab up` to recreate the lab's users"
    if "client_id" in lowered:
        return "the lab's application is gone from Casdoor; run `lab up` again to recreate it"
    return "fix the cause in Casdoor, then run `lab up` again"

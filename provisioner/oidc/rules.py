"""The kube-apiserver's view of an id_token, so the tool can say exactly why a token is refused.

The apiserver answers a bad token with a bare 401 and keeps the reason in its log (or, for a token
it skips, nowhere); these checks follow its code so `lab up` and `lab doctor` can name the reason.
Sources, as vendored by kube-apiserver (go-oidc v2.3 API, go-jose v2.6):
- k8s.io/apiserver/plugin/pkg/authenticator/token/oidc/oidc.go: `AuthenticateToken`,
  `hasCorrectIssuer`/`untrustedIssuer`, `getUsername`, `getGroups` (`stringOrArray`), the
  required-claims loop, `claims.unmarshalClaim`;
- github.com/coreos/go-oidc verify.go `IDTokenVerifier.Verify` and oidc.go (`idToken`,
  `audience`, `jsonTime`, `NewProvider`); jwks.go `remoteKeySet.verify`;
- gopkg.in/square/go-jose.v2 jws.go `parseSignedCompact` (base64.RawURLEncoding, no padding).
Signatures are not checked here: that needs the issuer's keys, which `lab doctor` fetches. A token
without `kid` is tried against every key (go-oidc `remoteKeySet.verify`); `typ`, `azp` and extra
`aud` entries are never looked at (go-oidc `Verify` checks only that `aud` contains the client id).
"""

from __future__ import annotations

import base64
import json
import re
import string
import time
from typing import Any

from .settings import OidcSettings

#: go-oidc `Verify`: "nbf" may be up to a minute in the future (clock skew); `exp` has no leeway.
NBF_LEEWAY_SECONDS = 60
#: oidc.go `AuthenticateToken` returns (nil, false, nil) for these, so bearertoken.go answers with its
#: default error: a plain 401, and the log names no reason.
SKIPPED = 'the apiserver skips such a token: a plain 401, and its log says only "invalid bearer token"'


_BASE64URL = frozenset(string.ascii_letters + string.digits + "-_")
_JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_GOOGLE_LEGACY_ISS = "accounts.google.com"  # oidc.go `untrustedIssuer` reads it as https://accounts.google.com


def decode_unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JOSE header and claims of a JWT, without checking its signature (ValueError if not a JWT)."""
    from .jwt import unverified

    return unverified(token)


# Go's decoders, as the apiserver applies them ---------------------------------------------------
def _raw_base64url(segment: str) -> bytes:
    """base64.RawURLEncoding.DecodeString: the URL alphabet, no '=' padding (newlines are skipped)."""
    text = segment.replace("\r", "").replace("\n", "")
    for index, char in enumerate(text):
        if char not in _BASE64URL:
            raise ValueError(f"illegal base64 data at input byte {index}")
    if len(text) % 4 == 1:
        raise ValueError("illegal base64 data: no base64 text has this length")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # Python would accept NaN/Infinity; Go's encoding/json does not


def _json(data: bytes) -> Any:
    return json.loads(data, parse_constant=_reject_constant)


def _kind(value: Any) -> str:
    """The JSON type name Go's encoding/json uses in its "cannot unmarshal X" errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _unix_time(value: Any) -> int | None:
    """go-oidc `jsonTime`: a JSON number, or a string holding one (json.Number); else None (unparsable)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        if not _JSON_NUMBER.fullmatch(value):
            return None
        value = int(value) if re.fullmatch(r"-?[0-9]+", value) else float(value)
    if isinstance(value, float):
        return int(value)  # Go's int64(f) truncates toward zero, as int() does
    return value if isinstance(value, int) else None


def _claims_problem(claims: dict[str, Any]) -> str | None:
    """What makes go-oidc's `json.Unmarshal(payload, &idToken)` fail ("oidc: failed to unmarshal claims")."""
    for name in ("iss", "sub", "nonce", "at_hash"):
        if claims.get(name) is not None and not isinstance(claims[name], str):
            return f"its {name} claim is a {_kind(claims[name])}, not a string"
    audience = claims.get("aud")  # `audience`: a string or a list of strings (null reads as "")
    if audience is not None and not isinstance(audience, str):
        if not isinstance(audience, list) or not all(a is None or isinstance(a, str) for a in audience):
            return f"its aud claim is a {_kind(audience)}, not a string or a list of strings"
    for name in ("exp", "iat", "nbf"):  # `jsonTime`; only nbf is a pointer, so only nbf may be null
        if name in claims and not (name == "nbf" and claims[name] is None) and _unix_time(claims[name]) is None:
            return f"its {name} claim ({json.dumps(claims[name])}) is not a number of seconds"
    return None


def _parse_error(what: str, claim: str, value: Any, wanted: str) -> str:
    return f"its {claim!r} claim is a {_kind(value)}, not {wanted}, so the apiserver cannot parse it ({what})"


# the rules ---------------------------------------------------------------------------------------
def _skip_reason(token: str, settings: OidcSettings) -> tuple[str | None, dict[str, Any] | None]:
    """oidc.go `hasCorrectIssuer`: why the authenticator would not even look at `token`, and its claims."""
    if token.strip().startswith("{"):
        return f"the token is JSON, not a compact JWT; {SKIPPED}", None
    parts = token.split(".")
    if len(parts) != 3:
        return "the token is not a JWT", None
    try:
        claims = _json(_raw_base64url(parts[1]))
    except ValueError as exc:  # binascii.Error and JSONDecodeError are ValueErrors
        return f"its payload is not unpadded base64url JSON ({exc}); {SKIPPED}", None
    if not isinstance(claims, dict):
        return f"its payload is a JSON {_kind(claims)}, not an object; {SKIPPED}", None
    issuer = claims.get("iss")
    if issuer is not None and not isinstance(issuer, str):
        return f"its iss claim is a {_kind(issuer)}, not a string; {SKIPPED}", claims
    issuer = "https://accounts.google.com" if issuer == _GOOGLE_LEGACY_ISS else (issuer or "")
    if issuer != settings.issuer_url:
        return (f"its iss {claims.get('iss')!r} is not the configured issuer {settings.issuer_url!r} "
                f"(they must match character for character, trailing slash included); {SKIPPED}"), claims
    return None, claims


def refusal_reasons(token: str, settings: OidcSettings, now: float | None = None) -> list[str]:
    """Why the apiserver would refuse `token` under `settings` (empty if it would accept it).

    Reasons come in the order the apiserver meets them, so the first is the one it acts on; a
    token it skips (unreadable payload, another `iss`) gets a reason that says so.
    """
    skipped, claims = _skip_reason(token, settings)
    if claims is None:
        return [skipped] if skipped else ["the token is not a JWT"]
    now = time.time() if now is None else now
    reasons = [skipped] if skipped else []
    header: Any = None
    for name, segment in (("header", token.split(".")[0]), ("signature", token.split(".")[2])):
        try:  # go-jose v2 `parseSignedCompact` decodes every segment strictly
            decoded = _raw_base64url(segment)
            if name == "header":
                header = _json(decoded)
        except ValueError as exc:
            reasons.append(f"its {name} segment is not unpadded base64url{' JSON' if name == 'header' else ''} "
                           f"(oidc: malformed jwt: {exc})")
    if header is not None and not isinstance(header, dict):
        reasons.append(f"its header is a JSON {_kind(header)}, not an object (oidc: malformed jwt)")
        header = None
    problem = _claims_problem(claims)
    if problem:
        return reasons + [f"{problem}, so the apiserver cannot read the token (oidc: failed to unmarshal claims)"]
    reasons += _verifier_reasons(header, claims, settings, now)
    if settings.username_expression:  # the structured file's mapping replaces the claim rules
        from .structured import structured_reasons

        return reasons + structured_reasons(claims, settings)
    reasons += _claim_mapping_reasons(claims, settings)
    if settings.claim_validation_rules or settings.user_validation_rules or settings.groups_expression:
        from .structured import structured_reasons

        reasons += structured_reasons(claims, settings)
    return reasons


def _verifier_reasons(header: dict[str, Any] | None, claims: dict[str, Any], settings: OidcSettings,
                      now: float) -> list[str]:
    """go-oidc `IDTokenVerifier.Verify`, after the issuer: audience, expiry, nbf, algorithm."""
    reasons = []
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else [a or "" for a in audiences or []]
    if settings.client_id not in audiences:
        reasons.append(f"its aud {audiences} does not contain the client id {settings.client_id!r}")
    if "exp" not in claims:
        reasons.append("it has no exp claim (the apiserver reads that as expired)")
    elif _unix_time(claims["exp"]) < now:  # `t.Expiry.Before(now)`: no leeway
        reasons.append("it has expired")
    nbf = _unix_time(claims.get("nbf"))
    if nbf is not None and now + NBF_LEEWAY_SECONDS < nbf:
        reasons.append(f"its nbf is {nbf - now:.0f} s in the future, beyond the apiserver's "
                       f"{NBF_LEEWAY_SECONDS} s leeway (check the clocks)")
    if header is not None and header.get("alg") not in settings.signing_algs:
        reasons.append(f"it is signed with {header.get('alg')}, but the apiserver accepts only "
                       f"{', '.join(settings.signing_algs)}")
    return reasons


def _claim_mapping_reasons(claims: dict[str, Any], settings: OidcSettings) -> list[str]:
    """oidc.go `getUsername`, `getGroups` and the required-claims loop of `AuthenticateToken`."""
    reasons = []
    claim = settings.username_claim
    username = claims.get(claim)
    if claim not in claims:
        reasons.append(f"it has no {claim!r} claim, the configured username claim")
    elif username is not None and not isinstance(username, str):
        reasons.append(_parse_error(f"oidc: parse username claims {claim!r}", claim, username, "a string"))
    else:
        if username is None:  # Go unmarshals null into "" without complaint
            reasons.append(f"its {claim!r} claim is null, which the apiserver reads as an empty username")
        verified = claims.get("email_verified", True)
        if claim == "email" and "email_verified" in claims:
            if verified is not None and not isinstance(verified, bool):
                reasons.append(_parse_error("oidc: parse 'email_verified' claim", "email_verified", verified,
                                            "a JSON boolean"))
            elif not verified:  # null unmarshals into false
                reasons.append("oidc: email not verified (its email_verified claim is "
                               f"{'null' if verified is None else 'false'})")
    groups_claim = settings.groups_claim
    if groups_claim and claims.get(groups_claim) is not None:
        groups = claims[groups_claim]
        if not isinstance(groups, str) and not (
                isinstance(groups, list) and all(g is None or isinstance(g, str) for g in groups)):
            reasons.append(_parse_error(f"oidc: parse groups claim {groups_claim!r}", groups_claim, groups,
                                        "a string or a list of strings"))
    for name, wanted in settings.required_claims:
        if name not in claims:
            reasons.append(f"the required claim {name}={wanted} is missing")
        elif claims[name] is not None and not isinstance(claims[name], str):
            reasons.append(_parse_error(f"oidc: parse claim {name}", name, claims[name], "a string"))
        elif (claims[name] or "") != wanted:
            reasons.append(f"the required claim {name} is {claims[name] or ''!r}, not {wanted!r}")
    return reasons


def discovery_problem(document: Any, settings: OidcSettings) -> str | None:
    """Why the apiserver's authenticator would never initialise with this discovery document.

    go-oidc `NewProvider` refuses a document whose `issuer` is not the configured URL exactly; the
    apiserver then retries every 10 s and answers every token "oidc: authenticator not initialized".
    """
    if not isinstance(document, dict):
        return f"the discovery document is a JSON {_kind(document)}, not an object"
    stated = document.get("issuer")
    if stated is not None and not isinstance(stated, str):
        return f"the discovery document's issuer is a {_kind(stated)}, not a string"
    if (stated or "") != settings.issuer_url:
        return (f"discovery states issuer {stated!r}, not the configured {settings.issuer_url!r}, so the "
                "apiserver's OIDC authenticator never initialises (oidc: issuer did not match the issuer "
                "returned by provider) and refuses every token")
    if not document.get("jwks_uri"):
        return "the discovery document has no jwks_uri, so the apiserver can fetch no key to check a signature"
    return None
